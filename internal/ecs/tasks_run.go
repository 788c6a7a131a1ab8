package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
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
	switch {
	case awsvpc && (in.NetworkConfiguration == nil || in.NetworkConfiguration.AwsvpcConfiguration == nil):
		return launchPlan{}, invalidParam("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	case awsvpc:
		if subnets := in.NetworkConfiguration.AwsvpcConfiguration.Subnets; len(subnets) > 0 {
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
		req: placementRequest{Need: need, Requires: def.RequiresAttributes, Awsvpc: awsvpc, Group: group, Constraints: constraints}}, nil
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

// launch places the plan's tasks and writes them, with the reservations they
// take and the clientToken record, in one guarded transaction; a conflict
// (another placement, a registration or deregistration on the way) starts
// again from a fresh read.
func (s *Server) launch(ctx context.Context, cluster string, plan launchPlan, token, hash string) ([]ecsapi.Task, []ecsapi.Failure, error) {
	// Placements on one server take turns per cluster: concurrent ones
	// would mostly choose the same instances and retry on the guard. The
	// guard still arbitrates between servers.
	st := &s.stats
	start := time.Now()
	mu := s.clusterLaunchMu(cluster)
	mu.Lock()
	defer mu.Unlock()
	start = addSince(&st.wait, start)
	defer addSince(&st.total, start)
	for attempt := 0; ; attempt++ {
		t0 := time.Now()
		// The cache is current for this server's own placements (launch
		// waits for it after each write); after a conflict, read the store.
		ps, err := s.readPlacementState(ctx, cluster, attempt == 0)
		if err != nil {
			return nil, nil, err
		}
		t0 = addSince(&st.read, t0)
		assigned, pfs := placeProviders(ps, plan.req, plan.providers)
		now := s.now()
		var (
			specs    []taskSpecRecord
			statuses []taskStatusRecord
			ops      []store.Op
			add      = map[string]map[string]taskReservation{}
		)
		for _, a := range assigned {
			spec, st := s.newTask(plan, a, ps.entries[a.InstanceID].pi, now, token)
			specs, statuses = append(specs, spec), append(statuses, st)
			if add[a.InstanceID] == nil {
				add[a.InstanceID] = map[string]taskReservation{}
			}
			add[a.InstanceID][spec.ID] = reservationOf(spec)
		}
		failures := []ecsapi.Failure{}
		var explain []string
		for _, f := range pfs {
			if f.Explain != "" {
				explain = append(explain, f.Explain)
				continue
			}
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
			failures = append(failures, fl)
		}
		if token != "" {
			tr := runTokenRecord{Hash: hash, Failures: failures, CreatedAt: now}
			for _, sp := range specs {
				tr.TaskIDs = append(tr.TaskIDs, sp.ID)
			}
			b, _ := json.Marshal(tr)
			ops = append(ops, store.Op{Key: s.runTokenKey(cluster, token), Value: b, ExpectRev: 0})
		}
		ops = append(ops, s.reservationOps(cluster, ps, add)...)
		for i := range specs {
			sb, _ := json.Marshal(specs[i])
			tb, _ := json.Marshal(statuses[i])
			ops = append(ops,
				store.Op{Key: s.taskSpecKey(cluster, specs[i].ID), Value: sb, ExpectRev: 0},
				store.Op{Key: s.taskStatusKey(cluster, specs[i].ID), Value: tb, ExpectRev: 0})
			if len(plan.tags) > 0 {
				ops = append(ops, s.tagsOp(s.taskARN(cluster, specs[i].ID), plan.tags))
			}
		}
		if len(ops) == 0 {
			return []ecsapi.Task{}, failures, nil
		}
		if len(explain) > 0 {
			s.log.Info("tasks left unplaced", "cluster", cluster, "taskDefinition", plan.spec.TaskDefinitionARN,
				"placed", len(assigned), "count", plan.req.Count, "placement", strings.Join(explain, "; "))
			if plan.explain != nil {
				*plan.explain = strings.Join(explain, "; ")
			}
		}
		t0 = addSince(&st.schedule, t0)
		rev, err := s.st.Txn(ctx, ops...)
		t0 = addSince(&st.txn, t0)
		var ce *store.ConflictError
		if errors.As(err, &ce) {
			st.conflicts.Add(1)
			if token != "" && ce.Key == s.runTokenKey(cluster, token) {
				// A concurrent request with the same token won.
				out, done, err := s.replayRunToken(ctx, cluster, token, hash)
				if err != nil {
					return nil, nil, err
				}
				if done {
					return out.Tasks, out.Failures, nil
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
			return nil, nil, fmt.Errorf("placing tasks: %w", err)
		}
		if err := s.synced(ctx, rev); err != nil {
			return nil, nil, err
		}
		addSince(&st.syncDur, t0)
		st.launches.Add(1)
		st.tasks.Add(int64(len(specs)))
		tasks := make([]ecsapi.Task, len(specs))
		for i := range specs {
			tasks[i] = s.taskView(specs[i], statuses[i], false)
		}
		return tasks, failures, nil
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
		if id := pi.Attributes["ecs.subnet-id"]; id != "" {
			spec.Network.SubnetID = id
		} else {
			spec.Network.SubnetID = plan.subnetID
		}
		spec.Network.ENI = "eni-" + spec.ID[:17]
		st.LastStatus = taskProvisioning
	}
	return spec, st
}
