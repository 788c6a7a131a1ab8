// Package service is the service controller: on the elected leader only, it
// keeps every service's tasks as its spec asks (desired count, rolling
// deployments, circuit breaker, DAEMON placement, draining instances). It is
// level-triggered: each pass snapshots the services, their tasks and the
// instances from the ECS cache, asks the pure plan.Reconcile what to do,
// applies the stops and starts through the ECS server, and writes the
// service's status record guarded by the revision it read. A pass repeated
// after a crash or a lost leadership recomputes from the stored state, so
// no side effect is doubled: tasks carry their deployment id (startedBy) and
// group (service:<name>).
package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/berth-dev/berth/internal/ecs"
	"github.com/berth-dev/berth/internal/service/plan"
	"github.com/berth-dev/berth/internal/store"
)

// Config configures the controller.
type Config struct {
	ECS       *ecs.Server
	Store     *store.Store
	AccountID string
	Region    string
	Logger    *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Resync is the period of passes without changes (grace periods,
	// throttle delays, agents that stop answering); default 1s.
	Resync time.Duration
	// SessionTTL is the leader lease in seconds (default 5): a crashed
	// leader is replaced after at most this long.
	SessionTTL int
}

// Controller is a running service controller.
type Controller struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	leading bool
	memo    ecs.ServiceMemo // decoded tasks, reused across passes
}

// Start campaigns for leadership and runs the controller while leader, until
// Stop.
func Start(cfg Config) *Controller {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Resync <= 0 {
		cfg.Resync = time.Second
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 5
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Controller{cfg: cfg, log: cfg.Logger.With("component", "service-controller"), cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

// Stop stops the controller (resigning leadership) and waits for it.
func (c *Controller) Stop() {
	c.cancel()
	<-c.done
}

// Leading reports whether this controller is the leader now.
func (c *Controller) Leading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leading
}

func (c *Controller) setLeading(v bool) {
	c.mu.Lock()
	c.leading = v
	c.mu.Unlock()
}

// run campaigns, leads until the session or the context ends, and campaigns
// again.
func (c *Controller) run(ctx context.Context) {
	defer close(c.done)
	prefix := store.Key(c.cfg.AccountID, c.cfg.Region, "leader", "service-controller")
	for ctx.Err() == nil {
		sess, err := concurrency.NewSession(c.cfg.Store.Client(), concurrency.WithTTL(c.cfg.SessionTTL), concurrency.WithContext(ctx))
		if err != nil {
			c.log.Warn("opening an election session", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		el := concurrency.NewElection(sess, prefix)
		if err := el.Campaign(ctx, fmt.Sprint(sess.Lease())); err != nil {
			sess.Close()
			if ctx.Err() == nil {
				c.log.Warn("campaigning", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		lctx, lcancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-sess.Done(): // lease lost: another server may lead now
			case <-lctx.Done():
			}
			lcancel()
		}()
		c.setLeading(true)
		c.log.Info("leading")
		c.lead(lctx)
		c.setLeading(false)
		lcancel()
		rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = el.Resign(rctx)
		rcancel()
		sess.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// lead runs passes on every change and every Resync until ctx ends.
func (c *Controller) lead(ctx context.Context) {
	wake := make(chan struct{}, 1)
	cancel := c.cfg.ECS.OnChange(func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	defer cancel()
	tick := time.NewTicker(c.cfg.Resync)
	defer tick.Stop()
	for {
		c.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-wake:
			// Let a burst of changes (an agent's reports) land first.
			sleep(ctx, 10*time.Millisecond)
		case <-tick.C:
		}
	}
}

// pass reconciles every service once.
func (c *Controller) pass(ctx context.Context) {
	for _, st := range c.cfg.ECS.ServiceStates(&c.memo) {
		if ctx.Err() != nil {
			return
		}
		if err := c.reconcile(ctx, st); err != nil && ctx.Err() == nil {
			c.log.Warn("reconciling", "cluster", st.Input.Service.Cluster, "service", st.Input.Service.Name, "err", err)
		}
	}
}

// reconcile plans one service and applies the plan: stops, then starts,
// then the status (with events about what was done).
func (c *Controller) reconcile(ctx context.Context, st ecs.ServiceState) error {
	in := st.Input
	in.Now = c.cfg.Now().UTC().Truncate(time.Millisecond)
	svc := in.Service
	p := plan.Reconcile(in)
	status := p.Status
	var stopped []string
	for _, s := range p.Stop {
		if err := c.cfg.ECS.StopServiceTask(ctx, svc.Cluster, s.TaskID, s.Reason); err != nil {
			return fmt.Errorf("stopping task %s: %w", s.TaskID, err)
		}
		stopped = append(stopped, s.TaskID)
	}
	if len(stopped) > 0 {
		plan.AddEvent(&status, svc.Name, in.Now, fmt.Sprintf("(service %s) has stopped %d running tasks: %s.", svc.Name, len(stopped), taskList(stopped)))
	}
	for _, s := range p.Start {
		ids, failures, err := c.cfg.ECS.StartServiceTasks(ctx, svc.Cluster, svc.Name, s)
		if len(ids) > 0 {
			plan.AddEvent(&status, svc.Name, in.Now, fmt.Sprintf("(service %s) has started %d tasks: %s.", svc.Name, len(ids), taskList(ids)))
			status.Steady = false
		}
		if err != nil {
			plan.AddEvent(&status, svc.Name, in.Now, fmt.Sprintf("(service %s) failed to launch a task with (error %s).", svc.Name, err))
			c.log.Warn("starting tasks", "cluster", svc.Cluster, "service", svc.Name, "err", err)
			break
		}
		if len(ids) < s.Count {
			msg := fmt.Sprintf("(service %s) was unable to place a task because no container instance met all of its requirements.", svc.Name)
			if len(failures) > 0 {
				msg += " Reason: " + strings.Join(dedupe(failures), ", ") + "."
			}
			plan.AddEvent(&status, svc.Name, in.Now, msg)
		}
	}
	if !sameStatus(status, in.Status) {
		if _, err := c.cfg.ECS.PutServiceStatus(ctx, svc.Cluster, svc.Name, status, st.StatusRev); err != nil {
			return fmt.Errorf("writing the status: %w", err)
		}
	}
	if status.Inactive {
		return c.cfg.ECS.MarkServiceInactive(ctx, svc.Cluster, svc.Name)
	}
	return nil
}

func taskList(ids []string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "(task " + id + ")"
	}
	return strings.Join(parts, " ")
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func sameStatus(a, b plan.Status) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
