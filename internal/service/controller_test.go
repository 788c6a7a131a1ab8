package service_test

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/ecs"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// TestLeaderElection: of two controllers on one store exactly one leads;
// when it stops, the other takes over.
func TestLeaderElection(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := store.Open(ctx, store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv, err := ecs.New(ctx, ecs.Config{Store: st, AccountID: "000000000000", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := service.Config{ECS: srv, Store: st, AccountID: "000000000000", Region: "us-east-1", SessionTTL: 1}
	a, b := service.Start(cfg), service.Start(cfg)
	stopped := map[*service.Controller]bool{}
	t.Cleanup(func() {
		for _, c := range []*service.Controller{a, b} {
			if !stopped[c] {
				c.Stop()
			}
		}
	})
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("a leader", func() bool { return a.Leading() || b.Leading() })
	for range 20 {
		if a.Leading() && b.Leading() {
			t.Fatal("two leaders")
		}
		time.Sleep(5 * time.Millisecond)
	}
	leader, other := a, b
	if b.Leading() {
		leader, other = b, a
	}
	leader.Stop()
	stopped[leader] = true
	waitFor("the other to take over", other.Leading)
}
