package docker

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/berth-dev/berth/internal/runtime"
)

// Events streams container events with the filter's labels. The stream has
// no timeout: it lives as long as ctx. After an error the event channel is
// closed; the caller re-lists and subscribes again.
func (r *Runtime) Events(ctx context.Context, f runtime.Filter) (<-chan runtime.Event, <-chan error) {
	args := labelFilter(f)
	args.Add("type", string(events.ContainerEventType))
	msgs, errs := r.cli.Events(ctx, events.ListOptions{Filters: args})
	out := make(chan runtime.Event, 64)
	outErr := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case m := <-msgs:
				ev, ok := toEvent(m)
				if !ok {
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					outErr <- ctx.Err()
					return
				}
			case err := <-errs:
				outErr <- classify("container events", "", err)
				return
			case <-ctx.Done():
				outErr <- ctx.Err()
				return
			}
		}
	}()
	return out, outErr
}

// eventAttrs are the attributes Docker adds to a container's labels in an
// event's actor.
var eventAttrs = map[string]bool{"image": true, "name": true, "exitCode": true, "signal": true, "execID": true}

func toEvent(m events.Message) (runtime.Event, bool) {
	if m.Type != events.ContainerEventType {
		return runtime.Event{}, false
	}
	action := string(m.Action)
	ev := runtime.Event{
		ContainerID: m.Actor.ID,
		Name:        m.Actor.Attributes["name"],
		Image:       m.Actor.Attributes["image"],
		Action:      action,
		Labels:      map[string]string{},
	}
	if m.TimeNano != 0 {
		ev.Time = time.Unix(0, m.TimeNano)
	} else {
		ev.Time = time.Unix(m.Time, 0)
	}
	for k, v := range m.Actor.Attributes {
		if !eventAttrs[k] {
			ev.Labels[k] = v
		}
	}
	switch {
	case action == "create":
		ev.Type = runtime.EventCreated
	case action == "start":
		ev.Type = runtime.EventStarted
	case action == "die":
		ev.Type = runtime.EventDied
		ev.ExitCode, _ = strconv.Atoi(m.Actor.Attributes["exitCode"])
	case action == "oom":
		ev.Type = runtime.EventOOM
	case action == "kill":
		ev.Type = runtime.EventKilled
		ev.Signal = m.Actor.Attributes["signal"]
	case action == "stop":
		ev.Type = runtime.EventStopped
	case action == "destroy":
		ev.Type = runtime.EventDestroyed
	case action == "pause":
		ev.Type = runtime.EventPaused
	case action == "unpause":
		ev.Type = runtime.EventUnpaused
	case strings.HasPrefix(action, "health_status"):
		// "health_status: healthy"; newer engines also send a bare
		// "health_status" running event with no status, which is not a change.
		_, status, ok := strings.Cut(action, ":")
		if !ok {
			return runtime.Event{}, false
		}
		ev.Type = runtime.EventHealth
		ev.Health = runtime.ParseHealthStatus(strings.TrimSpace(status))
	default:
		ev.Type = runtime.EventOther
	}
	return ev, true
}
