package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/cql"
	"github.com/berth-dev/berth/internal/service/plan"
	"github.com/berth-dev/berth/internal/store"
)

// What the service controller (internal/service) reads and does through the
// ECS server: snapshots of services from the cache, and the task operations
// it applies (start through the same placement as RunTask, stop with stopCode
// ServiceSchedulerInitiated), plus the writes of the records it owns.

// ServiceState is one service as the controller sees it: plan.Input without
// the clock, and the revision of its status record to guard the next write.
type ServiceState struct {
	Input     plan.Input
	StatusRev int64
}

// ServiceMemo keeps the tasks ServiceStates decoded, by the revisions of
// their records, so a pass decodes only what changed since the last one.
// The caller (one controller) owns it; the zero value is ready to use.
type ServiceMemo struct {
	mu    sync.Mutex
	tasks map[string]memoTask // spec key -> task
	gen   uint64
}

type memoTask struct {
	specRev, statusRev int64
	group              string // "" for a task of no service
	task               plan.Task
	gen                uint64
}

// task decodes (or recalls) the task of a spec record.
func (m *ServiceMemo) task(s *Server, cluster string, kv store.KV) (memoTask, bool) {
	id := store.LastPart(kv.Key)
	stKV, ok := s.cache.Get(s.taskStatusKey(cluster, id))
	if !ok {
		return memoTask{}, false
	}
	if mt, ok := m.tasks[kv.Key]; ok && mt.specRev == kv.ModRevision && mt.statusRev == stKV.ModRevision {
		mt.gen = m.gen
		m.tasks[kv.Key] = mt
		return mt, true
	}
	mt := memoTask{specRev: kv.ModRevision, statusRev: stKV.ModRevision, gen: m.gen}
	var spec taskSpecRecord
	if json.Unmarshal(kv.Value, &spec) != nil {
		return memoTask{}, false
	}
	if isServiceGroup(spec.Group) {
		var st taskStatusRecord
		if json.Unmarshal(stKV.Value, &st) != nil {
			return memoTask{}, false
		}
		mt.group, mt.task = spec.Group, planTask(spec, st)
	}
	m.tasks[kv.Key] = mt
	return mt, true
}

// ServiceStates snapshots every service that is not INACTIVE, with its
// tasks and its cluster's instances, from the cache. memo may be nil.
func (s *Server) ServiceStates(memo *ServiceMemo) []ServiceState {
	if memo == nil {
		memo = &ServiceMemo{}
	}
	memo.mu.Lock()
	defer memo.mu.Unlock()
	if memo.tasks == nil {
		memo.tasks = map[string]memoTask{}
	}
	memo.gen++
	defer func() {
		for k, mt := range memo.tasks {
			if mt.gen != memo.gen {
				delete(memo.tasks, k)
			}
		}
	}()
	now := s.now()
	type clusterData struct {
		tasks     map[string][]plan.Task // group -> tasks
		instances []plan.Instance
	}
	clusters := map[string]*clusterData{}
	load := func(cluster string) *clusterData {
		if cd, ok := clusters[cluster]; ok {
			return cd
		}
		cd := &clusterData{tasks: map[string][]plan.Task{}}
		for _, kv := range s.cache.List(s.key("taskspecs", cluster) + "/") {
			if mt, ok := memo.task(s, cluster, kv); ok && mt.group != "" {
				cd.tasks[mt.group] = append(cd.tasks[mt.group], mt.task)
			}
		}
		for _, kv := range s.cache.List(s.key("instances", cluster) + "/") {
			var r instanceRecord
			if json.Unmarshal(kv.Value, &r) != nil {
				continue
			}
			conn, has := s.agentConn(cluster, r.ID)
			in := plan.Instance{ID: r.ID, Status: r.Status, Connected: has && conn.live(now),
				Attributes: s.attributeMap(s.attributesKey(cluster, r.ID))}
			in.RemainingCPU, in.RemainingMemory = s.remaining(cluster, r)
			cd.instances = append(cd.instances, in)
		}
		clusters[cluster] = cd
		return cd
	}
	var out []ServiceState
	for _, kv := range s.cache.List(s.key("services") + "/") {
		var r serviceRecord
		if json.Unmarshal(kv.Value, &r) != nil || r.Status == serviceInactive {
			continue
		}
		st, rev, _ := store.GetCachedJSON[plan.Status](s.cache, s.serviceStatusKey(r.Cluster, r.Name))
		cd := load(r.Cluster)
		dc := r.DeploymentConfiguration
		cb := dc.DeploymentCircuitBreaker
		svc := plan.Service{
			Cluster: r.Cluster, Name: r.Name, Strategy: r.SchedulingStrategy, Status: r.Status,
			DesiredCount: int(r.DesiredCount), DeploymentID: r.DeploymentID, TaskDefinition: r.TaskDefinition,
			DeploymentCreatedAt: r.DeploymentCreatedAt, MinHealthyPercent: int(deref(dc.MinimumHealthyPercent)),
			MaxPercent: int(deref(dc.MaximumPercent)), GracePeriod: secondsDuration(r.HealthCheckGracePeriodSeconds),
		}
		for _, ps := range r.PlacementStrategy {
			svc.PlacementStrategies = append(svc.PlacementStrategies, plan.PlacementStrategy{Type: string(deref(ps.Type)), Field: deref(ps.Field)})
		}
		if cb != nil {
			svc.CircuitBreaker, svc.Rollback = cb.Enable, cb.Rollback
		}
		if r.StopDeployment != nil {
			svc.StopDeploymentID, svc.StopType = r.StopDeployment.ID, r.StopDeployment.Type
		}
		instances := cd.instances
		if r.SchedulingStrategy == string(ecsapi.SchedulingStrategyDaemon) {
			instances = s.daemonInstances(r, instances, now)
		}
		out = append(out, ServiceState{StatusRev: rev, Input: plan.Input{
			Service: svc, Status: st, Tasks: slices.Clone(cd.tasks["service:"+r.Name]), Instances: instances,
		}})
	}
	return out
}

// remaining is an instance's registered CPU and memory minus what its
// non-stopped tasks reserve, as placement counts them (the scale-in choice
// mirrors placement). The reservations record and its tasks' states are
// decoded only when they changed.
func (s *Server) remaining(cluster string, r instanceRecord) (cpu, memory int64) {
	cpu, memory = resourceValue(r.Registered, "CPU"), resourceValue(r.Registered, "MEMORY")
	kv, ok := s.cache.Get(s.reservationsKey(cluster, r.ID))
	if !ok {
		return cpu, memory
	}
	v, ok := s.reservationView(cluster, kv.Key, kv.ModRevision, kv.Value)
	if !ok {
		return cpu, memory
	}
	u, _ := s.load(v)
	return cpu - u.used.CPU, memory - u.used.Memory
}

func isServiceGroup(g string) bool {
	return len(g) > len("service:") && g[:len("service:")] == "service:"
}

// planTask converts a task's records to what the planner reads.
func planTask(spec taskSpecRecord, st taskStatusRecord) plan.Task {
	t := plan.Task{
		ID: spec.ID, DeploymentID: spec.StartedBy, InstanceID: spec.InstanceID, LastStatus: st.LastStatus,
		DesiredStopped: desiredStatus(spec, st) == taskStopped, Health: st.HealthStatus,
		CreatedAt: spec.CreatedAt, StartedAt: st.StartedAt, StoppedAt: st.StoppedAt,
		ProtectedUntil: spec.ProtectedUntil, CPU: spec.Reserved.CPU, Memory: spec.Reserved.Memory,
	}
	if stop := effectiveStop(spec, st); stop != nil {
		t.StopCode, t.StopReason = stop.Code, stop.Reason
	}
	if t.LastStatus == taskStopped && t.StopCode == "" {
		t.StopCode = stopTaskFailedToStart
	}
	for _, cd := range spec.Def.ContainerDefinitions {
		if cd.HealthCheck != nil && (cd.Essential == nil || *cd.Essential) {
			t.HasHealthCheck = true
		}
	}
	return t
}

// StartServiceTasks starts start.Count tasks of a service's deployment,
// placed as RunTask places them (on start.Instance for a DAEMON task; split
// over the deployment's capacity provider strategy when it has one). It
// returns the ids started and, when fewer than asked could be placed, the
// placement failures' reasons.
func (s *Server) StartServiceTasks(ctx context.Context, cluster, service string, start plan.Start) ([]string, []string, error) {
	rec, ok := s.cachedService(cluster, service)
	if !ok {
		return nil, nil, fmt.Errorf("service %s/%s not found", cluster, service)
	}
	li := launchInput{TaskDefinition: start.TaskDefinition, Group: ptr("service:" + service), StartedBy: ptr(start.DeploymentID),
		NetworkConfiguration: rec.NetworkConfiguration, EnableManagedTags: rec.EnableECSManagedTags, AllowInactive: true}
	switch rec.PropagateTags {
	case string(ecsapi.PropagateTagsTaskDefinition):
		li.PropagateTags = ptr(ecsapi.PropagateTagsTaskDefinition)
	case string(ecsapi.PropagateTagsService):
		li.Tags = s.tagsOf(s.serviceARN(cluster, service))
	}
	if rec.EnableECSManagedTags {
		li.Tags = mergeTags(li.Tags, []ecsapi.Tag{{Key: ptr("aws:ecs:serviceName"), Value: ptr(service)}})
	}
	var providers []string
	if start.Instance == "" {
		providers = s.serviceProviders(rec, start.DeploymentID, start.Count)
	}
	var ids, reasons []string
	for left := start.Count; left > 0; {
		n := min(left, 10) // RunTask's batch: keeps each transaction small
		lp, err := s.prepareLaunch(cluster, li)
		if err != nil {
			return ids, nil, err
		}
		lp.req.Count = n
		lp.req.Constraints = append(lp.req.Constraints, schedulerConstraints(rec.PlacementConstraints)...)
		lp.req.Strategies = schedulerStrategies(rec.PlacementStrategy)
		if len(lp.req.Strategies) == 0 && rec.SchedulingStrategy == string(ecsapi.SchedulingStrategyReplica) {
			lp.req.Strategies = defaultServiceStrategy
		}
		lp.req.Seed = uint64(s.now().UnixNano())
		if start.Instance != "" {
			lp.req.Targets = slices.Repeat([]string{start.Instance}, n)
		}
		if done := start.Count - left; done+n <= len(providers) {
			lp.providers = providers[done : done+n]
		}
		var explain string
		lp.explain = &explain
		tasks, failures, err := s.launch(ctx, cluster, lp, "", "")
		if err != nil {
			return ids, nil, err
		}
		for _, t := range tasks {
			ids = append(ids, lastARNPart(deref(t.TaskArn)))
		}
		for _, f := range failures {
			reasons = append(reasons, deref(f.Reason))
		}
		if explain != "" {
			reasons = append(reasons, explain)
		}
		if len(tasks) < n {
			break
		}
		left -= n
	}
	return ids, reasons, nil
}

func lastARNPart(arn string) string {
	for i := len(arn) - 1; i >= 0; i-- {
		if arn[i] == '/' {
			return arn[i+1:]
		}
	}
	return arn
}

// StopServiceTask asks a service task to stop (stopCode
// ServiceSchedulerInitiated). A task whose instance was deregistered with
// force has no agent left and is marked STOPPED at once, as StopTask does.
func (s *Server) StopServiceTask(ctx context.Context, cluster, id, reason string) error {
	for attempt := 0; ; attempt++ {
		specKV, err := s.st.Get(ctx, s.taskSpecKey(cluster, id))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var spec taskSpecRecord
		if err := json.Unmarshal(specKV.Value, &spec); err != nil {
			return err
		}
		if spec.DesiredState == taskStopped {
			return nil
		}
		ops, _, err := s.stopOps(ctx, cluster, specKV, &spec,
			stopRequest{Code: string(ecsapi.TaskStopCodeServiceSchedulerInitiated), Reason: reason, At: s.now()})
		if err != nil {
			return err
		}
		rev, err := s.st.Txn(ctx, ops...)
		if errors.Is(err, store.ErrConflict) && attempt < store.UpdateAttempts {
			continue
		}
		if err != nil {
			return err
		}
		return s.synced(ctx, rev)
	}
}

// PutServiceStatus writes the controller's status record, guarded by the
// revision it was computed from (0: it must not exist yet).
func (s *Server) PutServiceStatus(ctx context.Context, cluster, service string, st plan.Status, expectRev int64) (int64, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	rev, err := s.st.Txn(ctx, store.Op{Key: s.serviceStatusKey(cluster, service), Value: b, ExpectRev: expectRev})
	if err != nil {
		return 0, err
	}
	return rev, s.synced(ctx, rev)
}

// MarkServiceInactive ends a DRAINING service whose tasks have all stopped.
func (s *Server) MarkServiceInactive(ctx context.Context, cluster, service string) error {
	_, _, err := store.UpdateJSON(ctx, s.st, s.serviceKey(cluster, service), func(cur *serviceRecord, exists bool) (*serviceRecord, error) {
		if !exists || cur.Status != serviceDraining {
			return nil, nil
		}
		cur.Status = serviceInactive
		return cur, nil
	})
	return err
}

// OnChange calls fn after every change the ECS cache applies (from a
// goroutine of its own); the controller uses it as its wake-up.
func (s *Server) OnChange(fn func()) (cancel func()) {
	return s.cache.Subscribe(func(store.Event) { fn() })
}

func secondsDuration(s int32) time.Duration { return time.Duration(s) * time.Second }

// daemonInstances marks the ACTIVE instances that fail a memberOf
// constraint of a DAEMON service (its own or its task definition's) as not
// eligible: the planner starts nothing there and stops what runs there, as
// ECS does for daemon tasks whose constraints no longer hold.
func (s *Server) daemonInstances(r serviceRecord, instances []plan.Instance, now time.Time) []plan.Instance {
	pcs := slices.Clone(r.PlacementConstraints)
	if td, err := s.resolveTaskDef(r.TaskDefinition); err == nil {
		for _, pc := range td.Def.PlacementConstraints {
			pcs = append(pcs, ecsapi.PlacementConstraint{Type: (*ecsapi.PlacementConstraintType)(pc.Type), Expression: pc.Expression})
		}
	}
	var exprs []*cql.Expr
	for _, pc := range pcs {
		if deref(pc.Type) != ecsapi.PlacementConstraintTypeMemberOf {
			continue
		}
		if e, err := cql.Parse(deref(pc.Expression)); err == nil {
			exprs = append(exprs, e)
		}
	}
	if len(exprs) == 0 {
		return instances
	}
	out := slices.Clone(instances)
	for i, in := range out {
		rec, ok := s.cachedInstance(r.Cluster, in.ID)
		if !ok || in.Status != instActive {
			continue
		}
		view := s.cqlView(r.Cluster, rec, now)
		for _, e := range exprs {
			if !e.Eval(view) {
				out[i].Status = "INELIGIBLE"
				break
			}
		}
	}
	return out
}
