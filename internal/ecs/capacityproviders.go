package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/store"
)

// Built-in providers every cluster may use, as on ECS.
var builtinProviders = []string{"FARGATE", "FARGATE_SPOT"}

// capacityProviderRecord is a provider as stored under capacityproviders/<name>.
type capacityProviderRecord struct {
	Name                     string                           `json:"name"`
	Status                   string                           `json:"status"`
	UpdateStatus             string                           `json:"updateStatus,omitempty"`
	AutoScalingGroupProvider *ecsapi.AutoScalingGroupProvider `json:"autoScalingGroupProvider,omitempty"`
	Cluster                  string                           `json:"cluster,omitempty"`
}

func (s *Server) capacityProviderKey(name string) string { return s.key("capacityproviders", name) }

func (s *Server) capacityProviderARN(name string) string { return s.arn(resCapacityProvider, name) }

func (s *Server) cachedCapacityProvider(name string) (capacityProviderRecord, bool) {
	if slices.Contains(builtinProviders, name) {
		return capacityProviderRecord{Name: name, Status: "ACTIVE"}, true
	}
	kv, ok := s.cache.Get(s.capacityProviderKey(name))
	if !ok {
		return capacityProviderRecord{}, false
	}
	var r capacityProviderRecord
	if err := json.Unmarshal(kv.Value, &r); err != nil {
		return capacityProviderRecord{}, false
	}
	return r, true
}

// providerName resolves a capacity provider reference (name or ARN).
func (s *Server) providerName(ref string) string {
	if a, ok := parseARN(ref); ok && a.Resource == resCapacityProvider && len(a.Path) == 1 {
		return a.Path[0]
	}
	return ref
}

// validateStrategyForProviders checks a default strategy against the
// provider list: every provider exists, strategy entries are in the list, at
// most one entry has a base, and weights are not all zero.
func (s *Server) validateStrategyForProviders(providers []string, strategy []ecsapi.CapacityProviderStrategyItem) error {
	seen := map[string]bool{}
	for _, p := range providers {
		cp, ok := s.cachedCapacityProvider(p)
		if !ok || cp.Status != "ACTIVE" {
			return invalidParam("The specified capacity provider %s does not exist or is not ACTIVE.", p)
		}
		if seen[p] {
			return invalidParam("The capacity provider %s is listed more than once.", p)
		}
		seen[p] = true
	}
	if err := validateStrategy(strategy); err != nil {
		return err
	}
	for _, it := range strategy {
		if !seen[it.CapacityProvider] {
			return invalidParam("The capacity provider strategy references %s, which is not associated with the cluster. Add it to the cluster's capacity providers first.", it.CapacityProvider)
		}
	}
	return nil
}

// validateStrategy checks the rules of a capacity provider strategy itself.
func validateStrategy(strategy []ecsapi.CapacityProviderStrategyItem) error {
	if len(strategy) > 20 {
		return invalidParam("A capacity provider strategy can have at most 20 capacity providers.")
	}
	bases, weightSum := 0, 0
	names := map[string]bool{}
	for _, it := range strategy {
		if names[it.CapacityProvider] {
			return invalidParam("The capacity provider %s appears more than once in the strategy.", it.CapacityProvider)
		}
		names[it.CapacityProvider] = true
		if deref(it.Base) > 0 {
			bases++
		}
		weightSum += int(deref(it.Weight))
	}
	if bases > 1 {
		return invalidParam("Only one capacity provider in a strategy can have a base defined.")
	}
	if len(strategy) > 0 && weightSum == 0 {
		return invalidParam("At least one capacity provider in the strategy must have a weight greater than 0.")
	}
	return nil
}

// CreateCapacityProvider implements ecsapi.Handler.
func (s *Server) CreateCapacityProvider(ctx context.Context, in *ecsapi.CreateCapacityProviderRequest) (*ecsapi.CreateCapacityProviderResponse, error) {
	lower := strings.ToLower(in.Name)
	for _, p := range []string{"aws", "ecs", "fargate"} {
		if strings.HasPrefix(lower, p) {
			return nil, clientErr("The specified capacity provider name is invalid. Capacity provider names cannot be prefixed with 'aws', 'ecs', or 'fargate'.")
		}
	}
	if !clusterNameRE.MatchString(in.Name) {
		return nil, invalidParam("Capacity provider name %q is invalid: up to 255 letters, numbers, underscores, and hyphens are allowed.", in.Name)
	}
	if in.AutoScalingGroupProvider == nil && in.ManagedInstancesProvider == nil {
		return nil, invalidParam("A capacity provider needs an autoScalingGroupProvider.")
	}
	if in.ManagedInstancesProvider != nil {
		return nil, ecsapi.NewUnsupportedFeatureException("Managed instances capacity providers are not supported by Berth.")
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	var cluster string
	if in.Cluster != nil {
		c, err := s.activeCluster(*in.Cluster)
		if err != nil {
			return nil, err
		}
		cluster = c.Name
	}
	rec := capacityProviderRecord{Name: in.Name, Status: "ACTIVE", UpdateStatus: "", AutoScalingGroupProvider: in.AutoScalingGroupProvider, Cluster: cluster}
	if rec.AutoScalingGroupProvider != nil {
		asg := *rec.AutoScalingGroupProvider
		if asg.ManagedTerminationProtection == nil {
			asg.ManagedTerminationProtection = ptr(ecsapi.ManagedTerminationProtectionDisabled)
		}
		if asg.ManagedDraining == nil {
			asg.ManagedDraining = ptr(ecsapi.ManagedDrainingEnabled)
		}
		rec.AutoScalingGroupProvider = &asg
	}
	key := s.capacityProviderKey(in.Name)
	var expect int64
	if kv, err := s.st.Get(ctx, key); err == nil {
		var cur capacityProviderRecord
		if json.Unmarshal(kv.Value, &cur) == nil && cur.Status == "ACTIVE" {
			return nil, clientErr("The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.")
		}
		expect = kv.ModRevision
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	b, _ := json.Marshal(rec)
	rev, err := s.st.Txn(ctx, store.Op{Key: key, Value: b, ExpectRev: expect}, s.tagsOp(s.capacityProviderARN(in.Name), in.Tags))
	if errors.Is(err, store.ErrConflict) {
		return nil, clientErr("The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.")
	}
	if err != nil {
		return nil, err
	}
	if err := s.synced(ctx, rev); err != nil {
		return nil, err
	}
	return &ecsapi.CreateCapacityProviderResponse{CapacityProvider: s.capacityProviderView(rec, true)}, nil
}

func (s *Server) capacityProviderView(r capacityProviderRecord, withTags bool) *ecsapi.CapacityProvider {
	arn := s.capacityProviderARN(r.Name)
	v := &ecsapi.CapacityProvider{
		CapacityProviderArn:      ptr(arn),
		Name:                     ptr(r.Name),
		Status:                   ptr(ecsapi.CapacityProviderStatus(r.Status)),
		AutoScalingGroupProvider: r.AutoScalingGroupProvider,
		Tags:                     []ecsapi.Tag{},
	}
	if slices.Contains(builtinProviders, r.Name) {
		v.Type = ptr(ecsapi.CapacityProviderType(r.Name))
	} else {
		v.Type = ptr(ecsapi.CapacityProviderTypeEc2Autoscaling)
	}
	if r.Cluster != "" {
		v.Cluster = ptr(r.Cluster)
	}
	if r.UpdateStatus != "" {
		v.UpdateStatus = ptr(ecsapi.CapacityProviderUpdateStatus(r.UpdateStatus))
	}
	if withTags {
		v.Tags = nonNil(s.tagsOf(arn))
	}
	return v
}

// DescribeCapacityProviders implements ecsapi.Handler. Without names it lists
// the built-in providers and every ACTIVE custom one, paginated (1-10).
func (s *Server) DescribeCapacityProviders(ctx context.Context, in *ecsapi.DescribeCapacityProvidersRequest) (*ecsapi.DescribeCapacityProvidersResponse, error) {
	withTags := slices.Contains(in.Include, ecsapi.CapacityProviderFieldTags)
	out := &ecsapi.DescribeCapacityProvidersResponse{CapacityProviders: []ecsapi.CapacityProvider{}, Failures: []ecsapi.Failure{}}
	if len(in.CapacityProviders) > 0 {
		for _, ref := range in.CapacityProviders {
			r, ok := s.cachedCapacityProvider(s.providerName(ref))
			if !ok {
				arn := ref
				if !strings.HasPrefix(ref, "arn:") {
					arn = s.capacityProviderARN(ref)
				}
				out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(arn), Reason: ptr("MISSING")})
				continue
			}
			out.CapacityProviders = append(out.CapacityProviders, *s.capacityProviderView(r, withTags))
		}
		return out, nil
	}
	names := append([]string(nil), builtinProviders...)
	for _, kv := range s.cache.List(s.key("capacityproviders") + "/") {
		var r capacityProviderRecord
		if json.Unmarshal(kv.Value, &r) == nil && r.Status == "ACTIVE" {
			names = append(names, r.Name)
		}
	}
	slices.Sort(names)
	pg, next, err := page(names, in.NextToken, in.MaxResults, 10, 10)
	if err != nil {
		return nil, err
	}
	out.NextToken = next
	for _, n := range pg {
		r, _ := s.cachedCapacityProvider(n)
		out.CapacityProviders = append(out.CapacityProviders, *s.capacityProviderView(r, withTags))
	}
	return out, nil
}

// UpdateCapacityProvider implements ecsapi.Handler.
func (s *Server) UpdateCapacityProvider(ctx context.Context, in *ecsapi.UpdateCapacityProviderRequest) (*ecsapi.UpdateCapacityProviderResponse, error) {
	name := s.providerName(in.Name)
	if slices.Contains(builtinProviders, name) {
		return nil, clientErr("The %s capacity provider is managed by ECS and cannot be updated.", name)
	}
	if in.ManagedInstancesProvider != nil {
		return nil, ecsapi.NewUnsupportedFeatureException("Managed instances capacity providers are not supported by Berth.")
	}
	rec, rev, err := store.UpdateJSON(ctx, s.st, s.capacityProviderKey(name), func(cur *capacityProviderRecord, exists bool) (*capacityProviderRecord, error) {
		if !exists || cur.Status != "ACTIVE" {
			return nil, clientErr("The specified capacity provider %s does not exist.", name)
		}
		if u := in.AutoScalingGroupProvider; u != nil {
			asg := ecsapi.AutoScalingGroupProvider{}
			if cur.AutoScalingGroupProvider != nil {
				asg = *cur.AutoScalingGroupProvider
			}
			if u.ManagedScaling != nil {
				asg.ManagedScaling = u.ManagedScaling
			}
			if u.ManagedTerminationProtection != nil {
				asg.ManagedTerminationProtection = u.ManagedTerminationProtection
			}
			if u.ManagedDraining != nil {
				asg.ManagedDraining = u.ManagedDraining
			}
			cur.AutoScalingGroupProvider = &asg
		}
		cur.UpdateStatus = "UPDATE_COMPLETE"
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.synced(ctx, rev); err != nil {
		return nil, err
	}
	return &ecsapi.UpdateCapacityProviderResponse{CapacityProvider: s.capacityProviderView(rec, true)}, nil
}

// DeleteCapacityProvider implements ecsapi.Handler: refused while a cluster
// still lists the provider.
func (s *Server) DeleteCapacityProvider(ctx context.Context, in *ecsapi.DeleteCapacityProviderRequest) (*ecsapi.DeleteCapacityProviderResponse, error) {
	name := s.providerName(in.CapacityProvider)
	if slices.Contains(builtinProviders, name) {
		return nil, clientErr("The %s capacity provider is managed by ECS and cannot be deleted.", name)
	}
	for _, kv := range s.cache.List(s.key("clusters") + "/") {
		var c clusterRecord
		if json.Unmarshal(kv.Value, &c) == nil && c.Status == clusterActive && slices.Contains(c.CapacityProviders, name) {
			return nil, clientErr("The specified capacity provider is in use by cluster %s and cannot be deleted. Remove it with PutClusterCapacityProviders first.", c.Name)
		}
	}
	rec, rev, err := store.UpdateJSON(ctx, s.st, s.capacityProviderKey(name), func(cur *capacityProviderRecord, exists bool) (*capacityProviderRecord, error) {
		if !exists || cur.Status != "ACTIVE" {
			return nil, clientErr("The specified capacity provider %s does not exist.", name)
		}
		cur.Status = "INACTIVE"
		cur.UpdateStatus = "DELETE_COMPLETE"
		return cur, nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.synced(ctx, rev); err != nil {
		return nil, err
	}
	return &ecsapi.DeleteCapacityProviderResponse{CapacityProvider: s.capacityProviderView(rec, true)}, nil
}
