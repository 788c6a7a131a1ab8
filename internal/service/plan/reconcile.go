package plan

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"
)

// Throttle and circuit breaker tuning.
const (
	// throttleAfter failures to start in a row, launches are delayed by
	// throttleBase doubling per further failure, up to throttleMax (ECS's
	// "incrementally increasing delay ... up to 15 minutes").
	throttleAfter = 3
	throttleBase  = 5 * time.Second
	throttleMax   = 15 * time.Minute
	// resetAfter: a task without health checks resets the consecutive
	// failure count, and counts toward a COMPLETED rollout, once it has
	// been RUNNING this long (one that exits at once must not hide a broken
	// revision from the circuit breaker). ECS waits 40 s; tasks with health
	// checks count as soon as they are HEALTHY.
	resetAfter = 3 * time.Second
)

// DeploymentID makes the deployment id ECS shows: ecs-svc/ and 19 digits.
func DeploymentID(now time.Time) string { return fmt.Sprintf("ecs-svc/%019d", now.UnixNano()) }

// MinHealthy is ceil(desired × minimumHealthyPercent / 100).
func MinHealthy(desired, pct int) int { return (desired*pct + 99) / 100 }

// MaxTasks is floor(desired × maximumPercent / 100).
func MaxTasks(desired, pct int) int { return desired * pct / 100 }

// Threshold is the circuit breaker's failure threshold: half the desired
// count, rounded up, within [3, 200].
func Threshold(desired int) int { return min(max((desired+1)/2, 3), 200) }

// Healthy reports whether a task counts as healthy: RUNNING and, when it has
// health checks, HEALTHY.
func Healthy(t Task) bool {
	return t.LastStatus == TaskRunning && !t.DesiredStopped && (!t.HasHealthCheck || t.Health == "HEALTHY")
}

// healthy is Healthy, and for a task without health checks, RUNNING for
// resetAfter: what the minimum healthy percent and rollout completion count.
func (r *reconciler) healthy(t Task) bool {
	return Healthy(t) && (t.HasHealthCheck || !r.now.Before(t.StartedAt.Add(resetAfter)))
}

// live: the task is wanted and not stopped (PENDING or RUNNING for the
// percent arithmetic).
func live(t Task) bool { return t.LastStatus != TaskStopped && !t.DesiredStopped }

// failedToStart: the task stopped by itself (not asked by the scheduler or
// a user).
func selfStopped(t Task) bool {
	return t.LastStatus == TaskStopped && t.StopCode != StopCodeScheduler && t.StopCode != "UserInitiated"
}

type reconciler struct {
	in     Input
	svc    Service
	now    time.Time
	st     Status
	plan   Plan
	events []string
	// held: a protected task was kept from a stop this pass (the wait is
	// the protection's, not the deployment configuration's).
	held bool
}

// Reconcile decides the next step for one service. It is pure: the same
// input gives the same plan.
func Reconcile(in Input) Plan {
	r := &reconciler{in: in, svc: in.Service, now: in.Now, st: cloneStatus(in.Status)}
	r.deployments()
	r.circuitBreaker()
	r.stopRequest()
	r.throttle()
	if r.svc.Strategy == Daemon {
		r.daemon()
	} else {
		r.replica()
	}
	r.finish()
	r.plan.Status = r.st
	return r.plan
}

func cloneStatus(s Status) Status {
	s.Deployments = slices.Clone(s.Deployments)
	s.Events = slices.Clone(s.Events)
	s.History = slices.Clone(s.History)
	if s.LastCompleted != nil {
		lc := *s.LastCompleted
		s.LastCompleted = &lc
	}
	return s
}

func (r *reconciler) event(format string, args ...any) {
	r.events = append(r.events, fmt.Sprintf("(service %s) ", r.svc.Name)+fmt.Sprintf(format, args...))
}

// deployments makes the API's latest deployment the PRIMARY one when it is
// new.
func (r *reconciler) deployments() {
	if r.svc.DeploymentID == "" || r.svc.DeploymentID == r.seenSpec() {
		return
	}
	for i := range r.st.Deployments {
		if r.st.Deployments[i].Status == Primary {
			r.st.Deployments[i].Status = Active
			r.st.Deployments[i].UpdatedAt = r.now
			if r.st.Deployments[i].FinishedAt.IsZero() {
				r.st.Deployments[i].FinishedAt = r.now // replaced
			}
		}
	}
	created := r.svc.DeploymentCreatedAt
	if created.IsZero() {
		created = r.now
	}
	d := Deployment{ID: r.svc.DeploymentID, Status: Primary, TaskDefinition: r.svc.TaskDefinition,
		CreatedAt: created, UpdatedAt: r.now, RolloutState: InProgress,
		RolloutStateReason: "ECS deployment " + r.svc.DeploymentID + " in progress."}
	r.st.Deployments = append([]Deployment{d}, r.st.Deployments...)
	r.st.NotBefore = time.Time{} // ECS resets the throttle on a new deployment
	r.st.Steady = false
}

// seenSpec is the API deployment already turned into a deployment: the
// primary's id, or the id a rollback replaced.
func (r *reconciler) seenSpec() string {
	if len(r.st.Deployments) == 0 {
		if r.st.LastCompleted != nil {
			return r.st.LastCompleted.ID
		}
		return ""
	}
	p := r.st.Deployments[0]
	if p.RollbackOf != "" && p.RollbackOf == r.svc.DeploymentID {
		return p.RollbackOf
	}
	for _, d := range r.st.Deployments {
		if d.ID == r.svc.DeploymentID {
			return d.ID
		}
	}
	return p.ID
}

func (r *reconciler) primary() *Deployment {
	if len(r.st.Deployments) == 0 || r.st.Deployments[0].Status != Primary {
		return nil
	}
	return &r.st.Deployments[0]
}

// desired is the number of tasks the primary deployment should have.
func (r *reconciler) desired() int {
	if r.svc.Status != "ACTIVE" {
		return 0
	}
	if r.svc.Strategy == Daemon {
		return len(r.eligible())
	}
	return r.svc.DesiredCount
}

func (r *reconciler) eligible() []Instance {
	var out []Instance
	for _, in := range r.in.Instances {
		if in.Status == "ACTIVE" {
			out = append(out, in)
		}
	}
	return out
}

// circuitBreaker counts the primary's consecutive failures and fails (and
// rolls back) its rollout at the threshold.
func (r *reconciler) circuitBreaker() {
	p := r.primary()
	if p == nil {
		return
	}
	failed := r.failures(p)
	for _, t := range r.in.Tasks {
		if t.DeploymentID != p.ID || !Healthy(t) {
			continue
		}
		// Only a reset that matters is recorded, so a steady service's
		// status does not change on every pass.
		if (t.HasHealthCheck || r.now.Sub(t.StartedAt) >= resetAfter) && (failed > 0 || p.LastHealthyAt.IsZero()) {
			p.LastHealthyAt = r.now
			failed = r.failures(p)
		}
	}
	p.FailedTasks = failed
	if !r.svc.CircuitBreaker || p.RolloutState != InProgress || failed < Threshold(r.desired()) {
		return
	}
	p.RolloutState = Failed
	p.RolloutStateReason = "ECS deployment circuit breaker: task failed to start."
	p.UpdatedAt, p.FinishedAt = r.now, r.now
	r.event("deployment %s deployment failed: tasks failed to start.", p.ID)
	if r.svc.Rollback {
		r.rollback(p, "ECS deployment circuit breaker: rolling back to deploymentId %s.")
	}
}

// stopRequest applies StopServiceDeployment to the primary deployment: it
// launches nothing more, and with ROLLBACK the last COMPLETED one returns.
func (r *reconciler) stopRequest() {
	p := r.primary()
	if p == nil || p.ID != r.svc.StopDeploymentID || p.RolloutState != InProgress || p.RollbackOf != "" {
		return
	}
	p.RolloutState = Failed
	p.RolloutStateReason = "Service deployment stopped by request (" + r.svc.StopType + ")."
	p.UpdatedAt, p.FinishedAt = r.now, r.now
	r.event("deployment %s was stopped by request.", p.ID)
	if r.svc.StopType == "ROLLBACK" {
		r.rollback(p, "Service deployment rolling back to deploymentId %s by request.")
	}
}

// rollback makes a new PRIMARY deployment of the last COMPLETED one's task
// definition (when there is one), replacing the failed primary p.
func (r *reconciler) rollback(p *Deployment, reason string) {
	lc := r.st.LastCompleted
	if lc == nil || lc.ID == p.ID || lc.TaskDefinition == "" {
		return
	}
	p.Status = Active
	d := Deployment{ID: DeploymentID(r.now), Status: Primary, TaskDefinition: lc.TaskDefinition,
		CreatedAt: r.now, UpdatedAt: r.now, RolloutState: InProgress, RollbackOf: r.svc.DeploymentID,
		RolloutStateReason: fmt.Sprintf(reason, lc.ID)}
	r.st.Deployments = append([]Deployment{d}, r.st.Deployments...)
	r.st.NotBefore = time.Time{}
	r.event("rolling back to deployment %s.", lc.ID)
}

// failures counts the deployment's tasks that stopped by themselves since
// it started or last had a healthy task.
func (r *reconciler) failures(p *Deployment) int {
	since := p.CreatedAt
	if p.LastHealthyAt.After(since) {
		since = p.LastHealthyAt
	}
	n := 0
	for _, t := range r.in.Tasks {
		// Stage 2 of the circuit breaker: tasks the scheduler stopped for
		// failing their health checks count too.
		failedHealth := t.StopCode == StopCodeScheduler && t.StopReason == ReasonUnhealthy
		if t.DeploymentID == p.ID && (selfStopped(t) || failedHealth) && stoppedAt(t).After(since) {
			n++
		}
	}
	return n
}

// stoppedAt is when the task stopped, or for one still stopping, when it was
// created (so a failure counts from the pass that stopped it).
func stoppedAt(t Task) time.Time {
	if t.StoppedAt.IsZero() {
		return t.CreatedAt.Add(time.Nanosecond)
	}
	return t.StoppedAt
}

// throttle delays launches while tasks keep stopping before they run.
func (r *reconciler) throttle() {
	p := r.primary()
	if p == nil {
		return
	}
	since := p.CreatedAt
	if p.LastHealthyAt.After(since) {
		since = p.LastHealthyAt
	}
	n := 0
	var last time.Time
	for _, t := range r.in.Tasks {
		if selfStopped(t) && t.StartedAt.IsZero() && !t.StoppedAt.Before(since) {
			n++
			if t.StoppedAt.After(last) {
				last = t.StoppedAt
			}
		}
	}
	if n < throttleAfter {
		r.st.NotBefore = time.Time{}
		return
	}
	delay := throttleMax
	if shift := n - throttleAfter; shift < 10 {
		delay = min(throttleBase<<shift, throttleMax)
	}
	nb := last.Add(delay)
	if !nb.Equal(r.st.NotBefore) && nb.After(r.now) {
		r.event("is unable to consistently start tasks successfully.")
	}
	r.st.NotBefore = nb
}

func (r *reconciler) canLaunch() bool {
	p := r.primary()
	return p != nil && p.RolloutState != Failed && !r.now.Before(r.st.NotBefore)
}

func (r *reconciler) stop(t Task, reason string) {
	r.plan.Stop = append(r.plan.Stop, Stop{TaskID: t.ID, Reason: reason})
}

// unhealthy: failed its health checks after the grace period.
func (r *reconciler) unhealthy(t Task) bool {
	return t.LastStatus == TaskRunning && t.HasHealthCheck && t.Health == "UNHEALTHY" &&
		!r.now.Before(t.StartedAt.Add(r.svc.GracePeriod))
}

// protected: the task's scale-in protection has not expired.
func (r *reconciler) protected(t Task) bool { return r.now.Before(t.ProtectedUntil) }

// holdProtected keeps a protected task from a scale-in stop: the pass after
// its protection expires may stop it (Wait).
func (r *reconciler) holdProtected(t Task) bool {
	if !r.protected(t) {
		return false
	}
	r.held = true
	if d := t.ProtectedUntil.Sub(r.now); r.plan.Wait == 0 || d < r.plan.Wait {
		r.plan.Wait = d
	}
	return true
}

// stopOrder sorts tasks so that the ones to stop first come first: the
// priorities of scale-in (unprotected, then not healthy, first), then newest
// first. DAEMON services, which have no placement strategies, use it for the
// tasks of one instance; REPLICA services choose with scaleIn, except for old
// tasks when the budget stops all or none of those that compete for it.
func (r *reconciler) stopOrder(ts []Task) {
	slices.SortStableFunc(ts, func(a, b Task) int {
		if c := r.priority(a, b); c != 0 {
			return c
		}
		return newestFirst(a, b)
	})
}

// replica keeps desiredCount tasks of the primary deployment within the
// minimumHealthyPercent / maximumPercent bounds.
func (r *reconciler) replica() {
	desired := r.desired()
	maxTasks := MaxTasks(desired, r.svc.MaxPercent)
	minHealthy := MinHealthy(desired, r.svc.MinHealthyPercent)
	p := r.primary()
	usable := map[string]bool{}
	for _, in := range r.in.Instances {
		if in.Status == "ACTIVE" {
			usable[in.ID] = true
		}
	}
	var cur, old []Task
	healthy := 0
	for _, t := range r.in.Tasks {
		if !live(t) {
			continue
		}
		if r.unhealthy(t) {
			r.stop(t, ReasonUnhealthy)
			continue
		}
		if r.healthy(t) {
			healthy++
		}
		if p != nil && t.DeploymentID == p.ID && usable[t.InstanceID] {
			cur = append(cur, t)
		} else {
			old = append(old, t)
		}
	}
	// budget is how many healthy tasks may stop. Only tasks past the
	// settling time (r.healthy) earn it, while stopping any RUNNING task
	// (Healthy) spends it: the minimum holds even counting every RUNNING
	// task as healthy, and replacements that crash at once never make room
	// for stopping the tasks that work.
	budget := healthy - minHealthy
	if len(cur) > desired {
		// The spread that matters is the current deployment's: the other
		// tasks are on their way out.
		si := r.newScaleIn(cur)
		cands := slices.Clone(cur)
		stopped := map[string]bool{}
		for range len(cur) - desired {
			t := si.take(&cands)
			if r.holdProtected(t) {
				continue
			}
			if Healthy(t) {
				if budget <= 0 {
					continue
				}
				budget--
			}
			r.stop(t, fmt.Sprintf(ReasonScaleIn, r.primaryID()))
			si.remove(t)
			stopped[t.ID] = true
		}
		cur = slices.DeleteFunc(cur, func(t Task) bool { return stopped[t.ID] })
	}
	// While the budget lasts, old healthy tasks go in the order that keeps
	// the service's tasks (new ones included, as placement counts them)
	// spread. The order only matters when the budget covers some of them
	// but not all; otherwise the cheap stopOrder gives the same stops.
	var oldLeft []Task
	var si *scaleIn
	if competing := r.competing(old); budget > 0 && budget < competing {
		si = r.newScaleIn(append(slices.Clone(cur), old...))
	} else {
		r.stopOrder(old)
	}
	for cands := slices.Clone(old); len(cands) > 0; {
		t := si.take(&cands)
		reason := fmt.Sprintf(ReasonScaleIn, r.primaryID())
		if p != nil && t.DeploymentID == p.ID {
			reason = ReasonDraining
		} else if r.holdProtected(t) {
			oldLeft = append(oldLeft, t)
			continue
		}
		if Healthy(t) {
			// An old healthy task goes once enough others are healthy and,
			// while the primary is short, once its replacement can start.
			if budget <= 0 {
				oldLeft = append(oldLeft, t)
				continue
			}
			budget--
		}
		r.stop(t, reason)
		si.remove(t)
	}
	room := maxTasks - len(cur) - len(oldLeft)
	if r.canLaunch() {
		if n := min(desired-len(cur), room); n > 0 {
			r.plan.Start = append(r.plan.Start, Start{DeploymentID: p.ID, TaskDefinition: p.TaskDefinition, Count: n})
		}
	} else if p != nil && p.RolloutState != Failed && desired > len(cur) && r.st.NotBefore.After(r.now) {
		if d := r.st.NotBefore.Sub(r.now); r.plan.Wait == 0 || d < r.plan.Wait {
			r.plan.Wait = d
		}
	}
	if len(r.plan.Start) == 0 && len(r.plan.Stop) == 0 && len(cur) < desired && room <= 0 && len(oldLeft) > 0 && r.canLaunch() && healthy <= minHealthy && !r.held {
		r.event("was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again.")
	}
}

// competing counts the old tasks that stop only within the budget: healthy
// ones, not held by their protection (tasks of the primary on an instance
// that is no longer usable are not held).
func (r *reconciler) competing(old []Task) int {
	p, n := r.primary(), 0
	for _, t := range old {
		if Healthy(t) && ((p != nil && t.DeploymentID == p.ID) || !r.protected(t)) {
			n++
		}
	}
	return n
}

func (r *reconciler) primaryID() string {
	if p := r.primary(); p != nil {
		return p.ID
	}
	return r.svc.DeploymentID
}

// daemon keeps one primary task on each ACTIVE instance and none elsewhere.
func (r *reconciler) daemon() {
	p := r.primary()
	eligible := map[string]Instance{}
	for _, in := range r.eligible() {
		eligible[in.ID] = in
	}
	if r.svc.Status != "ACTIVE" {
		eligible = map[string]Instance{}
	}
	byInstance := map[string][]Task{}
	healthy := 0
	for _, t := range r.in.Tasks {
		if !live(t) {
			continue
		}
		if r.unhealthy(t) {
			r.stop(t, ReasonUnhealthy)
			continue
		}
		if r.healthy(t) {
			healthy++
		}
		byInstance[t.InstanceID] = append(byInstance[t.InstanceID], t)
	}
	budget := healthy - MinHealthy(len(eligible), r.svc.MinHealthyPercent)
	ids := make([]string, 0, len(byInstance)+len(eligible))
	for id := range byInstance {
		ids = append(ids, id)
	}
	for id := range eligible {
		if _, ok := byInstance[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		ts := byInstance[id]
		if _, ok := eligible[id]; !ok {
			for _, t := range ts {
				r.stop(t, ReasonDraining)
			}
			continue
		}
		var cur, old []Task
		for _, t := range ts {
			if p != nil && t.DeploymentID == p.ID {
				cur = append(cur, t)
			} else {
				old = append(old, t)
			}
		}
		r.stopOrder(cur)
		for len(cur) > 1 {
			r.stop(cur[0], ReasonDaemon)
			cur = cur[1:]
		}
		r.stopOrder(old)
		oldLeft := 0
		for _, t := range old {
			if Healthy(t) && len(cur) == 0 {
				if budget <= 0 {
					oldLeft++
					continue
				}
				budget--
			}
			r.stop(t, fmt.Sprintf(ReasonScaleIn, r.primaryID()))
		}
		// maximumPercent is 100 for DAEMON: the old task goes first.
		if len(cur) == 0 && oldLeft == 0 && r.canLaunch() && eligible[id].Connected {
			r.plan.Start = append(r.plan.Start, Start{DeploymentID: p.ID, TaskDefinition: p.TaskDefinition, Count: 1, Instance: id})
		}
	}
}

// finish updates the deployments' counts and rollout states, drops replaced
// deployments, and records events.
func (r *reconciler) finish() {
	stopping := map[string]bool{}
	for _, s := range r.plan.Stop {
		stopping[s.TaskID] = true
	}
	desired := r.desired()
	running, pending := map[string]int{}, map[string]int{}
	healthyNew, totalRunning, totalPending := 0, 0, 0
	p := r.primary()
	for _, t := range r.in.Tasks {
		if !live(t) || stopping[t.ID] {
			continue
		}
		if t.LastStatus == TaskRunning {
			running[t.DeploymentID]++
			totalRunning++
		} else {
			pending[t.DeploymentID]++
			totalPending++
		}
		if p != nil && t.DeploymentID == p.ID && r.healthy(t) {
			// Without health checks a task must stay up a moment before the
			// rollout completes: one that exits at once must reach the
			// circuit breaker, not a COMPLETED deployment.
			healthyNew++
		}
	}
	started := 0
	for _, s := range r.plan.Start {
		started += s.Count
	}
	var kept []Deployment
	for i, d := range r.st.Deployments {
		d.RunningCount, d.PendingCount = running[d.ID], pending[d.ID]
		if i == 0 && d.Status == Primary {
			d.DesiredCount = desired
		} else {
			d.DesiredCount = 0
			if d.RunningCount+d.PendingCount == 0 {
				// INACTIVE: dropped from deployments[], kept in the history.
				d.Status = Inactive
				if d.FinishedAt.IsZero() {
					d.FinishedAt = r.now
				}
				r.st.History = append([]Deployment{d}, r.st.History...)
				if len(r.st.History) > MaxHistory {
					r.st.History = r.st.History[:MaxHistory]
				}
				continue
			}
		}
		kept = append(kept, d)
	}
	r.st.Deployments = kept
	quiet := len(r.plan.Stop) == 0 && started == 0
	settled := p != nil && len(kept) == 1 && quiet && healthyNew == desired && totalRunning+totalPending == desired && p.FailedTasks == 0
	if settled && kept[0].RolloutState == InProgress {
		kept[0].RolloutState = Completed
		kept[0].RolloutStateReason = "ECS deployment " + kept[0].ID + " completed."
		kept[0].UpdatedAt, kept[0].FinishedAt = r.now, r.now
		lc := kept[0]
		r.st.LastCompleted = &lc
		r.event("(deployment %s) deployment completed.", kept[0].ID)
	}
	switch {
	case settled && !r.st.Steady:
		r.st.Steady = true
		r.event("has reached a steady state.")
	case !settled:
		r.st.Steady = false
	}
	r.st.RunningCount, r.st.PendingCount = totalRunning, totalPending
	r.st.Inactive = r.svc.Status != "ACTIVE" && totalRunning+totalPending == 0 && len(r.plan.Stop) == 0 && r.noneStopping()
	r.addEvents(r.events)
}

// noneStopping: every task of the service has stopped.
func (r *reconciler) noneStopping() bool {
	for _, t := range r.in.Tasks {
		if t.LastStatus != TaskStopped {
			return false
		}
	}
	return true
}

// addEvents prepends messages (newest first), skipping one equal to the
// newest event (ECS suppresses repeats until the situation changes).
func (r *reconciler) addEvents(msgs []string) {
	for i, m := range msgs {
		if len(r.st.Events) > 0 && r.st.Events[0].Message == m {
			continue
		}
		r.st.Events = append([]Event{{ID: EventID(r.svc.Cluster+"/"+r.svc.Name, r.now, i, m), CreatedAt: r.now, Message: m}}, r.st.Events...)
	}
	if len(r.st.Events) > MaxEvents {
		r.st.Events = r.st.Events[:MaxEvents]
	}
}

// AddEvent records a message the caller made (e.g. about tasks it started).
func AddEvent(st *Status, service string, now time.Time, msg string) {
	r := reconciler{svc: Service{Name: service}, now: now, st: *st}
	r.addEvents([]string{msg})
	*st = r.st
}

// EventID derives a UUID-shaped event id from its content.
func EventID(scope string, now time.Time, i int, msg string) string {
	h := fnv.New128a()
	fmt.Fprintf(h, "%s|%d|%d|%s", scope, now.UnixNano(), i, msg)
	b := h.Sum(nil)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
