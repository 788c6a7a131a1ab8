package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/internal/store"
)

const (
	clusterActive   = "ACTIVE"
	clusterInactive = "INACTIVE"
)

// clusterRecord is a cluster as stored under clusters/<name>. A deleted
// cluster stays as INACTIVE so it still describes, as on ECS.
type clusterRecord struct {
	Name                   string                                `json:"name"`
	Status                 string                                `json:"status"`
	CreatedAt              time.Time                             `json:"createdAt"`
	Settings               []ecsapi.ClusterSetting               `json:"settings,omitempty"`
	Configuration          *ecsapi.ClusterConfiguration          `json:"configuration,omitempty"`
	ServiceConnectDefaults *ecsapi.ClusterServiceConnectDefaults `json:"serviceConnectDefaults,omitempty"`
	CapacityProviders      []string                              `json:"capacityProviders,omitempty"`
	DefaultStrategy        []ecsapi.CapacityProviderStrategyItem `json:"defaultStrategy,omitempty"`
}

var clusterNameRE = lazyregexp.New(`^[A-Za-z0-9_-]{1,255}$`)

func (s *Server) clusterKey(name string) string { return s.key("clusters", name) }

// cachedCluster reads a cluster (any status) from the cache.
func (s *Server) cachedCluster(name string) (clusterRecord, bool) {
	kv, ok := s.cache.Get(s.clusterKey(name))
	if !ok {
		return clusterRecord{}, false
	}
	var c clusterRecord
	if err := json.Unmarshal(kv.Value, &c); err != nil {
		s.log.Error("corrupt cluster record", "cluster", name, "err", err)
		return clusterRecord{}, false
	}
	return c, true
}

// activeCluster resolves a cluster reference to an ACTIVE cluster, or
// ClusterNotFoundException.
func (s *Server) activeCluster(ref string) (clusterRecord, error) {
	name, ok := s.clusterName(ref)
	if !ok {
		return clusterRecord{}, clusterNotFound()
	}
	c, ok := s.cachedCluster(name)
	if !ok || c.Status != clusterActive {
		return clusterRecord{}, clusterNotFound()
	}
	return c, nil
}

// CreateCluster implements ecsapi.Handler. Creating a cluster that exists
// returns it unchanged, as ECS does.
func (s *Server) CreateCluster(ctx context.Context, in *ecsapi.CreateClusterRequest) (*ecsapi.CreateClusterResponse, error) {
	name := deref(in.ClusterName)
	if name == "" {
		name = "default"
	}
	if !clusterNameRE.MatchString(name) {
		return nil, invalidParam("Cluster name %q is invalid: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.", name)
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	settings, err := s.normalizeClusterSettings(nil, in.Settings)
	if err != nil {
		return nil, err
	}
	if err := s.validateStrategyForProviders(in.CapacityProviders, in.DefaultCapacityProviderStrategy); err != nil {
		return nil, err
	}
	key := s.clusterKey(name)
	for attempt := 0; ; attempt++ {
		var expect int64
		if kv, err := s.st.Get(ctx, key); err == nil {
			var cur clusterRecord
			if err := json.Unmarshal(kv.Value, &cur); err == nil && cur.Status == clusterActive {
				if err := s.synced(ctx, kv.ModRevision); err != nil {
					return nil, err
				}
				return &ecsapi.CreateClusterResponse{Cluster: s.clusterView(cur, mutationFields)}, nil
			}
			expect = kv.ModRevision // re-create over an INACTIVE cluster
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		rec := clusterRecord{
			Name: name, Status: clusterActive, CreatedAt: s.now(), Settings: settings,
			Configuration: in.Configuration, CapacityProviders: in.CapacityProviders,
			DefaultStrategy: in.DefaultCapacityProviderStrategy,
		}
		if in.ServiceConnectDefaults != nil {
			rec.ServiceConnectDefaults = &ecsapi.ClusterServiceConnectDefaults{Namespace: ptr(in.ServiceConnectDefaults.Namespace)}
		}
		b, _ := json.Marshal(rec)
		rev, err := s.st.Txn(ctx, store.Op{Key: key, Value: b, ExpectRev: expect}, s.tagsOp(s.clusterARN(name), in.Tags))
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue // a concurrent create or delete: decide again from fresh state
		}
		if err != nil {
			return nil, err
		}
		if err := s.synced(ctx, rev); err != nil {
			return nil, err
		}
		return &ecsapi.CreateClusterResponse{Cluster: s.clusterView(rec, mutationFields)}, nil
	}
}

// normalizeClusterSettings merges updates into cur, validating names and
// values; the containerInsights setting always has a value.
func (s *Server) normalizeClusterSettings(cur, updates []ecsapi.ClusterSetting) ([]ecsapi.ClusterSetting, error) {
	insights := s.accountDefault("containerInsights")
	for _, c := range cur {
		if c.Name != nil && *c.Name == ecsapi.ClusterSettingNameContainerInsights {
			insights = deref(c.Value)
		}
	}
	for _, u := range updates {
		if u.Name == nil {
			return nil, invalidParam("Cluster setting name is required.")
		}
		v := deref(u.Value)
		switch v {
		case "enabled", "disabled", "enhanced":
		default:
			return nil, invalidParam("Invalid value %q for cluster setting %s: valid values are enabled, disabled and enhanced.", v, *u.Name)
		}
		insights = v
	}
	return []ecsapi.ClusterSetting{{Name: ptr(ecsapi.ClusterSettingNameContainerInsights), Value: ptr(insights)}}, nil
}

// clusterFields selects the optional parts of a cluster view.
type clusterFields struct{ attachments, configurations, settings, statistics, tags bool }

// mutationFields is what Create/Update/Delete answers with: everything but
// statistics, as ECS does.
var mutationFields = clusterFields{attachments: true, configurations: true, settings: true, tags: true}

// clusterView renders a cluster with live counts.
func (s *Server) clusterView(c clusterRecord, f clusterFields) *ecsapi.Cluster {
	arn := s.clusterARN(c.Name)
	counts := s.clusterCounts(c.Name)
	v := &ecsapi.Cluster{
		ClusterArn:                        ptr(arn),
		ClusterName:                       ptr(c.Name),
		Status:                            ptr(c.Status),
		RegisteredContainerInstancesCount: ptr(int32(counts.instances)),
		RunningTasksCount:                 ptr(int32(counts.running)),
		PendingTasksCount:                 ptr(int32(counts.pending)),
		ActiveServicesCount:               ptr(int32(counts.services)),
		CapacityProviders:                 nonNil(c.CapacityProviders),
		DefaultCapacityProviderStrategy:   nonNil(c.DefaultStrategy),
		Statistics:                        []ecsapi.KeyValuePair{},
		Tags:                              []ecsapi.Tag{},
	}
	if c.ServiceConnectDefaults != nil {
		v.ServiceConnectDefaults = c.ServiceConnectDefaults
	}
	if f.configurations {
		v.Configuration = c.Configuration
	}
	if f.settings {
		v.Settings = c.Settings
	}
	if f.attachments {
		v.Attachments = []ecsapi.Attachment{}
	}
	if f.statistics {
		v.Statistics = counts.statistics()
	}
	if f.tags {
		v.Tags = nonNil(s.tagsOf(arn))
	}
	return v
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// DescribeClusters implements ecsapi.Handler.
func (s *Server) DescribeClusters(ctx context.Context, in *ecsapi.DescribeClustersRequest) (*ecsapi.DescribeClustersResponse, error) {
	refs := in.Clusters
	if len(refs) == 0 {
		refs = []string{"default"}
	}
	if len(refs) > 100 {
		return nil, invalidParam("DescribeClusters accepts at most 100 clusters; %d were given.", len(refs))
	}
	var f clusterFields
	for _, inc := range in.Include {
		switch inc {
		case ecsapi.ClusterFieldAttachments:
			f.attachments = true
		case ecsapi.ClusterFieldConfigurations:
			f.configurations = true
		case ecsapi.ClusterFieldSettings:
			f.settings = true
		case ecsapi.ClusterFieldStatistics:
			f.statistics = true
		case ecsapi.ClusterFieldTags:
			f.tags = true
		}
	}
	out := &ecsapi.DescribeClustersResponse{Clusters: []ecsapi.Cluster{}, Failures: []ecsapi.Failure{}}
	for _, ref := range refs {
		name, ok := s.clusterName(ref)
		c, found := s.cachedCluster(name)
		if !ok || !found {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = s.clusterARN(ref)
			}
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(arn), Reason: ptr("MISSING")})
			continue
		}
		out.Clusters = append(out.Clusters, *s.clusterView(c, f))
	}
	return out, nil
}

// ListClusters implements ecsapi.Handler: ACTIVE clusters by ARN, paginated.
func (s *Server) ListClusters(ctx context.Context, in *ecsapi.ListClustersRequest) (*ecsapi.ListClustersResponse, error) {
	var names []string
	for _, kv := range s.cache.List(s.key("clusters") + "/") {
		var c clusterRecord
		if json.Unmarshal(kv.Value, &c) == nil && c.Status == clusterActive {
			names = append(names, c.Name)
		}
	}
	slices.Sort(names)
	pg, next, err := page(names, in.NextToken, in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	out := &ecsapi.ListClustersResponse{ClusterArns: []string{}, NextToken: next}
	for _, n := range pg {
		out.ClusterArns = append(out.ClusterArns, s.clusterARN(n))
	}
	return out, nil
}

// updateCluster applies fn to an ACTIVE cluster with a guarded write.
func (s *Server) updateCluster(ctx context.Context, ref string, fn func(*clusterRecord) error) (clusterRecord, error) {
	name, ok := s.clusterName(ref)
	if !ok {
		return clusterRecord{}, clusterNotFound()
	}
	rec, rev, err := store.UpdateJSON(ctx, s.st, s.clusterKey(name), func(cur *clusterRecord, exists bool) (*clusterRecord, error) {
		if !exists || cur.Status != clusterActive {
			return nil, clusterNotFound()
		}
		if err := fn(cur); err != nil {
			return nil, err
		}
		return cur, nil
	})
	if err != nil {
		return clusterRecord{}, err
	}
	return rec, s.synced(ctx, rev)
}

// UpdateCluster implements ecsapi.Handler.
func (s *Server) UpdateCluster(ctx context.Context, in *ecsapi.UpdateClusterRequest) (*ecsapi.UpdateClusterResponse, error) {
	rec, err := s.updateCluster(ctx, in.Cluster, func(c *clusterRecord) error {
		if in.Settings != nil {
			st, err := s.normalizeClusterSettings(c.Settings, in.Settings)
			if err != nil {
				return err
			}
			c.Settings = st
		}
		if in.Configuration != nil {
			c.Configuration = in.Configuration
		}
		if in.ServiceConnectDefaults != nil {
			c.ServiceConnectDefaults = &ecsapi.ClusterServiceConnectDefaults{Namespace: ptr(in.ServiceConnectDefaults.Namespace)}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.UpdateClusterResponse{Cluster: s.clusterView(rec, mutationFields)}, nil
}

// UpdateClusterSettings implements ecsapi.Handler.
func (s *Server) UpdateClusterSettings(ctx context.Context, in *ecsapi.UpdateClusterSettingsRequest) (*ecsapi.UpdateClusterSettingsResponse, error) {
	rec, err := s.updateCluster(ctx, in.Cluster, func(c *clusterRecord) error {
		st, err := s.normalizeClusterSettings(c.Settings, in.Settings)
		if err != nil {
			return err
		}
		c.Settings = st
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.UpdateClusterSettingsResponse{Cluster: s.clusterView(rec, mutationFields)}, nil
}

// PutClusterCapacityProviders implements ecsapi.Handler: it replaces the
// cluster's provider list and default strategy.
func (s *Server) PutClusterCapacityProviders(ctx context.Context, in *ecsapi.PutClusterCapacityProvidersRequest) (*ecsapi.PutClusterCapacityProvidersResponse, error) {
	if err := s.validateStrategyForProviders(in.CapacityProviders, in.DefaultCapacityProviderStrategy); err != nil {
		return nil, err
	}
	rec, err := s.updateCluster(ctx, in.Cluster, func(c *clusterRecord) error {
		for _, old := range c.CapacityProviders {
			if !slices.Contains(in.CapacityProviders, old) && s.capacityProviderInUse(c.Name, old) {
				return ecsapi.NewResourceInUseException("The specified capacity provider %s is in use and cannot be removed.", old)
			}
		}
		c.CapacityProviders = in.CapacityProviders
		c.DefaultStrategy = in.DefaultCapacityProviderStrategy
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.PutClusterCapacityProvidersResponse{Cluster: s.clusterView(rec, mutationFields)}, nil
}

// DeleteCluster implements ecsapi.Handler: refused while the cluster has
// instances, services or tasks; the cluster then describes as INACTIVE.
func (s *Server) DeleteCluster(ctx context.Context, in *ecsapi.DeleteClusterRequest) (*ecsapi.DeleteClusterResponse, error) {
	rec, err := s.updateCluster(ctx, in.Cluster, func(c *clusterRecord) error {
		counts := s.clusterCounts(c.Name)
		switch {
		case counts.instances > 0:
			return ecsapi.NewClusterContainsContainerInstancesException("The Cluster cannot be deleted while Container Instances are active or draining.")
		case counts.services > 0 || counts.drainingServices > 0:
			return ecsapi.NewClusterContainsServicesException("The Cluster cannot be deleted while Services are active.")
		case counts.running+counts.pending > 0:
			return ecsapi.NewClusterContainsTasksException("The Cluster cannot be deleted while Tasks are active.")
		}
		c.Status = clusterInactive
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.DeleteClusterResponse{Cluster: s.clusterView(rec, mutationFields)}, nil
}
