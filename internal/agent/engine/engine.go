package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/taskdef"
)

// Config is what an Engine needs.
type Config struct {
	Runtime runtime.Runtime
	// Env builds container specs (labels, injected variables, networks).
	Env          Env
	DataDir      string // "" keeps state in memory only (tests)
	PullBehavior config.PullBehavior
	CleanupWait  time.Duration
	LogDrivers   []string
	Reporter     Reporter
	// Health, when set, is called with a task's health when it changes.
	Health func(agentproto.HealthReport)
	Logger *slog.Logger
}

// Engine runs the tasks of one agent.
type Engine struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	runners map[string]*runner // by task ARN
	byID    map[string]*runner // by container runtime id
	byToken map[string]*runner // by metadata token
	ctx     context.Context    // Run's, for runners started by Apply
	pending []agentproto.TaskSpec
	early   bool // Apply was called before Run
	swept   bool // orphans were swept after the first payload
	wg      sync.WaitGroup
	// restored is closed once Run has loaded the saved tasks, so the
	// metadata endpoint never answers 404 for a task it is about to restore.
	restored chan struct{}
}

// Event-stream and resync timing.
const (
	// eventRetry is the pause before re-subscribing to runtime events after
	// the stream failed.
	eventRetry = time.Second
	// resyncInterval bounds how long a missed event can go unnoticed: every
	// task re-inspects its containers this often.
	resyncInterval = 30 * time.Second
)

// New makes an engine; Run starts it.
func New(cfg Config) *Engine {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PullBehavior == "" {
		cfg.PullBehavior = config.PullDefault
	}
	if cfg.Env.StopTimeout == 0 {
		cfg.Env.StopTimeout = config.DefaultStopTimeout
	}
	if cfg.LogDrivers == nil {
		cfg.LogDrivers = config.DefaultLoggingDrivers
	}
	return &Engine{cfg: cfg, log: cfg.Logger, runners: map[string]*runner{}, byID: map[string]*runner{}, byToken: map[string]*runner{}, restored: make(chan struct{})}
}

// Run restores the saved tasks, re-adopts their containers and runs until
// ctx ends. Tasks keep running in Docker when it returns.
func (e *Engine) Run(ctx context.Context) error {
	saved, err := e.load()
	if err != nil {
		close(e.restored)
		return err
	}
	events, evErrs := e.cfg.Runtime.Events(ctx, e.filter())
	e.mu.Lock()
	e.ctx = ctx
	for _, t := range saved {
		e.startLocked(ctx, t)
	}
	if e.early {
		e.applyLocked(e.pending)
		e.pending, e.early = nil, false
	}
	e.mu.Unlock()
	close(e.restored)
	if len(saved) > 0 {
		e.log.Info("restored tasks", "count", len(saved))
	}
	resync := time.NewTicker(resyncInterval)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			e.wg.Wait()
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			e.dispatch(ev)
		case err := <-evErrs:
			if ctx.Err() != nil {
				continue
			}
			e.log.Warn("runtime event stream failed; re-subscribing", "err", err)
			select {
			case <-ctx.Done():
				continue
			case <-time.After(eventRetry):
			}
			events, evErrs = e.cfg.Runtime.Events(ctx, e.filter())
			e.pokeAll() // events may have been missed: every task re-inspects
		case <-resync.C:
			e.pokeAll()
		}
	}
}

// Restored is closed once Run has restored the tasks saved by an earlier run.
func (e *Engine) Restored() <-chan struct{} { return e.restored }

func (e *Engine) filter() runtime.Filter {
	return runtime.Filter{Labels: map[string]string{LabelAgent: e.cfg.Env.AgentID}}
}

func (e *Engine) dispatch(ev runtime.Event) {
	e.mu.Lock()
	r := e.byID[ev.ContainerID]
	if r == nil {
		r = e.runners[ev.Labels[LabelTaskARN]]
	}
	e.mu.Unlock()
	if r != nil {
		r.event(ev)
	}
}

func (e *Engine) pokeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.runners {
		r.resync()
	}
}

// ResendHealth makes every task send its health again (after the link
// reconnected, the control plane may have missed changes).
func (e *Engine) ResendHealth() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.runners {
		r.resendHealth()
	}
}

// Apply makes the desired task set of the instance the payload's: new tasks
// start, changed ones get their new desired status, and running tasks that
// are missing from it stop (the payload is complete, level-triggered).
func (e *Engine) Apply(specs []agentproto.TaskSpec) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil {
		// Run has not restored the saved tasks yet; it applies this then.
		e.pending, e.early = specs, true
		return
	}
	e.applyLocked(specs)
}

func (e *Engine) applyLocked(specs []agentproto.TaskSpec) {
	want := map[string]bool{}
	for _, s := range specs {
		want[s.TaskARN] = true
		if r, ok := e.runners[s.TaskARN]; ok {
			r.update(s)
			continue
		}
		e.startLocked(e.ctx, e.newTask(s))
	}
	for arn, r := range e.runners {
		if !want[arn] {
			r.stopUnlisted()
		}
	}
	if !e.swept {
		e.swept = true
		ctx := e.ctx
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.sweepOrphans(ctx)
		}()
	}
}

// sweepOrphans stops and removes this agent's containers whose task it no
// longer knows (its saved state was lost) and that the first payload did
// not claim: no task runs without the control plane knowing it.
func (e *Engine) sweepOrphans(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	list, err := e.cfg.Runtime.ListContainers(lctx, e.filter())
	cancel()
	if err != nil {
		e.log.Warn("listing containers for orphans failed", "err", err)
		return
	}
	for _, c := range list {
		arn := c.Labels[LabelTaskARN]
		e.mu.Lock()
		_, known := e.runners[arn]
		e.mu.Unlock()
		if known || arn == "" {
			continue
		}
		e.log.Info("removing an orphaned container", "task", arn, "container", c.Name)
		sctx, cancel := context.WithTimeout(ctx, e.cfg.Env.StopTimeout+stopGrace)
		_ = e.cfg.Runtime.StopContainer(sctx, c.ID, e.cfg.Env.StopTimeout)
		err := e.cfg.Runtime.RemoveContainer(sctx, c.ID, runtime.RemoveOptions{Force: true, RemoveVolumes: true})
		cancel()
		if err != nil && !errors.Is(err, runtime.ErrNotFound) {
			e.log.Warn("removing an orphaned container failed", "container", c.Name, "err", err)
		}
	}
}

// newTask builds a task and fails it at once when it asks for something the
// agent cannot do.
func (e *Engine) newTask(s agentproto.TaskSpec) *Task {
	t := NewTask(s)
	if problems := taskdef.Unsupported(s.Definition, s.Overrides, e.cfg.LogDrivers); len(problems) > 0 && t.Desired == TaskRunning {
		reason := "UnsupportedFeatureError: " + joinProblems(problems)
		t.Desired, t.StopCode, t.StoppedReason = TaskStopped, StopTaskFailedToStart, reason
		for _, c := range t.Containers {
			c.Desired, c.Reason = ContainerStopped, reason
		}
	}
	return t
}

func joinProblems(p []string) string {
	s := ""
	for i, x := range p {
		if i > 0 {
			s += "; "
		}
		s += x
	}
	return s
}

func (e *Engine) startLocked(ctx context.Context, t *Task) {
	r := newRunner(e, t)
	e.runners[t.ARN] = r
	for _, c := range t.Containers {
		if c.RuntimeID != "" {
			e.byID[c.RuntimeID] = r
		}
		if c.MetadataToken != "" {
			e.byToken[c.MetadataToken] = r
		}
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		r.run(ctx)
	}()
}

// track records a new container id of r's task (for event dispatch).
func (e *Engine) track(r *runner, id string) {
	e.mu.Lock()
	e.byID[id] = r
	e.mu.Unlock()
}

// done removes a cleaned-up task.
func (e *Engine) done(r *runner, t *Task) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.runners[t.ARN] == r {
		delete(e.runners, t.ARN)
	}
	for _, c := range t.Containers {
		delete(e.byID, c.RuntimeID)
		delete(e.byToken, c.MetadataToken)
	}
}

// Tasks returns a snapshot of every task the engine holds, sorted by ARN.
func (e *Engine) Tasks() []*Task {
	e.mu.Lock()
	rs := make([]*runner, 0, len(e.runners))
	for _, r := range e.runners {
		rs = append(rs, r)
	}
	e.mu.Unlock()
	var out []*Task
	for _, r := range rs {
		if t := r.snapshot(); t != nil {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *Task) int {
		if a.ARN < b.ARN {
			return -1
		}
		return 1
	})
	return out
}

// ByToken returns a snapshot of the task holding the container whose
// metadata token is token, and that container's name.
func (e *Engine) ByToken(token string) (*Task, string, bool) {
	e.mu.Lock()
	r := e.byToken[token]
	e.mu.Unlock()
	if r == nil {
		return nil, "", false
	}
	t := r.snapshot()
	if t == nil {
		return nil, "", false
	}
	for _, c := range t.Containers {
		if c.MetadataToken == token {
			return t, c.Name, true
		}
	}
	return nil, "", false
}

// Runtime is the engine's runtime (the metadata endpoint reads stats).
func (e *Engine) Runtime() runtime.Runtime { return e.cfg.Runtime }

// Task returns a snapshot of one task.
func (e *Engine) Task(arn string) (*Task, bool) {
	e.mu.Lock()
	r := e.runners[arn]
	e.mu.Unlock()
	if r == nil {
		return nil, false
	}
	t := r.snapshot()
	return t, t != nil
}

// errorName classifies a runtime error the way the ECS agent names them.
func errorName(op string, err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("DockerTimeoutError: Could not %s; timed out: %v", op, err)
	}
	return err.Error()
}
