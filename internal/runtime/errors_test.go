package runtime

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	engine := errors.New("No such image: x")
	err := fmt.Errorf("task abc: %w", Errorf(ErrImageNotFound, "create container", "web", engine))
	for _, target := range []error{ErrImageNotFound, ErrNotFound, engine} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	if errors.Is(err, ErrConflict) {
		t.Error("image not found is a conflict")
	}
	if errors.Is(Errorf(ErrNotFound, "inspect container", "x", nil), ErrImageNotFound) {
		t.Error("a plain not found is an image not found")
	}
	if got := ClassOf(err); got != ErrImageNotFound {
		t.Errorf("ClassOf = %v", got)
	}
	if got := ClassOf(errors.New("x")); got != nil {
		t.Errorf("ClassOf(unclassified) = %v", got)
	}
	if got, want := err.Error(), "task abc: create container web: image not found: No such image: x"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}
	timeout := Errorf(ErrUnavailable, "start container", "x", context.DeadlineExceeded)
	if !errors.Is(timeout, context.DeadlineExceeded) || !errors.Is(timeout, ErrUnavailable) {
		t.Errorf("%v loses its cause or class", timeout)
	}
}

func TestEnumsRoundTrip(t *testing.T) {
	t.Parallel()
	for s := StateUnknown; s <= StateDead; s++ {
		if ParseContainerState(s.String()) != s {
			t.Errorf("state %d does not round-trip through %q", s, s)
		}
	}
	for h := HealthNone; h <= HealthUnhealthy; h++ {
		if ParseHealthStatus(h.String()) != h {
			t.Errorf("health %d does not round-trip through %q", h, h)
		}
	}
	if ParseContainerState("bogus") != StateUnknown || ContainerState(99).String() != "unknown" {
		t.Error("unknown states are not unknown")
	}
	if !StateExited.Stopped() || !StateDead.Stopped() || StateRunning.Stopped() {
		t.Error("Stopped is wrong")
	}
	if EventDied.String() != "die" || EventType(99).String() != "other" {
		t.Error("event names are wrong")
	}
}
