package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/store"
)

// A task is two records with one writer each:
//
//   - the spec, taskspecs/<cluster>/<id>: what the task should be (definition
//     snapshot, instance, overrides, desired status and the user's stop
//     request). RunTask/StartTask create it; StopTask is its only other writer.
//   - the status, tasks/<cluster>/<id>: what the agent reported (lastStatus,
//     containers, timestamps, the stop the task caused itself, health).
//     RunTask/StartTask create it in the same transaction as the spec; from
//     then on only the agent operations (SubmitTaskStateChange,
//     SubmitContainerStateChange, link health reports) write it — except for
//     a task orphaned by a forced deregistration, which StopTask completes
//     since no agent will ever report again.
//
// The status record carries lastStatus and launchType under the names
// counts.go reads for cluster statistics. What DescribeTasks shows is derived
// from both (taskView).

// Task statuses. Stored lastStatus is the agent's view (PROVISIONING and
// PENDING until it reports); STOPPING is derived for display.
const (
	taskProvisioning = "PROVISIONING"
	taskPending      = "PENDING"
	taskActivating   = "ACTIVATING"
	taskRunning      = "RUNNING"
	taskStopping     = "STOPPING"
	taskStopped      = "STOPPED"
)

// statusRank orders task and container statuses in lifecycle order, so a
// report never moves a status backwards (0: unknown).
func statusRank(s string) int {
	switch s {
	case taskProvisioning:
		return 1
	case taskPending:
		return 2
	case taskActivating:
		return 3
	case taskRunning:
		return 4
	case taskStopping:
		return 5
	case taskStopped:
		return 6
	}
	return 0
}

// Stop codes (ecsapi.TaskStopCode values).
const (
	stopTaskFailedToStart   = string(ecsapi.TaskStopCodeTaskFailedToStart)
	stopEssentialExited     = string(ecsapi.TaskStopCodeEssentialContainerExited)
	stopUserInitiated       = string(ecsapi.TaskStopCodeUserInitiated)
	essentialExitedReason   = "Essential container in task exited"
	defaultUserStopReason   = "Task stopped by user"
	orphanStopReason        = "Task stopped: its container instance was deregistered"
	eniAttachmentType       = "ElasticNetworkInterface"
	awsvpcSubnetAttr        = agentproto.AttributeAwsvpcSubnet
	availabilityZoneAttr    = "ecs.availability-zone"
	defaultStoppedRetention = time.Hour
)

// taskSpecRecord is the desired side of a task.
type taskSpecRecord struct {
	ID                string                `json:"id"`
	Cluster           string                `json:"cluster"`
	InstanceID        string                `json:"containerInstanceId"`
	TaskDefinitionARN string                `json:"taskDefinitionArn"`
	Def               ecsapi.TaskDefinition `json:"def"` // snapshot at launch
	Overrides         *ecsapi.TaskOverride  `json:"overrides,omitempty"`
	Group             string                `json:"group"`
	StartedBy         string                `json:"startedBy,omitempty"`
	LaunchType        string                `json:"launchType"`
	CapacityProvider  string                `json:"capacityProviderName,omitempty"`
	AvailabilityZone  string                `json:"availabilityZone,omitempty"`
	// CPU and Memory are the task-level values shown (after overrides; the
	// containers' sums when the definition has none).
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	// ContainerIDs maps container names to the ids in their ARNs.
	ContainerIDs map[string]string  `json:"containerIds"`
	Network      *taskNetworkRecord `json:"network,omitempty"`
	Reserved     resources          `json:"reserved"`
	CreatedAt    time.Time          `json:"createdAt"`
	DesiredState string             `json:"desiredStatus"`
	Stop         *stopRequest       `json:"stop,omitempty"` // StopTask
	// ProtectedUntil is when the task's scale-in protection expires
	// (UpdateTaskProtection); zero when it is not protected.
	ProtectedUntil time.Time `json:"protectedUntil,omitzero"`
	Version        int64     `json:"version"`
	ClientToken    string    `json:"clientToken,omitempty"`
}

// taskNetworkRecord is an awsvpc task's interface.
type taskNetworkRecord struct {
	agentproto.TaskNetwork
	ENI      string `json:"eni"`
	SubnetID string `json:"subnetId,omitempty"`
}

// stopRequest is why and when a task was asked to stop.
type stopRequest struct {
	Code   string    `json:"code,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// taskStatusRecord is the observed side of a task.
type taskStatusRecord struct {
	ID         string `json:"id"`
	Cluster    string `json:"cluster"`
	InstanceID string `json:"containerInstanceId"`
	// LastStatus and LaunchType are read by counts.go (statusFields).
	LastStatus         string                  `json:"lastStatus"`
	LaunchType         string                  `json:"launchType"`
	Containers         []containerStatusRecord `json:"containers"`
	ConnectivityAt     time.Time               `json:"connectivityAt,omitzero"`
	PullStartedAt      time.Time               `json:"pullStartedAt,omitzero"`
	PullStoppedAt      time.Time               `json:"pullStoppedAt,omitzero"`
	StartedAt          time.Time               `json:"startedAt,omitzero"`
	StoppedAt          time.Time               `json:"stoppedAt,omitzero"`
	ExecutionStoppedAt time.Time               `json:"executionStoppedAt,omitzero"`
	// Stop is the stop the task caused itself (an essential container
	// exited, it failed to start), as opposed to the spec's StopTask.
	Stop         *stopRequest      `json:"stop,omitempty"`
	Reason       string            `json:"reason,omitempty"` // last task-level reason reported
	HealthStatus string            `json:"healthStatus,omitempty"`
	Attachments  map[string]string `json:"attachments,omitempty"` // attachment id -> status reported
	Version      int64             `json:"version"`
}

// containerStatusRecord is one container as the agent reported it.
type containerStatusRecord struct {
	Name            string                  `json:"name"`
	RuntimeID       string                  `json:"runtimeId,omitempty"`
	ImageDigest     string                  `json:"imageDigest,omitempty"`
	LastStatus      string                  `json:"lastStatus"`
	ExitCode        *int32                  `json:"exitCode,omitempty"`
	Reason          string                  `json:"reason,omitempty"`
	NetworkBindings []ecsapi.NetworkBinding `json:"networkBindings,omitempty"`
	HealthStatus    string                  `json:"healthStatus,omitempty"`
}

func (s *Server) taskSpecKey(cluster, id string) string   { return s.key("taskspecs", cluster, id) }
func (s *Server) taskStatusKey(cluster, id string) string { return s.key("tasks", cluster, id) }

func (s *Server) taskARN(cluster, id string) string { return s.arn(resTask, cluster, id) }

func (s *Server) containerARN(cluster, taskID, containerID string) string {
	return s.arn("container", cluster, taskID, containerID)
}

// taskID resolves a task reference (id or ARN) within a cluster; ok is false
// for an ARN of another cluster, account or region, or a malformed one.
func (s *Server) taskID(cluster, ref string) (string, bool) {
	return s.scopedID(resTask, cluster, ref)
}

func (s *Server) cachedSpec(cluster, id string) (taskSpecRecord, bool) {
	r, _, err := store.GetCachedJSON[taskSpecRecord](s.cache, s.taskSpecKey(cluster, id))
	return r, err == nil
}

func (s *Server) cachedStatus(cluster, id string) (taskStatusRecord, bool) {
	r, _, err := store.GetCachedJSON[taskStatusRecord](s.cache, s.taskStatusKey(cluster, id))
	return r, err == nil
}

// freshSpec reads a spec from the cache, or from the store when this
// server's cache has not seen it yet (a task created through another server).
func (s *Server) freshSpec(ctx context.Context, cluster, id string) (taskSpecRecord, error) {
	if r, ok := s.cachedSpec(cluster, id); ok {
		return r, nil
	}
	r, _, err := store.GetJSON[taskSpecRecord](ctx, s.st, s.taskSpecKey(cluster, id))
	return r, err
}

// desiredStatus is the effective desired status: STOPPED once the user or
// the task itself asked to stop, or once it stopped.
func desiredStatus(spec taskSpecRecord, st taskStatusRecord) string {
	if spec.DesiredState == taskStopped || st.Stop != nil || st.LastStatus == taskStopped {
		return taskStopped
	}
	return taskRunning
}

// effectiveStop is the first stop request of either side (nil if none).
func effectiveStop(spec taskSpecRecord, st taskStatusRecord) *stopRequest {
	switch {
	case spec.Stop == nil:
		return st.Stop
	case st.Stop == nil:
		return spec.Stop
	case st.Stop.At.Before(spec.Stop.At):
		return st.Stop
	}
	return spec.Stop
}

// lastStatus is the status DescribeTasks shows: the agent's, except that a
// running task asked to stop is STOPPING until the agent reports it stopped.
func lastStatus(spec taskSpecRecord, st taskStatusRecord) string {
	if st.LastStatus == taskRunning && desiredStatus(spec, st) == taskStopped {
		return taskStopping
	}
	return st.LastStatus
}

func (st *taskStatusRecord) container(name string) *containerStatusRecord {
	for i := range st.Containers {
		if st.Containers[i].Name == name {
			return &st.Containers[i]
		}
	}
	return nil
}

// taskView renders a task for the API.
func (s *Server) taskView(spec taskSpecRecord, st taskStatusRecord, withTags bool) ecsapi.Task {
	arn := s.taskARN(spec.Cluster, spec.ID)
	last := lastStatus(spec, st)
	lt := ecsapi.LaunchType(spec.LaunchType)
	t := ecsapi.Task{
		TaskArn:              ptr(arn),
		ClusterArn:           ptr(s.clusterARN(spec.Cluster)),
		TaskDefinitionArn:    ptr(spec.TaskDefinitionARN),
		ContainerInstanceArn: ptr(s.containerInstanceARN(spec.Cluster, spec.InstanceID)),
		LastStatus:           ptr(last),
		DesiredStatus:        ptr(desiredStatus(spec, st)),
		Group:                ptr(spec.Group),
		LaunchType:           &lt,
		CreatedAt:            awsapiTime(spec.CreatedAt),
		PullStartedAt:        awsapiTime(st.PullStartedAt),
		PullStoppedAt:        awsapiTime(st.PullStoppedAt),
		StartedAt:            awsapiTime(st.StartedAt),
		StoppedAt:            awsapiTime(st.StoppedAt),
		ExecutionStoppedAt:   awsapiTime(st.ExecutionStoppedAt),
		ConnectivityAt:       awsapiTime(st.ConnectivityAt),
		Version:              ptr(spec.Version + st.Version - 1),
		Overrides:            taskOverridesView(spec),
		EnableExecuteCommand: ptr(false),
		Attachments:          []ecsapi.Attachment{},
		Containers:           []ecsapi.Container{},
		Tags:                 []ecsapi.Tag{},
		HealthStatus:         ptr(healthOrUnknown(st.HealthStatus)),
	}
	if !st.ConnectivityAt.IsZero() {
		t.Connectivity = ptr(ecsapi.ConnectivityConnected)
	}
	if spec.AvailabilityZone != "" {
		t.AvailabilityZone = ptr(spec.AvailabilityZone)
	}
	if spec.StartedBy != "" {
		t.StartedBy = ptr(spec.StartedBy)
	}
	if spec.CapacityProvider != "" {
		t.CapacityProviderName = ptr(spec.CapacityProvider)
	}
	if spec.CPU != "" {
		t.Cpu = ptr(spec.CPU)
	}
	if spec.Memory != "" {
		t.Memory = ptr(spec.Memory)
	}
	if stop := effectiveStop(spec, st); stop != nil {
		t.StoppingAt = awsapiTime(stop.At)
		if stop.Code != "" {
			t.StopCode = ptr(ecsapi.TaskStopCode(stop.Code))
		}
		if stop.Reason != "" {
			t.StoppedReason = ptr(stop.Reason)
		}
	} else if st.LastStatus == taskStopped && st.Reason != "" {
		t.StoppedReason = ptr(st.Reason)
	}
	var nics []ecsapi.NetworkInterface
	if n := spec.Network; n != nil {
		t.Attachments = append(t.Attachments, ecsapi.Attachment{
			Id:     ptr(n.AttachmentID),
			Type:   ptr(eniAttachmentType),
			Status: ptr(attachmentStatus(st, n.AttachmentID)),
			Details: []ecsapi.KeyValuePair{
				{Name: ptr("subnetId"), Value: ptr(n.SubnetID)},
				{Name: ptr("networkInterfaceId"), Value: ptr(n.ENI)},
				{Name: ptr("macAddress"), Value: ptr(n.MAC)},
				{Name: ptr("privateIPv4Address"), Value: ptr(n.IPv4)},
			},
		})
		nics = []ecsapi.NetworkInterface{{AttachmentId: ptr(n.AttachmentID), PrivateIpv4Address: ptr(n.IPv4)}}
	}
	for _, cd := range spec.Def.ContainerDefinitions {
		name := deref(cd.Name)
		c := ecsapi.Container{
			ContainerArn:      ptr(s.containerARN(spec.Cluster, spec.ID, spec.ContainerIDs[name])),
			TaskArn:           ptr(arn),
			Name:              ptr(name),
			Image:             cd.Image,
			LastStatus:        ptr(taskPending),
			NetworkBindings:   []ecsapi.NetworkBinding{},
			NetworkInterfaces: nonNil(nics),
			HealthStatus:      ptr(ecsapi.HealthStatusUnknown),
			Cpu:               ptr(strconv.Itoa(int(deref(cd.Cpu)))),
		}
		co := containerOverride(spec.Overrides, name)
		mem, res := cd.Memory, cd.MemoryReservation
		if co != nil {
			if co.Cpu != nil {
				c.Cpu = ptr(strconv.Itoa(int(*co.Cpu)))
			}
			if co.Memory != nil {
				mem = co.Memory
			}
			if co.MemoryReservation != nil {
				res = co.MemoryReservation
			}
		}
		if mem != nil {
			c.Memory = ptr(strconv.Itoa(int(*mem)))
		}
		if res != nil {
			c.MemoryReservation = ptr(strconv.Itoa(int(*res)))
		}
		if cs := st.container(name); cs != nil {
			c.LastStatus = ptr(cs.LastStatus)
			if cs.RuntimeID != "" {
				c.RuntimeId = ptr(cs.RuntimeID)
			}
			if cs.ImageDigest != "" {
				c.ImageDigest = ptr(cs.ImageDigest)
			}
			c.ExitCode = cs.ExitCode
			if cs.Reason != "" {
				c.Reason = ptr(cs.Reason)
			}
			c.NetworkBindings = nonNil(cs.NetworkBindings)
			c.HealthStatus = ptr(healthOrUnknown(cs.HealthStatus))
		}
		if st.LastStatus == taskStopped {
			c.LastStatus = ptr(taskStopped)
		}
		t.Containers = append(t.Containers, c)
	}
	if withTags {
		t.Tags = nonNil(s.tagsOf(arn))
	}
	return t
}

func healthOrUnknown(h string) ecsapi.HealthStatus {
	if h == "" {
		return ecsapi.HealthStatusUnknown
	}
	return ecsapi.HealthStatus(h)
}

// attachmentStatus is the ENI attachment's status: what the agent reported,
// else derived from the task's.
func attachmentStatus(st taskStatusRecord, id string) string {
	if v := st.Attachments[id]; v != "" {
		return v
	}
	switch st.LastStatus {
	case taskProvisioning:
		return "PRECREATED"
	case taskStopped:
		return "DELETED"
	}
	return "ATTACHED"
}

// taskOverridesView lists every container, as ECS does, merged with the
// overrides given at launch.
func taskOverridesView(spec taskSpecRecord) *ecsapi.TaskOverride {
	out := ecsapi.TaskOverride{ContainerOverrides: []ecsapi.ContainerOverride{}, InferenceAcceleratorOverrides: []ecsapi.InferenceAcceleratorOverride{}}
	if spec.Overrides != nil {
		out = *spec.Overrides
		out.ContainerOverrides = nil
		if out.InferenceAcceleratorOverrides == nil {
			out.InferenceAcceleratorOverrides = []ecsapi.InferenceAcceleratorOverride{}
		}
	}
	for _, cd := range spec.Def.ContainerDefinitions {
		if co := containerOverride(spec.Overrides, deref(cd.Name)); co != nil {
			out.ContainerOverrides = append(out.ContainerOverrides, *co)
			continue
		}
		out.ContainerOverrides = append(out.ContainerOverrides, ecsapi.ContainerOverride{Name: cd.Name})
	}
	return &out
}

// DescribeTasks implements ecsapi.Handler.
func (s *Server) DescribeTasks(ctx context.Context, in *ecsapi.DescribeTasksRequest) (*ecsapi.DescribeTasksResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if len(in.Tasks) == 0 {
		return nil, invalidParam("Tasks cannot be empty.")
	}
	if len(in.Tasks) > 100 {
		return nil, invalidParam("DescribeTasks accepts at most 100 tasks; %d were given.", len(in.Tasks))
	}
	withTags := false
	for _, f := range in.Include {
		if f == ecsapi.TaskFieldTags {
			withTags = true
		}
	}
	out := &ecsapi.DescribeTasksResponse{Tasks: []ecsapi.Task{}, Failures: []ecsapi.Failure{}}
	for _, ref := range in.Tasks {
		id, ok := s.taskID(c.Name, ref)
		var spec taskSpecRecord
		var st taskStatusRecord
		found := false
		if ok {
			spec, found = s.cachedSpec(c.Name, id)
			if found {
				st, found = s.cachedStatus(c.Name, id)
			}
		}
		if !found {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = s.taskARN(c.Name, ref)
			}
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(arn), Reason: ptr(reasonMissing)})
			continue
		}
		out.Tasks = append(out.Tasks, s.taskView(spec, st, withTags))
	}
	return out, nil
}

// ListTasks implements ecsapi.Handler.
func (s *Server) ListTasks(ctx context.Context, in *ecsapi.ListTasksRequest) (*ecsapi.ListTasksResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if in.StartedBy != nil && (in.Family != nil || in.ContainerInstance != nil || in.ServiceName != nil) {
		return nil, invalidParam("startedBy cannot be combined with family, containerInstance or serviceName.")
	}
	if in.ServiceName != nil && in.Family != nil {
		return nil, invalidParam("serviceName cannot be combined with family.")
	}
	if in.DaemonName != nil {
		return nil, invalidParam("Managed daemons are not supported by Berth yet.")
	}
	var instanceID string
	if in.ContainerInstance != nil {
		id, ok := s.instanceID(c.Name, *in.ContainerInstance)
		if !ok {
			return nil, invalidParam("containerInstance %q is not a container instance id or ARN of cluster %s.", *in.ContainerInstance, c.Name)
		}
		instanceID = id
	}
	if in.ServiceName != nil {
		if _, ok := s.cache.Get(s.key("services", c.Name, *in.ServiceName)); !ok {
			return nil, ecsapi.NewServiceNotFoundException("Service not found.")
		}
	}
	desired := taskRunning
	if in.DesiredStatus != nil {
		desired = string(*in.DesiredStatus)
	}
	var ids []string
	for _, kv := range s.cache.List(s.key("taskspecs", c.Name) + "/") {
		var spec taskSpecRecord
		if json.Unmarshal(kv.Value, &spec) != nil {
			continue
		}
		st, ok := s.cachedStatus(c.Name, spec.ID)
		if !ok {
			continue
		}
		switch {
		case desiredStatus(spec, st) != desired:
		case instanceID != "" && spec.InstanceID != instanceID:
		case in.Family != nil && deref(spec.Def.Family) != *in.Family:
		case in.StartedBy != nil && spec.StartedBy != *in.StartedBy:
		case in.ServiceName != nil && spec.Group != "service:"+*in.ServiceName:
		case in.LaunchType != nil && spec.LaunchType != string(*in.LaunchType):
		default:
			ids = append(ids, spec.ID)
		}
	}
	pg, next, err := page(ids, in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	out := &ecsapi.ListTasksResponse{TaskArns: []string{}, NextToken: next}
	for _, id := range pg {
		out.TaskArns = append(out.TaskArns, s.taskARN(c.Name, id))
	}
	return out, nil
}

// StopTask implements ecsapi.Handler: the desired status becomes STOPPED
// (stopCode UserInitiated, stoppedReason the given reason); the agent stops
// the containers and reports. A task whose instance was deregistered with
// force has no agent left: it is marked STOPPED at once.
func (s *Server) StopTask(ctx context.Context, in *ecsapi.StopTaskRequest) (*ecsapi.StopTaskResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	id, ok := s.taskID(c.Name, in.Task)
	if !ok {
		return nil, invalidParam("The referenced task was not found.")
	}
	reason := deref(in.Reason)
	if reason == "" {
		reason = defaultUserStopReason
	}
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	for attempt := 0; ; attempt++ {
		specKV, err := s.st.Get(ctx, s.taskSpecKey(c.Name, id))
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalidParam("The referenced task was not found.")
		}
		if err != nil {
			return nil, err
		}
		var spec taskSpecRecord
		if err := json.Unmarshal(specKV.Value, &spec); err != nil {
			return nil, err
		}
		if spec.DesiredState == taskStopped {
			st, _ := s.cachedStatus(c.Name, id)
			return &ecsapi.StopTaskResponse{Task: ptr(s.taskView(spec, st, false))}, nil
		}
		ops, st, err := s.stopOps(ctx, c.Name, specKV, &spec, stopRequest{Code: stopUserInitiated, Reason: reason, At: s.now()})
		if err != nil {
			return nil, err
		}
		rev, err := s.st.Txn(ctx, ops...)
		if errors.Is(err, store.ErrConflict) && attempt < store.UpdateAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.synced(ctx, rev); err != nil {
			return nil, err
		}
		return &ecsapi.StopTaskResponse{Task: ptr(s.taskView(spec, st, false))}, nil
	}
}

// stopOps builds the guarded writes that ask a task to stop: its spec's
// desired status, and, for a task orphaned by a forced deregistration (no
// agent will ever report it), its status STOPPED at once. The instance is
// read from the store, not a possibly lagging cache. It returns the task's
// status as it will be after the writes.
func (s *Server) stopOps(ctx context.Context, cluster string, specKV store.KV, spec *taskSpecRecord, stop stopRequest) ([]store.Op, taskStatusRecord, error) {
	spec.DesiredState = taskStopped
	spec.Stop = &stop
	spec.Version++
	b, _ := json.Marshal(spec)
	ops := []store.Op{{Key: specKV.Key, Value: b, ExpectRev: specKV.ModRevision}}
	var st taskStatusRecord
	stKV, err := s.st.Get(ctx, s.taskStatusKey(cluster, spec.ID))
	if err != nil {
		return nil, st, err
	}
	if err := json.Unmarshal(stKV.Value, &st); err != nil {
		return nil, st, err
	}
	_, err = s.st.Get(ctx, s.instanceKey(cluster, spec.InstanceID))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, st, err
	}
	if errors.Is(err, store.ErrNotFound) && st.LastStatus != taskStopped {
		st.LastStatus = taskStopped
		st.StoppedAt, st.ExecutionStoppedAt = stop.At, stop.At
		st.Reason = orphanStopReason
		st.Version++
		sb, _ := json.Marshal(st)
		ops = append(ops, store.Op{Key: stKV.Key, Value: sb, ExpectRev: stKV.ModRevision})
	}
	return ops, st, nil
}
