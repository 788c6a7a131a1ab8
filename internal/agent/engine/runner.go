package engine

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/runtime"
)

// runner is the goroutine that owns one task. Other goroutines hand it specs
// and events through the inbox; only run touches the task.
type runner struct {
	e   *Engine
	log *slog.Logger

	mu       sync.Mutex
	task     *Task // owned by run after start; set here before
	spec     *agentproto.TaskSpec
	unlisted bool
	events   []runtime.Event
	resyncs  bool
	health   bool // resend health (the link reconnected)
	wake     chan struct{}

	snap atomic.Pointer[[]byte]
}

// Timing of a task goroutine.
const (
	// reportRetry is the first pause after a failed report; it doubles up
	// to reportRetryMax.
	reportRetry    = 500 * time.Millisecond
	reportRetryMax = 30 * time.Second
	// stopRetry is the pause before retrying a stop the runtime refused.
	stopRetry = 5 * time.Second
	// reportTimeout bounds one report call.
	reportTimeout = 10 * time.Second
)

func newRunner(e *Engine, t *Task) *runner {
	r := &runner{e: e, task: t, wake: make(chan struct{}, 1), resyncs: true,
		log: e.log.With("task", t.ARN)}
	if b, err := e.save(t); err == nil {
		r.snap.Store(&b)
	}
	return r
}

func (r *runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *runner) update(s agentproto.TaskSpec) {
	r.mu.Lock()
	r.spec, r.unlisted = &s, false
	r.mu.Unlock()
	r.poke()
}

func (r *runner) stopUnlisted() {
	r.mu.Lock()
	r.unlisted = true
	r.mu.Unlock()
	r.poke()
}

func (r *runner) event(ev runtime.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
	r.poke()
}

func (r *runner) resync() {
	r.mu.Lock()
	r.resyncs = true
	r.mu.Unlock()
	r.poke()
}

func (r *runner) resendHealth() {
	r.mu.Lock()
	r.health = true
	r.mu.Unlock()
	r.poke()
}

func (r *runner) snapshot() *Task {
	b := r.snap.Load()
	if b == nil {
		return nil
	}
	t, err := decodeTask(*b)
	if err != nil {
		return nil
	}
	return t
}

// reportResult is what a report goroutine hands back.
type reportResult struct {
	err  error
	sent sentMarks
}

// run is the task's goroutine: take inputs, decide with next, act, save,
// report, repeat; it ends when the task is cleaned up or ctx ends.
func (r *runner) run(ctx context.Context) {
	t := r.task
	var (
		reporting   bool
		reportDone  = make(chan reportResult, 1)
		retryReport time.Time
		backoff     = reportRetry
		retryAt     time.Time
		timer       = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	r.saveSnap(t)
	for {
		changed := r.takeInputs(ctx, t)
		d := next(t, time.Now())
		if d.Stop != nil {
			r.log.Info("stopping task", "code", d.Stop.Code, "reason", d.Stop.Reason)
			r.markStopping(t, d.Stop.Code, d.Stop.Reason)
			r.saveSnap(t)
			continue
		}
		if d.Known != t.Known {
			t.Known = d.Known
			if t.Known == TaskStopped && t.ExecutionStoppedAt.IsZero() {
				t.ExecutionStoppedAt = time.Now()
			}
			r.log.Info("task status", "known", t.Known)
			changed = true
		}
		if changed {
			r.saveSnap(t)
			r.sendHealth(t)
		}
		now := time.Now()
		if !reporting && !now.Before(retryReport) {
			if rep, ok := buildReport(t); ok {
				reporting = true
				go func() {
					rctx, cancel := context.WithTimeout(ctx, reportTimeout)
					defer cancel()
					reportDone <- reportResult{err: r.e.send(rctx, rep), sent: rep.marks}
				}()
			}
		}
		if len(d.Transitions) > 0 && (retryAt.IsZero() || !now.Before(retryAt)) {
			retryAt = time.Time{}
			if failed := r.perform(ctx, t, d.Transitions); failed {
				retryAt = time.Now().Add(stopRetry)
			}
			r.saveSnap(t)
			continue
		}
		// Nothing to do until an input, a report result or a timer.
		wakeAt := d.WakeAt
		wakeAt = earliest(wakeAt, retryAt)
		if !reporting {
			wakeAt = earliest(wakeAt, retryReport)
		}
		cleanupAt := time.Time{}
		if t.Known == TaskStopped && t.Sent == TaskStopped && !reporting {
			cleanupAt = t.ExecutionStoppedAt.Add(r.e.cfg.CleanupWait)
			if !time.Now().Before(cleanupAt) {
				r.cleanup(ctx, t)
				return
			}
			wakeAt = earliest(wakeAt, cleanupAt)
		}
		timer.Reset(untilOrHour(wakeAt))
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case res := <-reportDone:
			reporting = false
			if res.err != nil {
				r.log.Warn("reporting task state failed; will retry", "err", res.err, "retry_in", backoff)
				retryReport = time.Now().Add(backoff)
				backoff = min(backoff*2, reportRetryMax)
				continue
			}
			backoff, retryReport = reportRetry, time.Time{}
			res.sent.apply(t)
			r.saveSnap(t)
		case <-timer.C:
		}
	}
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero():
		return a
	case b.Before(a):
		return b
	}
	return a
}

func untilOrHour(at time.Time) time.Duration {
	if at.IsZero() {
		return time.Hour
	}
	return max(time.Until(at), time.Millisecond)
}

func (r *runner) saveSnap(t *Task) {
	b, err := r.e.save(t)
	if err != nil {
		r.log.Error("saving task state failed", "err", err)
	}
	if b != nil {
		r.snap.Store(&b)
	}
}

// takeInputs applies the spec, events and resync requests handed in since
// the last turn; it reports whether the task changed.
func (r *runner) takeInputs(ctx context.Context, t *Task) bool {
	r.mu.Lock()
	spec, unlisted, events, resync, health := r.spec, r.unlisted, r.events, r.resyncs, r.health
	r.spec, r.events, r.resyncs, r.health = nil, nil, false, false
	r.mu.Unlock()
	changed := false
	if health {
		t.SentHealth, changed = "", true
	}
	if spec != nil && spec.Version >= t.Spec.Version {
		desc := t.Spec.Definition
		// The new spec's Raw comes with it: saves write the spec as received
		// (its definition is the one kept here: a task's never changes).
		t.Spec = *spec
		t.Spec.Definition = desc // the definition of a task never changes
		if spec.DesiredStatus == "STOPPED" && t.Desired != TaskStopped {
			r.markStopping(t, "", spec.StoppedReason)
			changed = true
		}
	}
	if unlisted && t.Desired != TaskStopped {
		r.markStopping(t, "", "Task is no longer assigned to this container instance")
		changed = true
	}
	for _, ev := range events {
		if r.applyEvent(ctx, t, ev) {
			changed = true
		}
	}
	if resync && r.resyncAll(ctx, t) {
		changed = true
	}
	return changed
}

// markStopping sets the task's desired status to STOPPED (once).
func (r *runner) markStopping(t *Task, code, reason string) {
	if t.Desired != TaskStopped {
		t.Desired = TaskStopped
		if t.StopCode == "" {
			t.StopCode = code
		}
		if t.StoppedReason == "" {
			t.StoppedReason = reason
		}
	}
	for _, c := range t.Containers {
		c.Desired = ContainerStopped
	}
}

func (r *runner) applyEvent(ctx context.Context, t *Task, ev runtime.Event) bool {
	var c *Container
	for _, x := range t.Containers {
		if x.RuntimeID != "" && x.RuntimeID == ev.ContainerID {
			c = x
		}
	}
	if c == nil {
		return false
	}
	switch ev.Type {
	case runtime.EventDied:
		if c.Known == ContainerStopped {
			return false
		}
		return r.refresh(ctx, t, c)
	case runtime.EventHealth:
		h := healthName(ev.Health)
		if c.Health != h {
			c.Health = h
			return true
		}
	}
	return false
}

func healthName(h runtime.HealthStatus) string {
	switch h {
	case runtime.HealthHealthy:
		return HealthHealthy
	case runtime.HealthUnhealthy:
		return HealthUnhealthy
	}
	return HealthUnknown
}

// resyncAll re-inspects every created container, catching up on events
// missed while the agent was down or the event stream was broken.
func (r *runner) resyncAll(ctx context.Context, t *Task) bool {
	changed := false
	for _, c := range t.Containers {
		if c.RuntimeID == "" && c.Known < ContainerStopped && c.Known >= ContainerPulled {
			if r.adopt(ctx, t, c) {
				changed = true
			}
		}
		if c.RuntimeID != "" && c.Known < ContainerStopped {
			if r.refresh(ctx, t, c) {
				changed = true
			}
		}
	}
	return changed
}

// sendHealth tells the control plane about a changed task health.
func (r *runner) sendHealth(t *Task) {
	if r.e.cfg.Health == nil || t.Known != TaskRunning {
		return
	}
	h := t.Health()
	hasCheck := false
	for _, c := range t.Containers {
		if c.Def.HealthCheck != nil {
			hasCheck = true
		}
	}
	if !hasCheck {
		return
	}
	rep := agentproto.HealthReport{TaskARN: t.ARN, Task: h, Containers: map[string]string{}}
	sig := h
	for _, c := range t.Containers {
		if !c.Pause {
			rep.Containers[c.Name] = c.health()
			sig += "," + c.Name + "=" + c.health()
		}
	}
	if sig == t.SentHealth {
		return
	}
	t.SentHealth = sig
	r.e.cfg.Health(rep)
}
