package ecs

import (
	"encoding/json"
	"slices"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/scheduler"
	"github.com/berth-dev/berth/internal/service/plan"
)

// Services with a capacity provider strategy. A service launches either by
// launch type (EC2: any instance of the cluster) or by a strategy, never
// both; with neither, CreateService takes the cluster's default strategy
// when it has one, as ECS does. The strategy is stored by provider name on
// the service record and on each revision, so every deployment keeps the
// strategy it was created with (a rollback deploys its revision's).
//
// The controller starts a deployment's tasks through StartServiceTasks,
// which splits them with scheduler.DistributeCapacityProviders counting the
// deployment's non-stopped tasks per provider as existing: scaling out keeps
// the base/weight split of what already runs.

const (
	errStrategyNeedsForce = "Updating a service from a launch type to a capacity provider strategy requires forceNewDeployment."
	errDaemonStrategy     = "The daemon scheduling strategy does not support capacity provider strategies."
)

// serviceLaunch decides how a new service launches: the launch type it
// stores ("" with a strategy) and its strategy, normalized.
func (s *Server) serviceLaunch(c clusterRecord, lt *ecsapi.LaunchType, strategy []ecsapi.CapacityProviderStrategyItem, daemon bool) (string, []ecsapi.CapacityProviderStrategyItem, error) {
	if daemon && lt == nil && len(strategy) > 0 {
		return "", nil, invalidParam(errDaemonStrategy)
	}
	// A daemon runs on every instance: the cluster's default does not
	// apply.
	items, err := s.launchShares(c, lt, strategy, !daemon)
	if err != nil {
		return "", nil, err
	}
	if items == nil {
		return string(ecsapi.LaunchTypeEc2), nil, nil
	}
	return "", strategyItems(items), nil
}

// strategyItems is a validated strategy as stored and shown: provider
// names, base and weight always present (ECS shows both).
func strategyItems(items []scheduler.ProviderShare) []ecsapi.CapacityProviderStrategyItem {
	out := make([]ecsapi.CapacityProviderStrategyItem, len(items))
	for i, it := range items {
		out[i] = ecsapi.CapacityProviderStrategyItem{CapacityProvider: it.Name, Base: ptr(int32(it.Base)), Weight: ptr(int32(it.Weight))}
	}
	return out
}

// providerNames lists a strategy's providers (the record's
// capacityProviders, which counts.go reads for "in use").
func providerNames(strategy []ecsapi.CapacityProviderStrategyItem) []string {
	var out []string
	for _, it := range strategy {
		out = append(out, it.CapacityProvider)
	}
	return out
}

// setLaunch stores a launch type or a strategy on the record.
func (r *serviceRecord) setLaunch(lt string, strategy []ecsapi.CapacityProviderStrategyItem) {
	r.LaunchType, r.CapacityProviderStrategy, r.CapacityProviders = lt, strategy, providerNames(strategy)
}

// updateLaunch applies UpdateService's capacityProviderStrategy (validated
// against the cluster by the caller; empty: back to launch type EC2, as ECS
// documents) and reports whether the configuration changed.
func (r *serviceRecord) updateLaunch(strategy []ecsapi.CapacityProviderStrategyItem, force bool) (bool, error) {
	if r.SchedulingStrategy == string(ecsapi.SchedulingStrategyDaemon) && len(strategy) > 0 {
		return false, invalidParam(errDaemonStrategy)
	}
	if len(strategy) == 0 {
		if len(r.CapacityProviderStrategy) == 0 {
			return false, nil
		}
		r.setLaunch(string(ecsapi.LaunchTypeEc2), nil)
		return true, nil
	}
	if len(r.CapacityProviderStrategy) == 0 && !force {
		return false, invalidParam(errStrategyNeedsForce)
	}
	if slices.EqualFunc(strategy, r.CapacityProviderStrategy, sameItem) {
		return false, nil
	}
	r.setLaunch("", strategy)
	return true, nil
}

func sameItem(a, b ecsapi.CapacityProviderStrategyItem) bool {
	return a.CapacityProvider == b.CapacityProvider && deref(a.Base) == deref(b.Base) && deref(a.Weight) == deref(b.Weight)
}

// launchView is a launch type or strategy as the API shows it: no
// launchType when a strategy is used, as ECS.
func launchView(lt string, strategy []ecsapi.CapacityProviderStrategyItem) (*ecsapi.LaunchType, []ecsapi.CapacityProviderStrategyItem) {
	if len(strategy) > 0 {
		return nil, strategy
	}
	if lt == "" {
		lt = string(ecsapi.LaunchTypeEc2)
	}
	l := ecsapi.LaunchType(lt)
	return &l, nil
}

// deploymentLaunch is the launch type and strategy of a deployment: its
// revision's, else (a revision no longer kept) the record's.
func (r *serviceRecord) deploymentLaunch(d plan.Deployment) (string, []ecsapi.CapacityProviderStrategyItem) {
	if rev, ok := r.revisionOf(d); ok {
		return rev.LaunchType, rev.CapacityProviderStrategy
	}
	return r.LaunchType, r.CapacityProviderStrategy
}

// serviceProviders names the capacity provider of each of n tasks a
// deployment starts (nil: the deployment launches by launch type). The
// deployment's non-stopped tasks count as existing, so the split of what
// runs follows the strategy's base and weights.
func (s *Server) serviceProviders(r serviceRecord, deploymentID string, n int) []string {
	d := plan.Deployment{ID: deploymentID}
	deps := s.cachedServiceStatus(r.Cluster, r.Name).Deployments
	if i := slices.IndexFunc(deps, func(sd plan.Deployment) bool { return sd.ID == deploymentID }); i >= 0 {
		d = deps[i]
	}
	_, strategy := r.deploymentLaunch(d)
	if len(strategy) == 0 {
		return nil
	}
	existing := map[string]int{}
	group := "service:" + r.Name
	for _, kv := range s.cache.List(s.key("taskspecs", r.Cluster) + "/") {
		// Cheap test before decoding: most tasks are not this service's.
		if !strings.Contains(string(kv.Value), deploymentID) {
			continue
		}
		var spec taskSpecRecord
		if json.Unmarshal(kv.Value, &spec) != nil || spec.Group != group || spec.StartedBy != deploymentID || spec.CapacityProvider == "" {
			continue
		}
		st, _ := s.cachedStatus(r.Cluster, spec.ID)
		if st.LastStatus == taskStopped || desiredStatus(spec, st) == taskStopped {
			continue
		}
		existing[spec.CapacityProvider]++
	}
	return scheduler.DistributeCapacityProviders(strategyShares(strategy), n, existing)
}
