package ecs

import (
	"slices"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/scheduler"
)

// Capacity provider strategies on RunTask. An instance belongs to the
// provider it names in the capacityProviderAttr attribute at registration
// (ECS takes it from the instance's Auto Scaling group; Berth has none), shown
// as the instance's capacityProviderName. A strategy splits the tasks of a
// request over its providers by base and weight
// (scheduler.DistributeCapacityProviders); each provider's share is then
// placed by the request's constraints and strategies on that provider's
// instances only.

// capacityProviderAttr is the registration attribute naming the instance's
// capacity provider (for the agent: ECS_INSTANCE_ATTRIBUTES
// {"berth.capacity-provider":"my-provider"}).
const capacityProviderAttr = "berth.capacity-provider"

// errLaunchTypeAndStrategy is ECS's refusal of both at once.
const errLaunchTypeAndStrategy = "Specifying both a launch type and capacity provider strategy is not supported."

// launchProviders decides how a RunTask launches: with launchType (nil
// result: any instance of the cluster), with its capacity provider strategy,
// or, with neither, with the cluster's default strategy when it has one. The
// result names the provider of each of the count tasks.
func (s *Server) launchProviders(c clusterRecord, launchType *ecsapi.LaunchType, strategy []ecsapi.CapacityProviderStrategyItem, count int) ([]string, error) {
	items, err := s.launchShares(c, launchType, strategy, true)
	if err != nil || items == nil {
		return nil, err
	}
	return scheduler.DistributeCapacityProviders(items, count, nil), nil
}

// launchShares decides how tasks launch: with launchType (nil: on any
// instance), with the capacity provider strategy, or, with neither, with
// the cluster's default strategy when useDefault and it has one (nil
// without). It refuses both at once, launch types Berth does not run, and
// strategies providerShares refuses.
func (s *Server) launchShares(c clusterRecord, launchType *ecsapi.LaunchType, strategy []ecsapi.CapacityProviderStrategyItem, useDefault bool) ([]scheduler.ProviderShare, error) {
	if launchType != nil && len(strategy) > 0 {
		return nil, invalidParam(errLaunchTypeAndStrategy)
	}
	if launchType != nil {
		if *launchType != ecsapi.LaunchTypeEc2 {
			return nil, invalidParam("Launch type %s is not supported by Berth yet; use EC2 (the default).", *launchType)
		}
		return nil, nil
	}
	if len(strategy) == 0 && useDefault {
		strategy = c.DefaultStrategy
	}
	if len(strategy) == 0 {
		return nil, nil
	}
	return s.providerShares(c, strategy)
}

// providerShares checks a capacity provider strategy against the cluster
// (providers exist, are ACTIVE and associated with it; Fargate refused;
// base and weight rules) and returns its items by provider name.
func (s *Server) providerShares(c clusterRecord, strategy []ecsapi.CapacityProviderStrategyItem) ([]scheduler.ProviderShare, error) {
	items := strategyShares(strategy)
	for i := range items {
		name := s.providerName(items[i].Name)
		items[i].Name = name
		if slices.Contains(builtinProviders, name) {
			return nil, invalidParam("Capacity provider %s is not supported by Berth yet: Berth runs tasks on container instances only; use a capacity provider of container instances or launchType EC2.", name)
		}
		if cp, ok := s.cachedCapacityProvider(name); !ok || cp.Status != "ACTIVE" {
			return nil, invalidParam("The specified capacity provider %s does not exist or is not ACTIVE.", name)
		}
		if !slices.Contains(c.CapacityProviders, name) {
			return nil, invalidParam("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.")
		}
	}
	if err := scheduler.ValidateProviderStrategy(items); err != nil {
		return nil, invalidParam("%s", err.Error())
	}
	return items, nil
}

// strategyShares is a stored (already validated) strategy as the
// scheduler's items.
func strategyShares(strategy []ecsapi.CapacityProviderStrategyItem) []scheduler.ProviderShare {
	items := make([]scheduler.ProviderShare, len(strategy))
	for i, it := range strategy {
		items[i] = scheduler.ProviderShare{Name: it.CapacityProvider, Base: int(deref(it.Base)), Weight: int(deref(it.Weight))}
	}
	return items
}

// noInstances is the failure of a request no instance could consider.
var noInstances = placementFailure{Reason: reasonNoInstances}

// placeProviders places a request whose tasks are split over capacity
// providers (providers names each task's; nil: one placement over the whole
// cluster). Providers own disjoint instances, so each share is placed on
// that provider's instances only; a provider without instances fails its
// share with CAPACITY_PROVIDER and the provider's name as detail.
func placeProviders(ps placementState, req placementRequest, providers []string) placed {
	if len(providers) == 0 {
		return place(ps, req)
	}
	counts := map[string]int{}
	var order []string
	for _, p := range providers {
		if counts[p] == 0 {
			order = append(order, p)
		}
		counts[p]++
	}
	members := map[string]bool{}
	for _, e := range ps.entries {
		if counts[e.pi.CapacityProvider] > 0 {
			members[e.pi.CapacityProvider] = true
		}
	}
	var (
		out  placed
		seen = map[placementFailure]bool{}
	)
	for _, p := range order {
		if !members[p] {
			out.failures = append(out.failures, placementFailure{Reason: scheduler.ReasonCapacityProvider, Detail: p})
			continue
		}
		r := req
		r.Count, r.CapacityProvider = counts[p], p
		share := place(ps, r)
		out.assigned = append(out.assigned, share.assigned...)
		for _, e := range share.explain {
			out.explain = append(out.explain, p+": "+e)
		}
		own := 0
		for _, f := range share.failures {
			// Other providers' instances are not candidates, not failures.
			if f.Reason == scheduler.ReasonCapacityProvider {
				continue
			}
			own++
			if !seen[f] {
				seen[f] = true
				out.failures = append(out.failures, f)
			}
		}
		if len(share.assigned) < r.Count && own == 0 && !seen[noInstances] {
			seen[noInstances] = true
			out.failures = append(out.failures, noInstances)
		}
	}
	return out
}
