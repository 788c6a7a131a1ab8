package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/awsapi"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/scheduler"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/taskdef"
)

// launchAttempts bounds the optimistic placement loop: each conflict means
// another placement changed an instance this one wanted, so the next round
// sees its tasks.
const launchAttempts = 100

// runTokenRecord remembers a RunTask clientToken under
// runtokens/<cluster>/<token>: the hash of the request and its result, so a
// retry gets the same tasks and a reuse with other parameters a
// ConflictException. Written once, in the placement transaction.
type runTokenRecord struct {
	Hash      string           `json:"hash"`
	TaskIDs   []string         `json:"taskIds"`
	Failures  []ecsapi.Failure `json:"failures,omitempty"`
	CreatedAt time.Time        `json:"createdAt"`
}

func (s *Server) runTokenKey(cluster, token string) string { return s.key("runtokens", cluster, token) }

// launchInput is what RunTask and StartTask have in common.
type launchInput struct {
	TaskDefinition       string
	Group, StartedBy     *string
	Overrides            *ecsapi.TaskOverride
	NetworkConfiguration *ecsapi.NetworkConfiguration
	Tags                 []ecsapi.Tag
	PropagateTags        *ecsapi.PropagateTags
	EnableManagedTags    bool
	EnableExecuteCommand *bool
	VolumeConfigurations []ecsapi.TaskVolumeConfiguration
	// AllowInactive lets a service keep scaling and replacing tasks of a
	// task definition deregistered after the service took it, as ECS does.
	AllowInactive bool
}

// launchPlan is a validated launch: the spec every task starts from and what
// each one needs.
type launchPlan struct {
	spec     taskSpecRecord
	req      placementRequest
	tags     []ecsapi.Tag
	subnetID string // first awsvpcConfiguration subnet, for attachment details
	// providers names the capacity provider of each task when RunTask
	// launches by a capacity provider strategy (capacity_run.go).
	providers []string
	// explain, when set, receives the scheduler's explanation of a launch
	// that left tasks unplaced.
	explain *string
}

// RunTask implements ecsapi.Handler: validate, place count tasks first-fit and
// write them with their reservations in one guarded transaction.
func (s *Server) RunTask(ctx context.Context, in *ecsapi.RunTaskRequest) (*ecsapi.RunTaskResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	count := 1
	if in.Count != nil {
		count = int(*in.Count)
	}
	if count < 1 || count > 10 {
		return nil, invalidParam("count must be between 1 and 10; %d was given.", count)
	}
	providers, err := s.launchProviders(c, in.LaunchType, in.CapacityProviderStrategy, count)
	if err != nil {
		return nil, err
	}
	if in.PlatformVersion != nil {
		return nil, invalidParam("platformVersion is only supported for the FARGATE launch type.")
	}
	token := deref(in.ClientToken)
	if len(token) > 64 {
		return nil, invalidParam("clientToken must be at most 64 characters.")
	}
	li := launchInput{TaskDefinition: in.TaskDefinition, Group: in.Group, StartedBy: in.StartedBy, Overrides: in.Overrides,
		NetworkConfiguration: in.NetworkConfiguration, Tags: in.Tags, PropagateTags: in.PropagateTags,
		EnableManagedTags: deref(in.EnableECSManagedTags), EnableExecuteCommand: in.EnableExecuteCommand,
		VolumeConfigurations: in.VolumeConfigurations}
	plan, err := s.prepareLaunch(c.Name, li)
	if err != nil {
		return nil, err
	}
	plan.req.Count = count
	plan.providers = providers
	for _, pc := range in.PlacementConstraints {
		plan.req.Constraints = append(plan.req.Constraints, scheduler.Constraint{Type: string(deref(pc.Type)), Expression: deref(pc.Expression)})
	}
	for _, ps := range in.PlacementStrategy {
		plan.req.Strategies = append(plan.req.Strategies, scheduler.Strategy{Type: string(deref(ps.Type)), Field: deref(ps.Field)})
	}
	if err := checkPlacement(plan.req); err != nil {
		return nil, err
	}
	plan.req.Seed = uint64(s.now().UnixNano())
	var hash string
	if token != "" {
		req := *in
		req.ClientToken = nil
		b, _ := json.Marshal(req)
		sum := sha256.Sum256(b)
		hash = hex.EncodeToString(sum[:])
		if out, done, err := s.replayRunToken(ctx, c.Name, token, hash); done {
			return out, err
		}
	}
	tasks, failures, err := s.launch(ctx, c.Name, plan, token, hash)
	if err != nil {
		return nil, err
	}
	return &ecsapi.RunTaskResponse{Tasks: tasks, Failures: failures}, nil
}

// StartTask implements ecsapi.Handler: one task on each named instance.
func (s *Server) StartTask(ctx context.Context, in *ecsapi.StartTaskRequest) (*ecsapi.StartTaskResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if len(in.ContainerInstances) < 1 || len(in.ContainerInstances) > 10 {
		return nil, invalidParam("containerInstances must name between 1 and 10 container instances; %d were given.", len(in.ContainerInstances))
	}
	li := launchInput{TaskDefinition: in.TaskDefinition, Group: in.Group, StartedBy: in.StartedBy, Overrides: in.Overrides,
		NetworkConfiguration: in.NetworkConfiguration, Tags: in.Tags, PropagateTags: in.PropagateTags,
		EnableManagedTags: deref(in.EnableECSManagedTags), EnableExecuteCommand: in.EnableExecuteCommand,
		VolumeConfigurations: in.VolumeConfigurations}
	plan, err := s.prepareLaunch(c.Name, li)
	if err != nil {
		return nil, err
	}
	var pre []ecsapi.Failure
	for _, ref := range in.ContainerInstances {
		id, ok := s.instanceID(c.Name, ref)
		if !ok {
			pre = append(pre, ecsapi.Failure{Arn: ptr(ref), Reason: ptr(reasonMissing)})
			continue
		}
		plan.req.Targets = append(plan.req.Targets, id)
	}
	plan.req.Count = len(plan.req.Targets)
	out := &ecsapi.StartTaskResponse{Tasks: []ecsapi.Task{}, Failures: nonNil(pre)}
	if plan.req.Count == 0 {
		return out, nil
	}
	tasks, failures, err := s.launch(ctx, c.Name, plan, "", "")
	if err != nil {
		return nil, err
	}
	out.Tasks = tasks
	out.Failures = append(out.Failures, failures...)
	return out, nil
}

// prepareLaunch validates a launch against the task definition and builds the
// spec every task starts from.
func (s *Server) prepareLaunch(cluster string, in launchInput) (launchPlan, error) {
	if deref(in.EnableExecuteCommand) {
		return launchPlan{}, invalidParam("enableExecuteCommand is not supported by Berth yet.")
	}
	if len(in.VolumeConfigurations) > 0 {
		return launchPlan{}, invalidParam("volumeConfigurations (EBS volumes) are not supported by Berth yet.")
	}
	td, err := s.resolveTaskDef(in.TaskDefinition)
	if err != nil {
		return launchPlan{}, err
	}
	if td.Status != taskDefActive && !(in.AllowInactive && td.Status == taskDefInactive) {
		return launchPlan{}, clientErr("TaskDefinition is inactive: %s.", deref(td.Def.TaskDefinitionArn))
	}
	def := td.Def
	if len(def.Compatibilities) > 0 && !slices.Contains(def.Compatibilities, ecsapi.CompatibilityEc2) {
		return launchPlan{}, invalidParam("Task definition %s does not support launch_type EC2.", deref(def.TaskDefinitionArn))
	}
	// The definition's memberOf constraints apply to every launch; they
	// count toward the limit of 10 with the request's.
	var constraints []scheduler.Constraint
	for _, pc := range def.PlacementConstraints {
		constraints = append(constraints, scheduler.Constraint{Type: string(deref(pc.Type)), Expression: deref(pc.Expression)})
	}
	if err := validateOverrides(def, in.Overrides); err != nil {
		return launchPlan{}, err
	}
	if err := validateTags(in.Tags); err != nil {
		return launchPlan{}, err
	}
	need, err := taskNeeds(def, in.Overrides)
	if err != nil {
		return launchPlan{}, err
	}
	// The agent would fail such a task at once; refusing it here says why
	// to the caller and writes nothing. Log drivers are not checked: placement
	// matches them through requiresAttributes.
	if problems := taskdef.Unsupported(def, in.Overrides, nil); len(problems) > 0 {
		return launchPlan{}, clientErr("Task definition %s:%d uses features Berth does not support yet: %s.",
			deref(def.Family), deref(def.Revision), strings.Join(problems, "; "))
	}
	awsvpc := networkMode(def) == ecsapi.NetworkModeAwsvpc
	var subnetID string
	var subnets []string
	switch {
	case awsvpc && (in.NetworkConfiguration == nil || in.NetworkConfiguration.AwsvpcConfiguration == nil):
		return launchPlan{}, invalidParam("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	case awsvpc:
		subnets = in.NetworkConfiguration.AwsvpcConfiguration.Subnets
		if len(subnets) > 0 {
			subnetID = subnets[0]
		}
	case in.NetworkConfiguration != nil && in.NetworkConfiguration.AwsvpcConfiguration != nil:
		return launchPlan{}, invalidParam("Network Configuration is not valid for the given networkMode of this task definition.")
	}
	group := "family:" + deref(def.Family)
	if in.Group != nil {
		group = *in.Group
	}
	if len(group) > 255 {
		return launchPlan{}, invalidParam("group must be at most 255 characters.")
	}
	if len(deref(in.StartedBy)) > 128 {
		return launchPlan{}, invalidParam("startedBy must be at most 128 characters.")
	}
	tags := slices.Clone(in.Tags)
	if in.PropagateTags != nil {
		switch *in.PropagateTags {
		case ecsapi.PropagateTagsTaskDefinition:
			tags = mergeTags(s.tagsOf(deref(def.TaskDefinitionArn)), tags)
		case ecsapi.PropagateTagsService:
			return launchPlan{}, invalidParam("propagateTags SERVICE is only valid for tasks started by a service.")
		}
	}
	if in.EnableManagedTags {
		tags = mergeTags(tags, []ecsapi.Tag{{Key: ptr("aws:ecs:clusterName"), Value: ptr(cluster)}})
	} else if err := validateTags(tags); err != nil {
		return launchPlan{}, err
	}
	cpu, mem := deref(def.Cpu), deref(def.Memory)
	if in.Overrides != nil && in.Overrides.Cpu != nil {
		cpu = *in.Overrides.Cpu
	}
	if in.Overrides != nil && in.Overrides.Memory != nil {
		mem = *in.Overrides.Memory
	}
	if cpu == "" && need.CPU > 0 {
		cpu = strconv.FormatInt(need.CPU, 10)
	}
	if mem == "" && need.Memory > 0 {
		mem = strconv.FormatInt(need.Memory, 10)
	}
	spec := taskSpecRecord{
		Cluster: cluster, TaskDefinitionARN: deref(def.TaskDefinitionArn), Def: def, Overrides: in.Overrides,
		Group: group, StartedBy: deref(in.StartedBy), LaunchType: string(ecsapi.LaunchTypeEc2),
		CPU: cpu, Memory: mem, Reserved: need, DesiredState: taskRunning, Version: 1,
	}
	return launchPlan{spec: spec, tags: tags, subnetID: subnetID,
		req: placementRequest{Need: need, Requires: overrideRequires(def, in.Overrides), Awsvpc: awsvpc, Subnets: subnets, Group: group, Constraints: constraints}}, nil
}

// overrideRequires is the definition's requiresAttributes plus what its
// role overrides need, as if the definition named those roles: a task role
// needs the agent's task-iam-role capability, an execution role the
// capabilities that use it.
func overrideRequires(def ecsapi.TaskDefinition, ov *ecsapi.TaskOverride) []ecsapi.Attribute {
	out := def.RequiresAttributes
	if ov == nil {
		return out
	}
	add := func(name string) {
		if !slices.ContainsFunc(out, func(a ecsapi.Attribute) bool { return a.Name == name }) {
			out = append(slices.Clip(out), ecsapi.Attribute{Name: name})
		}
	}
	if deref(ov.TaskRoleArn) != "" {
		add(capLegacy + "task-iam-role")
		if networkMode(def) == ecsapi.NetworkModeHost {
			add(capLegacy + "task-iam-role-network-host")
		}
	}
	if deref(ov.ExecutionRoleArn) != "" {
		for _, cd := range def.ContainerDefinitions {
			if ecrImageRE.MatchString(deref(cd.Image)) {
				add(capAttr + "execution-role-ecr-pull")
			}
			if lc := cd.LogConfiguration; lc != nil && lc.LogDriver == ecsapi.LogDriverAwslogs {
				add(capAttr + "execution-role-awslogs")
			}
		}
	}
	return out
}

// validateOverrides checks the overrides against the definition.
func validateOverrides(def ecsapi.TaskDefinition, ov *ecsapi.TaskOverride) error {
	if ov == nil {
		return nil
	}
	if len(ov.InferenceAcceleratorOverrides) > 0 {
		return invalidParam("inferenceAcceleratorOverrides are not supported.")
	}
	if ov.EphemeralStorage != nil {
		return invalidParam("ephemeralStorage overrides are only supported for the FARGATE launch type.")
	}
	seen := map[string]bool{}
	for _, co := range ov.ContainerOverrides {
		name := deref(co.Name)
		found := slices.ContainsFunc(def.ContainerDefinitions, func(cd ecsapi.ContainerDefinition) bool { return deref(cd.Name) == name })
		if !found {
			return invalidParam("Override for container named %s is not a container in the TaskDefinition.", name)
		}
		if seen[name] {
			return invalidParam("Container %s is overridden more than once.", name)
		}
		seen[name] = true
	}
	return nil
}

// replayRunToken answers a RunTask whose clientToken was used before: the
// same result for the same request, ConflictException for another.
func (s *Server) replayRunToken(ctx context.Context, cluster, token, hash string) (*ecsapi.RunTaskResponse, bool, error) {
	rec, rev, err := store.GetJSON[runTokenRecord](ctx, s.st, s.runTokenKey(cluster, token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	arns := make([]string, len(rec.TaskIDs))
	for i, id := range rec.TaskIDs {
		arns[i] = s.taskARN(cluster, id)
	}
	if rec.Hash != hash {
		e := ecsapi.NewConflictException("The clientToken %s was already used by a RunTask request with different parameters.", token)
		e.Fields = map[string]any{"resourceIds": arns}
		return nil, true, e
	}
	if err := s.synced(ctx, rev); err != nil {
		return nil, true, err
	}
	out := &ecsapi.RunTaskResponse{Tasks: []ecsapi.Task{}, Failures: nonNil(rec.Failures)}
	for _, id := range rec.TaskIDs {
		spec, ok1 := s.cachedSpec(cluster, id)
		st, ok2 := s.cachedStatus(cluster, id)
		if ok1 && ok2 {
			out.Tasks = append(out.Tasks, s.taskView(spec, st, false))
		}
	}
	return out, true, nil
}

// launchReq is one launch (a RunTask, StartTask or service batch) in its
// cluster's queue.
type launchReq struct {
	ctx         context.Context
	plan        launchPlan
	token, hash string
	queued      time.Time
	bytes       int // an estimate of what its writes weigh
	done        chan struct{}
	answered    bool // done is closed (only the batch goroutine sets it)
	tasks       []ecsapi.Task
	failures    []ecsapi.Failure
	err         error
}

// answer closes done once.
func (r *launchReq) answer() {
	if !r.answered {
		r.answered = true
		close(r.done)
	}
}

// launchQueue is one cluster's launches waiting for a batch.
type launchQueue struct {
	mu      sync.Mutex
	waiting []*launchReq
	leading bool // a goroutine drains the queue
}

// Limits of one batch's transaction: its writes (each task writes its
// spec, status and maybe tags; each launch its token; each instance its
// reservations; batchOps bounds them) within store.MaxTxnOps, its bytes
// well below etcd's request limit (1.5 MiB; a task spec holds its task
// definition, up to 64 KiB).
const (
	maxBatchOps   = store.MaxTxnOps
	maxBatchBytes = 1 << 20
)

// batchOps is an upper bound of the writes of one launch.
func (r *launchReq) batchOps() int {
	per := 3
	if len(r.plan.tags) > 0 {
		per++
	}
	return r.plan.req.Count*per + 1
}

// launch places the plan's tasks and writes them, with the reservations they
// take and the clientToken record, in one guarded transaction; a conflict
// (another placement, a registration or deregistration on the way) starts
// again from a fresh read.
//
// Placements on one server take turns per cluster: concurrent ones would
// mostly choose the same instances and retry on the guard (the guard still
// arbitrates between servers). So that taking turns does not make every
// launch wait for its own store round trip, the launches that queued while
// one was being written go together: a goroutine of the cluster's queue
// places them one after another against the same snapshot and writes them
// in one transaction (group commit). Each caller waits for its own batch
// only.
func (s *Server) launch(ctx context.Context, cluster string, plan launchPlan, token, hash string) ([]ecsapi.Task, []ecsapi.Failure, error) {
	qv, _ := s.launchQueues.LoadOrStore(cluster, &launchQueue{})
	q := qv.(*launchQueue)
	b, _ := json.Marshal(plan.spec)
	r := &launchReq{ctx: ctx, plan: plan, token: token, hash: hash, queued: time.Now(),
		bytes: (len(b) + 1024) * max(plan.req.Count, 1), done: make(chan struct{})}
	q.mu.Lock()
	q.waiting = append(q.waiting, r)
	lead := !q.leading
	q.leading = true
	q.mu.Unlock()
	if lead {
		go s.drainLaunches(cluster, q)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		// The batch may still write the tasks: the clientToken, when given,
		// finds them on a retry.
		return nil, nil, ctx.Err()
	}
	return r.tasks, r.failures, r.err
}

// drainLaunches runs the cluster's batches until its queue is empty.
func (s *Server) drainLaunches(cluster string, q *launchQueue) {
	for {
		q.mu.Lock()
		batch := q.take()
		if len(batch) == 0 {
			q.leading = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		s.runBatch(cluster, batch)
	}
}

// runBatch is launchBatch answering every launch of the batch whatever
// happens: a panic fails the launches not answered yet (and is logged)
// instead of stranding them, and the queue goes on.
func (s *Server) runBatch(cluster string, batch []*launchReq) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("placement batch failed", "cluster", cluster, "panic", p, "stack", string(debug.Stack()))
			for _, r := range batch {
				if !r.answered {
					r.err = fmt.Errorf("placing tasks: internal error")
					r.answer()
				}
			}
		}
	}()
	s.launchBatch(cluster, batch)
}

// take removes the next batch from the queue: launches in arrival order
// while their writes fit one transaction; an awsvpc launch goes alone (its
// addresses are chosen from the snapshot's), and so does a retry of a
// clientToken already in the batch (one transaction cannot create its
// record twice: the retry's own transaction finds it and replays). q.mu is
// held.
func (q *launchQueue) take() []*launchReq {
	var batch []*launchReq
	ops, bytes := 0, 0
	for len(q.waiting) > 0 {
		r := q.waiting[0]
		sameToken := r.token != "" && slices.ContainsFunc(batch, func(o *launchReq) bool { return o.token == r.token })
		if len(batch) > 0 && (ops+r.batchOps() > maxBatchOps || bytes+r.bytes > maxBatchBytes ||
			r.plan.req.Awsvpc || batch[0].plan.req.Awsvpc || sameToken) {
			break
		}
		batch = append(batch, r)
		ops, bytes = ops+r.batchOps(), bytes+r.bytes
		q.waiting = q.waiting[1:]
	}
	return batch
}

// launchBatch places and writes a batch of launches (see launch), then
// answers each of them.
func (s *Server) launchBatch(cluster string, batch []*launchReq) {
	st := &s.stats
	mu := s.clusterLaunchMu(cluster)
	mu.Lock()
	defer mu.Unlock()
	t0 := time.Now()
	defer addSince(&st.total, t0)
	for _, r := range batch {
		st.wait.Add(int64(t0.Sub(r.queued)))
	}
	// The writes must not fail for one caller going away: the others
	// wait for them too.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), time.Minute)
	defer cancel()
	live := batch[:0:0]
	for _, r := range batch {
		if r.ctx.Err() != nil {
			r.err = r.ctx.Err()
			r.answer()
			continue
		}
		live = append(live, r)
	}
	batch = live
	for attempt := 0; len(batch) > 0; attempt++ {
		// The cache is current for this server's own placements (a batch
		// waits for it after its write); after a conflict, read the store.
		ps, err := s.readPlacementState(ctx, cluster, attempt == 0)
		if err != nil {
			s.answerAll(batch, err)
			return
		}
		t0 = addSince(&st.read, t0)
		now := s.now()
		var (
			ops     []store.Op
			add     = map[string]map[string]taskReservation{}
			results = make([]launchResult, len(batch))
		)
		for k, r := range batch {
			var launchOps []store.Op
			results[k], launchOps = s.placeLaunch(cluster, ps, r, now, add)
			ops = append(ops, launchOps...)
		}
		ops = append(ops, s.reservationOps(cluster, ps, add)...)
		t0 = addSince(&st.schedule, t0)
		var rev int64
		if len(ops) > 0 {
			rev, err = s.st.Txn(ctx, ops...)
		}
		t0 = addSince(&st.txn, t0)
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			st.conflicts.Add(1)
			// Nothing was written: the snapshot forgets the batch's tasks.
			s.placementDirty(cluster, add)
			if k := slices.IndexFunc(batch, func(r *launchReq) bool { return r.token != "" && ce.Key == s.runTokenKey(cluster, r.token) }); k >= 0 {
				// A concurrent request with the same token won: answer this
				// one as that request was answered.
				r := batch[k]
				out, done, err := s.replayRunToken(ctx, cluster, r.token, r.hash)
				if err != nil || done {
					if out != nil {
						r.tasks, r.failures = out.Tasks, out.Failures
					}
					r.err = err
					r.answer()
					batch = slices.Delete(slices.Clone(batch), k, k+1)
					continue
				}
			}
			if attempt < launchAttempts {
				if attempt > 2 {
					// Many placements at once: let the others land.
					time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				}
				continue
			}
		}
		if err != nil {
			s.placementDirty(cluster, add)
			s.answerAll(batch, fmt.Errorf("placing tasks: %w", err))
			return
		}
		if rev > 0 {
			if err := s.synced(ctx, rev); err != nil {
				s.answerAll(batch, err)
				return
			}
		}
		addSince(&st.syncDur, t0)
		st.batches.Add(1)
		for k, r := range batch {
			res := results[k]
			st.launches.Add(1)
			st.tasks.Add(int64(len(res.specs)))
			r.tasks = make([]ecsapi.Task, len(res.specs))
			for i := range res.specs {
				r.tasks[i] = s.taskView(res.specs[i], res.statuses[i], false)
			}
			r.failures = res.failures
			if res.explain != "" {
				s.log.Info("tasks left unplaced", "cluster", cluster, "taskDefinition", r.plan.spec.TaskDefinitionARN,
					"placed", len(res.specs), "count", r.plan.req.Count, "placement", res.explain)
				if r.plan.explain != nil {
					*r.plan.explain = res.explain
				}
			}
			r.answer()
		}
		return
	}
}

// launchResult is what one launch of a batch placed.
type launchResult struct {
	specs    []taskSpecRecord
	statuses []taskStatusRecord
	failures []ecsapi.Failure
	explain  string
}

// placeLaunch places launch r on ps and books its tasks there, so the next
// launch of the batch sees them (as the store will show them: pending, not
// running). It returns the writes of its tasks and clientToken, and adds
// its reservations to add.
func (s *Server) placeLaunch(cluster string, ps placementState, r *launchReq, now time.Time, add map[string]map[string]taskReservation) (launchResult, []store.Op) {
	plan := r.plan
	p := placeProviders(ps, plan.req, plan.providers)
	res := launchResult{failures: s.apiFailures(cluster, p.failures)}
	if len(p.explain) > 0 {
		// The caller sees it too: as the detail of the first failure that
		// has none (ECS leaves resource failures without one).
		res.explain = strings.Join(p.explain, "; ")
		for i := range res.failures {
			if res.failures[i].Detail == nil {
				res.failures[i].Detail = ptr("Placement: " + res.explain + ".")
				break
			}
		}
	}
	var ops []store.Op
	instances := make([]string, 0, len(p.assigned))
	for _, a := range p.assigned {
		spec, status := s.newTask(plan, a, ps.entries[a.InstanceID].pi, now, r.token)
		res.specs, res.statuses = append(res.specs, spec), append(res.statuses, status)
		if add[a.InstanceID] == nil {
			add[a.InstanceID] = map[string]taskReservation{}
		}
		add[a.InstanceID][spec.ID] = reservationOf(spec)
		instances = append(instances, a.InstanceID)
		sb, _ := json.Marshal(spec)
		tb, _ := json.Marshal(status)
		ops = append(ops,
			store.Op{Key: s.taskSpecKey(cluster, spec.ID), Value: sb, ExpectRev: 0},
			store.Op{Key: s.taskStatusKey(cluster, spec.ID), Value: tb, ExpectRev: 0})
		if len(plan.tags) > 0 {
			ops = append(ops, s.tagsOp(s.taskARN(cluster, spec.ID), plan.tags))
		}
	}
	ps.sched.CommitPending(schedulerRequest(plan.req), instances)
	if r.token != "" {
		tr := runTokenRecord{Hash: r.hash, Failures: res.failures, CreatedAt: now}
		for _, sp := range res.specs {
			tr.TaskIDs = append(tr.TaskIDs, sp.ID)
		}
		b, _ := json.Marshal(tr)
		ops = append(ops, store.Op{Key: s.runTokenKey(cluster, r.token), Value: b, ExpectRev: 0})
	}
	return res, ops
}

// apiFailures are placement failures as RunTask answers them.
func (s *Server) apiFailures(cluster string, pfs []placementFailure) []ecsapi.Failure {
	out := []ecsapi.Failure{}
	for _, f := range pfs {
		fl := ecsapi.Failure{Reason: ptr(f.Reason)}
		if f.ARN != "" {
			arn := f.ARN
			if f.Reason == reasonMissing {
				arn = s.containerInstanceARN(cluster, f.ARN)
			}
			fl.Arn = ptr(arn)
		}
		if f.Detail != "" {
			fl.Detail = ptr(f.Detail)
		}
		out = append(out, fl)
	}
	return out
}

// answerAll fails every launch of a batch with err.
func (s *Server) answerAll(batch []*launchReq, err error) {
	for _, r := range batch {
		r.err = err
		r.answer()
	}
}

// placementDirty makes the cluster's kept snapshot re-derive the
// instances of booked (a batch booked tasks on them that were not written).
func (s *Server) placementDirty(cluster string, booked map[string]map[string]taskReservation) {
	pc := s.placementCacheInit()
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if cs := pc.clusters[cluster]; cs != nil && cs.built {
		for id := range booked {
			cs.dirty[id] = true
		}
	}
}

// clusterLaunchMu is the mutex placements on cluster take turns on.
func (s *Server) clusterLaunchMu(cluster string) *sync.Mutex {
	mu, _ := s.launchMu.LoadOrStore(cluster, &sync.Mutex{})
	return mu.(*sync.Mutex)
}

// newTask builds the spec and initial status of one placed task.
func (s *Server) newTask(plan launchPlan, a assignment, pi placementInstance, now time.Time, token string) (taskSpecRecord, taskStatusRecord) {
	spec := plan.spec
	spec.ID = newID()
	spec.InstanceID = a.InstanceID
	spec.AvailabilityZone = pi.Attributes[availabilityZoneAttr]
	spec.CreatedAt = now
	spec.ClientToken = token
	spec.ContainerIDs = map[string]string{}
	if rec, ok := s.cachedInstance(spec.Cluster, a.InstanceID); ok {
		spec.CapacityProvider = rec.CapacityProvider
	}
	st := taskStatusRecord{ID: spec.ID, Cluster: spec.Cluster, InstanceID: a.InstanceID,
		LastStatus: taskPending, LaunchType: spec.LaunchType, Version: 1}
	for _, cd := range spec.Def.ContainerDefinitions {
		name := deref(cd.Name)
		spec.ContainerIDs[name] = awsapi.NewRequestID()
		st.Containers = append(st.Containers, containerStatusRecord{Name: name, LastStatus: taskPending})
	}
	if a.IPv4.IsValid() {
		spec.Network = &taskNetworkRecord{TaskNetwork: agentproto.TaskNetwork{
			AttachmentID: awsapi.NewRequestID(), IPv4: a.IPv4.String(), Subnet: pi.Subnet.String(),
			Gateway: awsvpcGateway(pi.Subnet).String(), MAC: macFor(a.IPv4),
		}}
		if id := pi.Attributes[scheduler.SubnetAttribute]; id != "" {
			spec.Network.SubnetID = id
		} else {
			spec.Network.SubnetID = plan.subnetID
		}
		spec.Network.ENI = "eni-" + spec.ID[:17]
		st.LastStatus = taskProvisioning
	}
	return spec, st
}
