package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/store"
)

// instanceRecord is a container instance as stored under
// instances/<cluster>/<id>. Registration writes it; UpdateContainerInstancesState
// changes Status; the agent link (agent issue) owns AgentConnected.
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
	AgentConnected   bool                `json:"agentConnected"`
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

// RegisterContainerInstance implements ecsapi.Handler: an agent joins a
// cluster with its resources and attributes. Re-registering with
// containerInstanceArn keeps the instance id.
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
	var attrs []storedAttribute
	custom := 0
	for _, a := range in.Attributes {
		if !attributeNameRE.MatchString(a.Name) {
			return nil, invalidParam("Attribute name %q is invalid.", a.Name)
		}
		attrs = append(attrs, storedAttribute{Name: a.Name, Value: deref(a.Value)})
		if isCustomAttribute(a.Name) {
			custom++
		}
	}
	if custom > maxCustomAttributes {
		return nil, ecsapi.NewAttributeLimitExceededException("You can apply up to %d custom attributes per resource; %d were given.", maxCustomAttributes, custom)
	}
	slices.SortFunc(attrs, func(a, b storedAttribute) int { return strings.Compare(a.Name, b.Name) })
	rec := instanceRecord{ID: id, Cluster: c.Name, Status: "ACTIVE", Version: 1, VersionInfo: in.VersionInfo,
		Registered: in.TotalResources, RegisteredAt: s.now(), EC2InstanceID: "i-" + id[:17]}
	key := s.instanceKey(c.Name, id)
	var expect int64
	if kv, err := s.st.Get(ctx, key); err == nil {
		var cur instanceRecord
		if json.Unmarshal(kv.Value, &cur) == nil {
			rec.Version = cur.Version + 1
			rec.RegisteredAt = cur.RegisteredAt
			rec.EC2InstanceID = cur.EC2InstanceID
			rec.AgentConnected = cur.AgentConnected
		}
		expect = kv.ModRevision
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	b, _ := json.Marshal(rec)
	ab, _ := json.Marshal(attrs)
	rev, err := s.st.Txn(ctx,
		store.Op{Key: key, Value: b, ExpectRev: expect},
		store.Op{Key: s.attributesKey(c.Name, id), Value: ab, Unconditional: true},
		s.tagsOp(s.containerInstanceARN(c.Name, id), in.Tags))
	if err != nil {
		return nil, err
	}
	if err := s.synced(ctx, rev); err != nil {
		return nil, err
	}
	return &ecsapi.RegisterContainerInstanceResponse{ContainerInstance: s.instanceView(rec, true)}, nil
}

// instanceView renders a container instance.
func (s *Server) instanceView(r instanceRecord, withTags bool) *ecsapi.ContainerInstance {
	arn := s.containerInstanceARN(r.Cluster, r.ID)
	v := &ecsapi.ContainerInstance{
		ContainerInstanceArn: ptr(arn),
		Ec2InstanceId:        ptr(r.EC2InstanceID),
		Version:              ptr(r.Version),
		VersionInfo:          r.VersionInfo,
		RegisteredResources:  nonNil(r.Registered),
		RemainingResources:   nonNil(r.Registered),
		Status:               ptr(r.Status),
		AgentConnected:       ptr(r.AgentConnected),
		RunningTasksCount:    ptr(int32(0)),
		PendingTasksCount:    ptr(int32(0)),
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
	return v
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
	out := &ecsapi.DescribeContainerInstancesResponse{ContainerInstances: []ecsapi.ContainerInstance{}, Failures: []ecsapi.Failure{}}
	for _, ref := range in.ContainerInstances {
		id, ok := s.instanceID(c.Name, ref)
		r, found := s.cachedInstance(c.Name, id)
		if !ok || !found {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = s.containerInstanceARN(c.Name, ref)
			}
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(arn), Reason: ptr("MISSING")})
			continue
		}
		out.ContainerInstances = append(out.ContainerInstances, *s.instanceView(r, withTags))
	}
	return out, nil
}

// ListContainerInstances implements ecsapi.Handler (status filter; the
// Cluster Query Language filter comes with the scheduler).
func (s *Server) ListContainerInstances(ctx context.Context, in *ecsapi.ListContainerInstancesRequest) (*ecsapi.ListContainerInstancesResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if in.Filter != nil && *in.Filter != "" {
		return nil, invalidParam("The filter parameter (Cluster Query Language) is not supported by Berth yet.")
	}
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
		} else if r.Status == "INACTIVE" {
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

// DeregisterContainerInstance implements ecsapi.Handler. The record is
// removed with its attributes; tasks on it are orphaned only with force.
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
	view := s.instanceView(rec, true)
	rec.Status = "INACTIVE"
	view.Status = ptr("INACTIVE")
	rev, err := s.st.Txn(ctx,
		store.Op{Key: key, Delete: true, ExpectRev: kv.ModRevision},
		store.Op{Key: s.attributesKey(c.Name, id), Delete: true, Unconditional: true},
		s.tagsOp(s.containerInstanceARN(c.Name, id), nil))
	if err != nil {
		return nil, err
	}
	if err := s.synced(ctx, rev); err != nil {
		return nil, err
	}
	return &ecsapi.DeregisterContainerInstanceResponse{ContainerInstance: view}, nil
}

// UpdateContainerInstancesState implements ecsapi.Handler: ACTIVE <-> DRAINING.
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
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(ref), Reason: ptr("MISSING")})
			continue
		}
		rec, rev, err := store.UpdateJSON(ctx, s.st, s.instanceKey(c.Name, id), func(cur *instanceRecord, exists bool) (*instanceRecord, error) {
			if !exists {
				return nil, store.ErrNotFound
			}
			if cur.Status != string(in.Status) {
				cur.Status = string(in.Status)
				cur.Version++
			}
			return cur, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(s.containerInstanceARN(c.Name, id)), Reason: ptr("MISSING")})
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := s.synced(ctx, rev); err != nil {
			return nil, err
		}
		out.ContainerInstances = append(out.ContainerInstances, *s.instanceView(rec, false))
	}
	return out, nil
}
