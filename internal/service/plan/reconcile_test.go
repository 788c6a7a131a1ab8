package plan

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestArithmetic(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ desired, minPct, maxPct, minHealthy, maxTasks int }{
		{4, 50, 200, 2, 8},
		{2, 75, 200, 2, 4},  // ECS: "can't stop any tasks"
		{3, 100, 125, 3, 3}, // ECS: "can't start any tasks"
		{10, 100, 200, 10, 20},
		{3, 50, 150, 2, 4},
		{0, 100, 200, 0, 0},
	} {
		if got := MinHealthy(tc.desired, tc.minPct); got != tc.minHealthy {
			t.Errorf("MinHealthy(%d, %d) = %d, want %d", tc.desired, tc.minPct, got, tc.minHealthy)
		}
		if got := MaxTasks(tc.desired, tc.maxPct); got != tc.maxTasks {
			t.Errorf("MaxTasks(%d, %d) = %d, want %d", tc.desired, tc.maxPct, got, tc.maxTasks)
		}
	}
	for desired, want := range map[int]int{1: 3, 4: 3, 6: 3, 7: 4, 25: 13, 400: 200, 800: 200} {
		if got := Threshold(desired); got != want {
			t.Errorf("Threshold(%d) = %d, want %d", desired, got, want)
		}
	}
	if id := DeploymentID(time.Date(2026, 1, 1, 0, 0, 0, 5, time.UTC)); len(id) != len("ecs-svc/")+19 {
		t.Errorf("DeploymentID = %q, want 19 digits", id)
	}
}

// sim is a service and its tasks under random events.
type sim struct {
	t     *testing.T
	rng   *rand.Rand
	now   time.Time
	svc   Service
	st    Status
	tasks []Task
	insts []Instance
	seq   int
	hc    bool // tasks have health checks
}

func newSim(t *testing.T, seed uint64, desired, minPct, maxPct int, hc bool) *sim {
	s := &sim{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), hc: hc}
	s.svc = Service{Cluster: "c", Name: "web", Strategy: Replica, Status: "ACTIVE", DesiredCount: desired,
		DeploymentID: DeploymentID(s.now), TaskDefinition: "td:1", DeploymentCreatedAt: s.now,
		MinHealthyPercent: minPct, MaxPercent: maxPct}
	for i := range 3 {
		s.insts = append(s.insts, Instance{ID: fmt.Sprint("i", i), Status: "ACTIVE", Connected: true})
	}
	return s
}

func (s *sim) counts() (live, healthy int) {
	for _, t := range s.tasks {
		if live0(t) {
			live++
		}
		if Healthy(t) {
			healthy++
		}
	}
	return
}

func live0(t Task) bool { return t.LastStatus != TaskStopped && !t.DesiredStopped }

// step runs one pass and applies its plan, checking the invariants.
func (s *sim) step() Plan {
	s.now = s.now.Add(time.Second)
	p := Reconcile(Input{Now: s.now, Service: s.svc, Status: s.st, Tasks: slices.Clone(s.tasks), Instances: s.insts})
	liveBefore, healthyBefore := s.counts()
	for _, st := range p.Stop {
		for i := range s.tasks {
			if s.tasks[i].ID == st.TaskID {
				if s.tasks[i].DesiredStopped {
					s.t.Fatalf("stopped task %s twice", st.TaskID)
				}
				s.tasks[i].DesiredStopped = true
				s.tasks[i].StopCode = StopCodeScheduler
			}
		}
	}
	for _, st := range p.Start {
		for range st.Count {
			s.seq++
			s.tasks = append(s.tasks, Task{ID: fmt.Sprintf("t%03d", s.seq), DeploymentID: st.DeploymentID,
				InstanceID: s.insts[s.seq%len(s.insts)].ID, LastStatus: "PENDING", HasHealthCheck: s.hc, CreatedAt: s.now})
		}
	}
	s.st = p.Status
	live, healthy := s.counts()
	desired := s.svc.DesiredCount
	if s.svc.Strategy == Daemon {
		desired = 0
		for _, in := range s.insts {
			if in.Status == "ACTIVE" {
				desired++
			}
		}
	}
	maxTasks := MaxTasks(desired, s.svc.MaxPercent)
	minHealthy := MinHealthy(desired, s.svc.MinHealthyPercent)
	if live > max(maxTasks, liveBefore) {
		s.t.Fatalf("%d tasks running or pending after the pass (before %d), maximum %d (desired %d, %d%%)\n%s", live, liveBefore, maxTasks, desired, s.svc.MaxPercent, s.dump())
	}
	if healthy < min(minHealthy, healthyBefore) {
		s.t.Fatalf("%d healthy tasks after the pass (before %d), minimum %d (desired %d, %d%%)\n%s", healthy, healthyBefore, minHealthy, desired, s.svc.MinHealthyPercent, s.dump())
	}
	return p
}

func (s *sim) dump() string {
	var b strings.Builder
	for _, t := range s.tasks {
		fmt.Fprintf(&b, "  %s dep=%s %s stop=%v health=%s\n", t.ID, t.DeploymentID[len(t.DeploymentID)-13:len(t.DeploymentID)-9], t.LastStatus, t.DesiredStopped, t.Health)
	}
	return b.String()
}

// event applies one random change an agent or a user could make.
func (s *sim) event(allowFailures bool) {
	i := s.rng.IntN(len(s.tasks) + 1)
	if i == len(s.tasks) {
		switch s.rng.IntN(8) {
		case 0:
			s.svc.DeploymentID = DeploymentID(s.now)
			s.svc.DeploymentCreatedAt = s.now
			s.svc.TaskDefinition = fmt.Sprint("td:", s.rng.IntN(5))
		case 1:
			s.svc.DesiredCount = s.rng.IntN(8)
		}
		return
	}
	t := &s.tasks[i]
	switch {
	case t.LastStatus == TaskStopped:
	case t.DesiredStopped:
		t.LastStatus, t.StoppedAt = TaskStopped, s.now
	case t.LastStatus == "PENDING":
		t.LastStatus, t.StartedAt = TaskRunning, s.now
		if s.hc {
			t.Health = "UNKNOWN"
		}
	case s.hc && t.Health == "UNKNOWN":
		t.Health = "HEALTHY"
		if allowFailures && s.rng.IntN(6) == 0 {
			t.Health = "UNHEALTHY"
		}
	case allowFailures && s.rng.IntN(10) == 0:
		t.LastStatus, t.StoppedAt, t.StopCode = TaskStopped, s.now, "EssentialContainerExited"
	}
}

// settle lets every task finish its transition.
func (s *sim) settle() {
	for i := range s.tasks {
		t := &s.tasks[i]
		switch {
		case t.LastStatus == TaskStopped:
		case t.DesiredStopped:
			t.LastStatus, t.StoppedAt = TaskStopped, s.now
		case t.LastStatus == "PENDING":
			t.LastStatus, t.StartedAt = TaskRunning, s.now
			if s.hc {
				t.Health = "HEALTHY"
			}
		case s.hc && t.Health != "HEALTHY":
			t.Health = "HEALTHY"
		}
	}
}

var configs = []struct{ minPct, maxPct int }{
	{100, 200}, {50, 200}, {0, 100}, {50, 100}, {100, 150}, {75, 125}, {0, 200}, {100, 101},
}

// TestReconcileInvariants: under random event orders the planner never
// takes more than maximumPercent tasks running or pending nor fewer than
// minimumHealthyPercent healthy, and once events stop it converges to one
// COMPLETED deployment of desiredCount healthy tasks.
func TestReconcileInvariants(t *testing.T) {
	t.Parallel()
	for seed := range uint64(300) {
		cfg := configs[seed%uint64(len(configs))]
		hc := seed%2 == 0
		t.Run(fmt.Sprintf("seed%d_%d_%d", seed, cfg.minPct, cfg.maxPct), func(t *testing.T) {
			s := newSim(t, seed, 1+int(seed%7), cfg.minPct, cfg.maxPct, hc)
			failures := seed%3 == 0
			for range 200 {
				s.step()
				for range 1 + s.rng.IntN(4) {
					s.event(failures)
				}
			}
			s.converge()
		})
	}
}

// converge runs passes with every transition completing until the service
// is steady.
func (s *sim) converge() {
	s.t.Helper()
	// A failed rollout launches nothing: start a fresh deployment so the
	// check is about convergence, not the circuit breaker.
	s.svc.DeploymentID = DeploymentID(s.now.Add(time.Hour))
	s.svc.DeploymentCreatedAt = s.now.Add(time.Hour)
	s.now = s.now.Add(time.Hour)
	if d := s.svc.DesiredCount; d > 0 && MaxTasks(d, s.svc.MaxPercent) <= MinHealthy(d, s.svc.MinHealthyPercent) {
		// ECS's stuck configuration: neither a start nor a stop is allowed
		// while old tasks remain. It must say so.
		s.step()
		s.settle()
		s.step()
		if len(s.st.Deployments) > 1 && !strings.Contains(s.st.Events[0].Message, "unable to stop or start tasks") {
			s.t.Fatalf("stuck deployment without its event: %+v", s.st.Events[:1])
		}
		return
	}
	for range 100 {
		p := s.step()
		s.settle()
		if len(p.Start) == 0 && len(p.Stop) == 0 && s.st.Steady {
			break
		}
	}
	if !s.st.Steady || len(s.st.Deployments) != 1 {
		s.t.Fatalf("not converged: steady=%v deployments=%+v\n%s", s.st.Steady, s.st.Deployments, s.dump())
	}
	d := s.st.Deployments[0]
	if d.ID != s.svc.DeploymentID || d.RolloutState != Completed || d.RunningCount != s.svc.DesiredCount {
		s.t.Fatalf("converged to %+v, want %s COMPLETED with %d running", d, s.svc.DeploymentID, s.svc.DesiredCount)
	}
	live, healthy := s.counts()
	if live != s.svc.DesiredCount || healthy != s.svc.DesiredCount {
		s.t.Fatalf("%d live, %d healthy, want %d\n%s", live, healthy, s.svc.DesiredCount, s.dump())
	}
}

// TestRollingUpdateWorkedExample is ECS's example: desired 4, 50/200 ->
// start 4 new at once and stop 2 old.
func TestRollingUpdateWorkedExample(t *testing.T) {
	t.Parallel()
	s := newSim(t, 1, 4, 50, 200, false)
	for range 5 {
		s.step()
		s.settle()
	}
	if !s.st.Steady {
		t.Fatalf("not steady: %+v", s.st)
	}
	s.svc.DeploymentID, s.svc.TaskDefinition = DeploymentID(s.now.Add(time.Minute)), "td:2"
	p := s.step()
	if len(p.Start) != 1 || p.Start[0].Count != 4 || len(p.Stop) != 2 {
		t.Fatalf("first pass of the update: start %+v stop %+v, want 4 started and 2 stopped", p.Start, p.Stop)
	}
	if len(s.st.Deployments) != 2 || s.st.Deployments[0].Status != Primary || s.st.Deployments[1].Status != Active {
		t.Fatalf("deployments %+v, want PRIMARY and ACTIVE", s.st.Deployments)
	}
	for range 5 {
		s.step()
		s.settle()
	}
	if len(s.st.Deployments) != 1 || s.st.Deployments[0].RolloutState != Completed {
		t.Fatalf("deployments %+v, want one COMPLETED", s.st.Deployments)
	}
	var msgs []string
	for _, e := range s.st.Events {
		msgs = append(msgs, e.Message)
	}
	if !slices.Contains(msgs, "(service web) has reached a steady state.") {
		t.Errorf("events %q lack the steady state", msgs)
	}
}

// TestCircuitBreakerRollback: a revision whose tasks keep failing is FAILED
// after Threshold failures and the last COMPLETED one comes back.
func TestCircuitBreakerRollback(t *testing.T) {
	t.Parallel()
	s := newSim(t, 2, 2, 100, 200, false)
	s.svc.CircuitBreaker, s.svc.Rollback = true, true
	for range 5 {
		s.step()
		s.settle()
	}
	good := s.st.Deployments[0].ID
	bad := DeploymentID(s.now.Add(time.Minute))
	s.svc.DeploymentID, s.svc.TaskDefinition = bad, "td:bad"
	for range 40 {
		s.step()
		for i := range s.tasks {
			tk := &s.tasks[i]
			if tk.DeploymentID == bad && tk.LastStatus == "PENDING" {
				tk.LastStatus, tk.StoppedAt, tk.StopCode = TaskStopped, s.now, "TaskFailedToStart"
			}
		}
		s.now = s.now.Add(time.Minute) // past any throttle delay
		if len(s.st.Deployments) > 0 && s.st.Deployments[0].RollbackOf == bad {
			break
		}
	}
	if len(s.st.Deployments) == 0 || s.st.Deployments[0].RollbackOf != bad {
		t.Fatalf("no rollback: %+v", s.st.Deployments)
	}
	if s.st.Deployments[0].TaskDefinition != "td:1" {
		t.Fatalf("rolled back to %s, want td:1", s.st.Deployments[0].TaskDefinition)
	}
	found := false
	for _, e := range s.st.Events {
		if e.Message == "(service web) deployment "+bad+" deployment failed: tasks failed to start." {
			found = true
		}
	}
	if !found {
		t.Errorf("no failure event in %+v", s.st.Events)
	}
	for range 10 {
		s.step()
		s.settle()
	}
	if len(s.st.Deployments) != 1 || s.st.Deployments[0].RolloutState != Completed || !strings.Contains(s.st.Deployments[0].RolloutStateReason, "completed") {
		t.Fatalf("after rollback: %+v (good was %s)", s.st.Deployments, good)
	}
	if s.svc.DeploymentID != bad {
		t.Fatal("spec changed")
	}
}

// TestDaemon: one task per ACTIVE instance, including one that joins, none
// on a DRAINING one.
func TestDaemon(t *testing.T) {
	t.Parallel()
	s := newSim(t, 3, 0, 0, 100, false)
	s.svc.Strategy = Daemon
	place := func(p Plan) {
		// step placed tasks round-robin: put DAEMON tasks where asked.
		n := 0
		for _, st := range p.Start {
			n += st.Count
		}
		for i, st := range p.Start {
			s.tasks[len(s.tasks)-n+i].InstanceID = st.Instance
		}
	}
	run := func() {
		for range 5 {
			place(s.step())
			s.settle()
		}
	}
	perInstance := func() map[string]int {
		m := map[string]int{}
		for _, tk := range s.tasks {
			if live0(tk) {
				m[tk.InstanceID]++
			}
		}
		return m
	}
	run()
	if m := perInstance(); len(m) != 3 || m["i0"] != 1 || m["i1"] != 1 || m["i2"] != 1 {
		t.Fatalf("tasks per instance %v, want one on each of 3", m)
	}
	s.insts = append(s.insts, Instance{ID: "i3", Status: "ACTIVE", Connected: true})
	run()
	if m := perInstance(); len(m) != 4 || m["i3"] != 1 {
		t.Fatalf("after a join: %v, want one on each of 4", m)
	}
	s.insts[0].Status = "DRAINING"
	run()
	if m := perInstance(); m["i0"] != 0 || len(m) != 3 {
		t.Fatalf("after draining i0: %v", m)
	}
	if !s.st.Steady || s.st.Deployments[0].DesiredCount != 3 {
		t.Fatalf("status %+v", s.st)
	}
}

// TestDrainingInstanceReplica: tasks on a DRAINING instance are replaced
// before they stop (100/200).
func TestDrainingInstanceReplica(t *testing.T) {
	t.Parallel()
	s := newSim(t, 4, 3, 100, 200, false)
	for range 5 {
		s.step()
		s.settle()
	}
	s.insts[0].Status = "DRAINING"
	var onDrained int
	for range 5 {
		p := s.step()
		for i := range s.tasks {
			if s.tasks[len(s.tasks)-1-i].LastStatus != "PENDING" {
				break
			}
		}
		_ = p
		// New tasks must not go to the draining instance.
		for i := range s.tasks {
			if s.tasks[i].LastStatus == "PENDING" && s.tasks[i].InstanceID == "i0" {
				s.tasks[i].InstanceID = "i1"
			}
		}
		s.settle()
	}
	for _, tk := range s.tasks {
		if live0(tk) && tk.InstanceID == "i0" {
			onDrained++
		}
	}
	live, healthy := s.counts()
	if onDrained != 0 || live != 3 || healthy != 3 {
		t.Fatalf("%d on the draining instance, %d live, %d healthy\n%s", onDrained, live, healthy, s.dump())
	}
}

// TestThrottle: after throttleAfter (3) tasks in a row stop before they
// run, launches wait throttleBase (5 s) after the last failure, doubling per
// further failure up to throttleMax (15 min), with the ECS event; a new
// deployment clears the throttle and launches at once.
func TestThrottle(t *testing.T) {
	t.Parallel()
	const msg = "(service web) is unable to consistently start tasks successfully."
	s := newSim(t, 5, 1, 100, 200, false)
	if p := s.step(); len(p.Start) != 1 || p.Start[0].Count != 1 {
		t.Fatalf("first pass: start %+v", p.Start)
	}
	// fail stops the pending task before it ran, as the agent reports a
	// task that failed to start.
	fail := func() time.Time {
		t.Helper()
		n := 0
		for i := range s.tasks {
			if s.tasks[i].LastStatus == "PENDING" {
				s.tasks[i].LastStatus, s.tasks[i].StoppedAt, s.tasks[i].StopCode = TaskStopped, s.now, "TaskFailedToStart"
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d pending tasks, want 1\n%s", n, s.dump())
		}
		return s.now
	}
	hasEvent := func() bool {
		for _, e := range s.st.Events {
			if e.Message == msg {
				return true
			}
		}
		return false
	}
	want := []time.Duration{0, 0, 5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second,
		80 * time.Second, 160 * time.Second, 320 * time.Second, 640 * time.Second,
		15 * time.Minute, 15 * time.Minute, 15 * time.Minute, 15 * time.Minute}
	for i, delay := range want {
		failures := i + 1
		stoppedAt := fail()
		p := s.step()
		if delay == 0 {
			if !s.st.NotBefore.IsZero() || len(p.Start) != 1 || p.Wait != 0 {
				t.Fatalf("after %d failures: notBefore %v start %+v wait %v, want no throttle and a launch", failures, s.st.NotBefore, p.Start, p.Wait)
			}
			if hasEvent() {
				t.Fatalf("after %d failures: throttle event before the throttle: %+v", failures, s.st.Events)
			}
			continue
		}
		if got := s.st.NotBefore.Sub(stoppedAt); got != delay {
			t.Fatalf("after %d failures: delay %v, want %v", failures, got, delay)
		}
		if len(p.Start) != 0 {
			t.Fatalf("after %d failures: launched while throttled: %+v", failures, p.Start)
		}
		if p.Wait != s.st.NotBefore.Sub(s.now) {
			t.Fatalf("after %d failures: wait %v, want %v (until notBefore)", failures, p.Wait, s.st.NotBefore.Sub(s.now))
		}
		if len(s.st.Events) == 0 || s.st.Events[0].Message != msg {
			t.Fatalf("after %d failures: newest event %+v, want %q", failures, s.st.Events, msg)
		}
		// One second before notBefore still nothing; at notBefore one launch.
		s.now = s.st.NotBefore.Add(-2 * time.Second)
		if p := s.step(); len(p.Start) != 0 {
			t.Fatalf("after %d failures: launched 1s before notBefore: %+v", failures, p.Start)
		}
		if p := s.step(); len(p.Start) != 1 || p.Start[0].Count != 1 {
			t.Fatalf("after %d failures: at notBefore start %+v, want 1", failures, p.Start)
		}
	}
	// Throttled again, then a new deployment: the throttle is cleared and
	// its task launches in the same pass.
	fail()
	s.step()
	if !s.st.NotBefore.After(s.now) {
		t.Fatalf("not throttled before the new deployment: notBefore %v now %v", s.st.NotBefore, s.now)
	}
	s.svc.DeploymentID = DeploymentID(s.now.Add(time.Second))
	s.svc.DeploymentCreatedAt = s.now.Add(time.Second)
	s.svc.TaskDefinition = "td:2"
	p := s.step()
	if !s.st.NotBefore.IsZero() {
		t.Fatalf("new deployment: notBefore %v, want cleared", s.st.NotBefore)
	}
	if len(p.Start) != 1 || p.Start[0].DeploymentID != s.svc.DeploymentID || p.Start[0].Count != 1 || p.Wait != 0 {
		t.Fatalf("new deployment: start %+v wait %v, want 1 task of %s at once", p.Start, p.Wait, s.svc.DeploymentID)
	}
}

// TestGracePeriod: an UNHEALTHY task within healthCheckGracePeriodSeconds is
// left alone, and replaced after.
func TestGracePeriod(t *testing.T) {
	t.Parallel()
	s := newSim(t, 6, 1, 100, 200, true)
	s.svc.GracePeriod = time.Minute
	s.step()
	s.settle()
	s.tasks[0].Health = "UNHEALTHY"
	s.tasks[0].StartedAt = s.now
	if p := s.step(); len(p.Stop) != 0 {
		t.Fatalf("stopped an unhealthy task within the grace period: %+v", p.Stop)
	}
	s.now = s.now.Add(time.Minute)
	if p := s.step(); len(p.Stop) != 1 || p.Stop[0].Reason != ReasonUnhealthy {
		t.Fatalf("after the grace period: stop %+v", p.Stop)
	}
}

// TestDrainingService: a deleted service stops its tasks and becomes
// inactive once all have stopped.
func TestDrainingService(t *testing.T) {
	t.Parallel()
	s := newSim(t, 7, 2, 100, 200, false)
	for range 3 {
		s.step()
		s.settle()
	}
	s.svc.Status, s.svc.DesiredCount = "DRAINING", 0
	if p := s.step(); len(p.Stop) != 2 || s.st.Inactive {
		t.Fatalf("draining: stop %+v inactive %v", p.Stop, s.st.Inactive)
	}
	s.settle()
	s.step()
	if !s.st.Inactive {
		t.Fatalf("not inactive after its tasks stopped: %+v", s.st)
	}
}

// TestCircuitBreakerHealthChecks: tasks that run but fail their health
// checks are stopped by the scheduler and count toward the circuit breaker
// (stage 2).
func TestCircuitBreakerHealthChecks(t *testing.T) {
	t.Parallel()
	s := newSim(t, 8, 2, 100, 200, true)
	s.svc.CircuitBreaker = true
	for range 60 {
		p := s.step()
		for _, st := range p.Stop {
			for i := range s.tasks {
				if s.tasks[i].ID == st.TaskID {
					s.tasks[i].StopReason = st.Reason
				}
			}
		}
		for i := range s.tasks {
			tk := &s.tasks[i]
			switch {
			case tk.DesiredStopped && tk.LastStatus != TaskStopped:
				tk.LastStatus, tk.StoppedAt = TaskStopped, s.now
			case tk.LastStatus == "PENDING":
				tk.LastStatus, tk.StartedAt, tk.Health = TaskRunning, s.now, "UNHEALTHY"
			}
		}
		if s.st.Deployments[0].RolloutState == Failed {
			break
		}
	}
	if d := s.st.Deployments[0]; d.RolloutState != Failed || d.FailedTasks < Threshold(2) {
		t.Fatalf("deployment %+v, want FAILED after %d failures", d, Threshold(2))
	}
}

// TestStopDeployment: StopServiceDeployment ROLLBACK returns to the last
// COMPLETED deployment; ABORT launches nothing more.
func TestStopDeployment(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"ROLLBACK", "ABORT"} {
		t.Run(typ, func(t *testing.T) {
			s := newSim(t, 9, 2, 100, 200, false)
			for range 6 {
				s.step()
				s.settle()
			}
			bad := DeploymentID(s.now.Add(time.Minute))
			s.svc.DeploymentID, s.svc.TaskDefinition = bad, "td:2"
			s.step() // starts the new deployment's tasks (still PENDING)
			s.svc.StopDeploymentID, s.svc.StopType = bad, typ
			p := s.step()
			switch typ {
			case "ROLLBACK":
				if s.st.Deployments[0].RollbackOf != bad || s.st.Deployments[0].TaskDefinition != "td:1" {
					t.Fatalf("no rollback: %+v", s.st.Deployments)
				}
				for range 10 {
					s.step()
					s.settle()
				}
				if len(s.st.Deployments) != 1 || s.st.Deployments[0].RolloutState != Completed {
					t.Fatalf("after the rollback: %+v", s.st.Deployments)
				}
			case "ABORT":
				if s.st.Deployments[0].ID != bad || s.st.Deployments[0].RolloutState != Failed || len(p.Start) != 0 {
					t.Fatalf("abort: %+v start %+v", s.st.Deployments, p.Start)
				}
			}
		})
	}
}
