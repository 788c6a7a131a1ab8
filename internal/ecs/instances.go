package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/cql"
	"github.com/berth-dev/berth/internal/store"
)

// A container instance is spread over records with one writer each:
//
//   - instances/<cluster>/<id>: registration (RegisterContainerInstance) and
//     status (UpdateContainerInstancesState);
//   - attributes/<cluster>/<id>: registration and the attribute API;
//   - reservations/<cluster>/<id>: what tasks reserve (placement; see
//     placement_store.go);
//   - agents/<cluster>/<id>: whether the agent's link is up (the link; see
//     link_state.go).

// Container instance statuses.
const (
	instActive   = "ACTIVE"
	instDraining = "DRAINING"
	instInactive = "INACTIVE"
)

// instanceRecord is a container instance as stored under instances/<cluster>/<id>.
type instanceRecord struct {
	ID               string              `json:"id"`
	Cluster          string              `json:"cluster"`
	Status           string              `json:"status"`
	StatusReason     string              `json:"statusReason,omitempty"`
	EC2InstanceID    string              `json:"ec2InstanceId,omitempty"`
	Version          int64               `json:"version"`
	VersionInfo      *ecsapi.VersionInfo `json:"versionInfo,omitempty"`
	Registered       []ecsapi.Resource   `json:"registeredResources,omitempty"`
	RegisteredAt     time.Time           `json:"registeredAt"`
	CapacityProvider string              `json:"capacityProviderName,omitempty"`
}

func (s *Server) instanceKey(cluster, id string) string { return s.key("instances", cluster, id) }

func (s *Server) cachedInstance(cluster, id string) (instanceRecord, bool) {
	kv, ok := s.cache.Get(s.instanceKey(cluster, id))
	if !ok {
		return instanceRecord{}, false
	}
	var r instanceRecord
	if json.Unmarshal(kv.Value, &r) != nil {
		return instanceRecord{}, false
	}
	return r, true
}

// normalizeResources keeps the agent's resources and adds the empty PORTS and
// PORTS_UDP sets ECS always shows.
func normalizeResources(in []ecsapi.Resource) []ecsapi.Resource {
	out := slices.Clone(in)
	for _, name := range []string{"PORTS", "PORTS_UDP"} {
		if !slices.ContainsFunc(out, func(r ecsapi.Resource) bool { return deref(r.Name) == name }) {
			out = append(out, ecsapi.Resource{Name: ptr(name), Type: ptr("STRINGSET"), StringSetValue: []string{}})
		}
	}
	return out
}

// RegisterContainerInstance implements ecsapi.Handler: an agent joins a
// cluster with its resources and attributes. Re-registering with
// containerInstanceArn keeps the instance id, its status (a DRAINING instance
// stays DRAINING), the attributes set through the attribute API and the
// reservations of its tasks.
func (s *Server) RegisterContainerInstance(ctx context.Context, in *ecsapi.RegisterContainerInstanceRequest) (*ecsapi.RegisterContainerInstanceResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	id := newID()
	if in.ContainerInstanceArn != nil {
		got, ok := s.instanceID(c.Name, *in.ContainerInstanceArn)
		if !ok {
			return nil, invalidParam("containerInstanceArn %q does not name a container instance of cluster %s.", *in.ContainerInstanceArn, c.Name)
		}
		id = got
	}
	sent := map[string]string{}
	for _, a := range in.Attributes {
		if !attributeNameRE.MatchString(a.Name) {
			return nil, invalidParam("Attribute name %q is invalid.", a.Name)
		}
		sent[a.Name] = deref(a.Value)
	}
	for attempt := 0; ; attempt++ {
		rec := instanceRecord{ID: id, Cluster: c.Name, Status: instActive, Version: 1, VersionInfo: in.VersionInfo,
			Registered: normalizeResources(in.TotalResources), RegisteredAt: s.now(), EC2InstanceID: "i-" + id[:17]}
		key := s.instanceKey(c.Name, id)
		var expect int64
		if kv, err := s.st.Get(ctx, key); err == nil {
			var cur instanceRecord
			if json.Unmarshal(kv.Value, &cur) == nil {
				rec.Version = cur.Version + 1
				rec.RegisteredAt = cur.RegisteredAt
				rec.EC2InstanceID = cur.EC2InstanceID
				rec.CapacityProvider = cur.CapacityProvider
				if cur.Status == instDraining {
					rec.Status = instDraining
				}
			}
			expect = kv.ModRevision
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if p := sent[capacityProviderAttr]; p != "" {
			rec.CapacityProvider = p
		}
		// Attributes: what the agent sends now, over what was set before (the
		// attribute API's, and the agent's earlier ones).
		attrsOp := store.Op{Key: s.attributesKey(c.Name, id)}
		merged := map[string]string{}
		if kv, err := s.st.Get(ctx, attrsOp.Key); err == nil {
			var cur []storedAttribute
			_ = json.Unmarshal(kv.Value, &cur)
			for _, a := range cur {
				merged[a.Name] = a.Value
			}
			attrsOp.ExpectRev = kv.ModRevision
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		for k, v := range sent {
			merged[k] = v
		}
		var attrs []storedAttribute
		custom := 0
		for k, v := range merged {
			attrs = append(attrs, storedAttribute{Name: k, Value: v})
			if isCustomAttribute(k) {
				custom++
			}
		}
		if custom > maxCustomAttributes {
			return nil, ecsapi.NewAttributeLimitExceededException("You can apply up to %d custom attributes per resource; %d were given.", maxCustomAttributes, custom)
		}
		slices.SortFunc(attrs, func(a, b storedAttribute) int { return strings.Compare(a.Name, b.Name) })
		attrsOp.Value, _ = json.Marshal(attrs)
		b, _ := json.Marshal(rec)
		ops := []store.Op{{Key: key, Value: b, ExpectRev: expect}, attrsOp}
		if expect == 0 {
			// Tags are the tag API's after creation: a re-registration (every
			// agent restart) must not wipe what TagResource set.
			ops = append(ops, s.tagsOp(s.containerInstanceARN(c.Name, id), in.Tags))
		}
		if op, ok := s.initialReservationsOp(ctx, c.Name, id); ok {
			ops = append(ops, op)
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
		return &ecsapi.RegisterContainerInstanceResponse{ContainerInstance: s.instanceView(rec, true, false)}, nil
	}
}

// instanceView renders a container instance with live counts, remaining
// resources and agent connectivity.
func (s *Server) instanceView(r instanceRecord, withTags, withHealth bool) *ecsapi.ContainerInstance {
	arn := s.containerInstanceARN(r.Cluster, r.ID)
	u := s.instanceUsage(r.Cluster, r.ID)
	conn, hasConn := s.agentConn(r.Cluster, r.ID)
	connected := hasConn && conn.live(s.now())
	v := &ecsapi.ContainerInstance{
		ContainerInstanceArn: ptr(arn),
		Ec2InstanceId:        ptr(r.EC2InstanceID),
		Version:              ptr(r.Version),
		VersionInfo:          r.VersionInfo,
		RegisteredResources:  nonNil(r.Registered),
		RemainingResources:   remainingResources(r.Registered, u.used),
		Status:               ptr(r.Status),
		AgentConnected:       ptr(connected),
		RunningTasksCount:    ptr(int32(u.running)),
		PendingTasksCount:    ptr(int32(u.pending)),
		Attributes:           []ecsapi.Attribute{},
		RegisteredAt:         awsapiTime(r.RegisteredAt),
		Attachments:          []ecsapi.Attachment{},
		Tags:                 []ecsapi.Tag{},
	}
	if r.StatusReason != "" {
		v.StatusReason = ptr(r.StatusReason)
	}
	if r.CapacityProvider != "" {
		v.CapacityProviderName = ptr(r.CapacityProvider)
	}
	for _, a := range s.cachedAttributes(r.Cluster, r.ID) {
		at := ecsapi.Attribute{Name: a.Name}
		if a.Value != "" {
			at.Value = ptr(a.Value)
		}
		v.Attributes = append(v.Attributes, at)
	}
	if withTags {
		v.Tags = nonNil(s.tagsOf(arn))
	}
	if withHealth {
		v.HealthStatus = agentHealth(conn, hasConn, connected)
	}
	return v
}

// agentHealth is CONTAINER_INSTANCE_HEALTH: Berth's one check is the agent's
// link (INITIALIZING until it first connects).
func agentHealth(conn agentConnRecord, has, connected bool) *ecsapi.ContainerInstanceHealthStatus {
	state := ecsapi.InstanceHealthCheckStateInitializing
	reason := "The container agent has not connected yet."
	switch {
	case connected:
		state, reason = ecsapi.InstanceHealthCheckStateOk, ""
	case has:
		state, reason = ecsapi.InstanceHealthCheckStateImpaired, "The container agent is not connected."
	}
	d := ecsapi.InstanceHealthCheckResult{Type: ptr(ecsapi.InstanceHealthCheckTypeAgentConnectivity), Status: ptr(state)}
	if reason != "" {
		d.StatusReason = ptr(reason)
	}
	if has {
		d.LastUpdated = awsapiTime(conn.RefreshedAt)
		d.LastStatusChange = awsapiTime(conn.ChangedAt)
	}
	return &ecsapi.ContainerInstanceHealthStatus{OverallStatus: ptr(state), Details: []ecsapi.InstanceHealthCheckResult{d}}
}

// DescribeContainerInstances implements ecsapi.Handler.
func (s *Server) DescribeContainerInstances(ctx context.Context, in *ecsapi.DescribeContainerInstancesRequest) (*ecsapi.DescribeContainerInstancesResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if len(in.ContainerInstances) > 100 {
		return nil, invalidParam("DescribeContainerInstances accepts at most 100 container instances; %d were given.", len(in.ContainerInstances))
	}
	withTags := slices.Contains(in.Include, ecsapi.ContainerInstanceFieldTags)
	withHealth := slices.Contains(in.Include, ecsapi.ContainerInstanceFieldContainerInstanceHealth)
	out := &ecsapi.DescribeContainerInstancesResponse{ContainerInstances: []ecsapi.ContainerInstance{}, Failures: []ecsapi.Failure{}}
	for _, ref := range in.ContainerInstances {
		id, ok := s.instanceID(c.Name, ref)
		r, found := s.cachedInstance(c.Name, id)
		if !ok || !found {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = s.containerInstanceARN(c.Name, ref)
			}
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(arn), Reason: ptr(reasonMissing)})
			continue
		}
		out.ContainerInstances = append(out.ContainerInstances, *s.instanceView(r, withTags, withHealth))
	}
	return out, nil
}

// ListContainerInstances implements ecsapi.Handler: the status filter and
// the Cluster Query Language filter.
func (s *Server) ListContainerInstances(ctx context.Context, in *ecsapi.ListContainerInstancesRequest) (*ecsapi.ListContainerInstancesResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	var filter *cql.Expr
	if in.Filter != nil && *in.Filter != "" {
		if filter, err = cql.Parse(*in.Filter); err != nil {
			return nil, invalidParam("Invalid filter %q: %v", *in.Filter, err)
		}
	}
	now := s.now()
	prefix := s.key("instances", c.Name) + "/"
	var ids []string
	for _, kv := range s.cache.List(prefix) {
		var r instanceRecord
		if json.Unmarshal(kv.Value, &r) != nil {
			continue
		}
		if in.Status != nil {
			if r.Status != string(*in.Status) {
				continue
			}
		} else if r.Status == instInactive {
			continue
		}
		if filter != nil && !filter.Eval(s.cqlView(c.Name, r, now)) {
			continue
		}
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	pg, next, err := page(ids, in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	out := &ecsapi.ListContainerInstancesResponse{ContainerInstanceArns: []string{}, NextToken: next}
	for _, id := range pg {
		out.ContainerInstanceArns = append(out.ContainerInstanceArns, s.containerInstanceARN(c.Name, id))
	}
	return out, nil
}

// DeregisterContainerInstance implements ecsapi.Handler. The instance and its
// attributes, reservations and link state are removed. With tasks that are
// not stopped it is refused unless force is set; forced, the tasks are
// orphaned as on ECS: they keep their state (and keep the cluster from being
// deleted) until StopTask marks them stopped.
func (s *Server) DeregisterContainerInstance(ctx context.Context, in *ecsapi.DeregisterContainerInstanceRequest) (*ecsapi.DeregisterContainerInstanceResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	id, ok := s.instanceID(c.Name, in.ContainerInstance)
	if !ok {
		return nil, invalidParam("containerInstance %q is not a container instance id or ARN of cluster %s.", in.ContainerInstance, c.Name)
	}
	key := s.instanceKey(c.Name, id)
	for attempt := 0; ; attempt++ {
		kv, err := s.st.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, invalidParam("The referenced container instance %s was not found in cluster %s.", in.ContainerInstance, c.Name)
		}
		if err != nil {
			return nil, err
		}
		var rec instanceRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return nil, err
		}
		ops := []store.Op{{Key: key, Delete: true, ExpectRev: kv.ModRevision}}
		// The reservations record is deleted under its guard, so a RunTask
		// placing on this instance concurrently either lands first (and is
		// seen below) or fails its own guard and places elsewhere.
		resv, resvRev, err := s.readReservations(ctx, c.Name, id)
		if err != nil {
			return nil, err
		}
		if resvRev != 0 {
			ops = append(ops, store.Op{Key: s.reservationsKey(c.Name, id), Delete: true, ExpectRev: resvRev})
		}
		if n := s.activeTaskCount(c.Name, id, resv); n > 0 && !deref(in.Force) {
			return nil, invalidParam("Found %d running or pending tasks on container instance %s; stop them first or deregister with force (the tasks are then orphaned).", n, in.ContainerInstance)
		}
		view := s.instanceView(rec, true, false)
		view.Status = ptr(instInactive)
		view.AgentConnected = ptr(false)
		ops = append(ops,
			store.Op{Key: s.attributesKey(c.Name, id), Delete: true, Unconditional: true},
			store.Op{Key: s.agentConnKey(c.Name, id), Delete: true, Unconditional: true},
			s.tagsOp(s.containerInstanceARN(c.Name, id), nil))
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
		return &ecsapi.DeregisterContainerInstanceResponse{ContainerInstance: view}, nil
	}
}

// UpdateContainerInstancesState implements ecsapi.Handler: ACTIVE <-> DRAINING.
// DRAINING keeps new tasks off the instance; standalone tasks keep running.
func (s *Server) UpdateContainerInstancesState(ctx context.Context, in *ecsapi.UpdateContainerInstancesStateRequest) (*ecsapi.UpdateContainerInstancesStateResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if in.Status != ecsapi.ContainerInstanceStatusActive && in.Status != ecsapi.ContainerInstanceStatusDraining {
		return nil, invalidParam("Container instance status can only be set to ACTIVE or DRAINING.")
	}
	if len(in.ContainerInstances) > 10 {
		return nil, invalidParam("UpdateContainerInstancesState accepts at most 10 container instances; %d were given.", len(in.ContainerInstances))
	}
	out := &ecsapi.UpdateContainerInstancesStateResponse{ContainerInstances: []ecsapi.ContainerInstance{}, Failures: []ecsapi.Failure{}}
	for _, ref := range in.ContainerInstances {
		id, ok := s.instanceID(c.Name, ref)
		if !ok {
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(ref), Reason: ptr(reasonMissing)})
			continue
		}
		rec, rev, err := store.UpdateJSON(ctx, s.st, s.instanceKey(c.Name, id), func(cur *instanceRecord, exists bool) (*instanceRecord, error) {
			if !exists {
				return nil, store.ErrNotFound
			}
			if cur.Status == string(in.Status) {
				return nil, nil
			}
			cur.Status = string(in.Status)
			cur.Version++
			return cur, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(s.containerInstanceARN(c.Name, id)), Reason: ptr(reasonMissing)})
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.synced(ctx, rev); err != nil {
			return nil, err
		}
		out.ContainerInstances = append(out.ContainerInstances, *s.instanceView(rec, false, false))
	}
	return out, nil
}

// UpdateContainerAgent implements ecsapi.Handler. Berth's agents are updated
// with the berth binary, never through the API, so it answers as ECS does for
// an instance without a pending update.
func (s *Server) UpdateContainerAgent(ctx context.Context, in *ecsapi.UpdateContainerAgentRequest) (*ecsapi.UpdateContainerAgentResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	id, ok := s.instanceID(c.Name, in.ContainerInstance)
	if !ok {
		return nil, invalidParam("containerInstance %q is not a container instance id or ARN of cluster %s.", in.ContainerInstance, c.Name)
	}
	rec, found := s.cachedInstance(c.Name, id)
	if !found {
		return nil, invalidParam("The referenced container instance %s was not found in cluster %s.", in.ContainerInstance, c.Name)
	}
	if rec.VersionInfo == nil || deref(rec.VersionInfo.AgentVersion) == "" {
		return nil, ecsapi.NewMissingVersionException("Amazon ECS is unable to determine the current version of the container agent on the container instance and does not have enough information to proceed with an update.")
	}
	return nil, ecsapi.NewNoUpdateAvailableException("There is no update available for your container agent (version %s); Berth agents are updated by replacing the berth binary.", deref(rec.VersionInfo.AgentVersion))
}
