package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/service/plan"
	"github.com/berth-dev/berth/internal/store"
)

// DescribeServices implements ecsapi.Handler.
func (s *Server) DescribeServices(ctx context.Context, in *ecsapi.DescribeServicesRequest) (*ecsapi.DescribeServicesResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if len(in.Services) == 0 {
		return nil, invalidParam("Services cannot be empty.")
	}
	if len(in.Services) > 10 {
		return nil, invalidParam("DescribeServices accepts at most 10 services; %d were given.", len(in.Services))
	}
	withTags := false
	for _, f := range in.Include {
		if f == ecsapi.ServiceFieldTags {
			withTags = true
		}
	}
	out := &ecsapi.DescribeServicesResponse{Services: []ecsapi.Service{}, Failures: []ecsapi.Failure{}}
	for _, ref := range in.Services {
		name, ok := s.serviceName(c.Name, ref)
		var rec serviceRecord
		if ok {
			rec, ok = s.cachedService(c.Name, name)
		}
		if !ok {
			arn := ref
			if !strings.HasPrefix(ref, "arn:") {
				arn = s.serviceARN(c.Name, ref)
			}
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(arn), Reason: ptr(reasonMissing)})
			continue
		}
		out.Services = append(out.Services, *s.serviceView(rec, withTags))
	}
	return out, nil
}

// ListServices implements ecsapi.Handler: ACTIVE services only (DRAINING
// and INACTIVE ones are hidden, as on ECS).
func (s *Server) ListServices(ctx context.Context, in *ecsapi.ListServicesRequest) (*ecsapi.ListServicesResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, kv := range s.cache.List(s.key("services", c.Name) + "/") {
		var r serviceRecord
		if json.Unmarshal(kv.Value, &r) != nil || r.Status != serviceActive {
			continue
		}
		switch {
		case in.LaunchType != nil && r.LaunchType != string(*in.LaunchType):
		case in.SchedulingStrategy != nil && r.SchedulingStrategy != string(*in.SchedulingStrategy):
		case in.ResourceManagementType != nil && *in.ResourceManagementType != ecsapi.ResourceManagementTypeCustomer:
		default:
			names = append(names, r.Name)
		}
	}
	pg, next, err := page(names, in.NextToken, in.MaxResults, 10, 100)
	if err != nil {
		return nil, err
	}
	out := &ecsapi.ListServicesResponse{ServiceArns: []string{}, NextToken: next}
	for _, n := range pg {
		out.ServiceArns = append(out.ServiceArns, s.serviceARN(c.Name, n))
	}
	return out, nil
}

// updateService applies fn to an ACTIVE service's spec with a guarded write.
func (s *Server) updateService(ctx context.Context, clusterRef, ref string, fn func(*serviceRecord) error) (serviceRecord, error) {
	c, err := s.activeCluster(clusterRef)
	if err != nil {
		return serviceRecord{}, err
	}
	name, ok := s.serviceName(c.Name, ref)
	if !ok {
		return serviceRecord{}, ecsapi.NewServiceNotFoundException("Service not found.")
	}
	notFound := errors.New("not found")
	notActive := errors.New("not active")
	rec, rev, err := store.UpdateJSON(ctx, s.st, s.serviceKey(c.Name, name), func(cur *serviceRecord, exists bool) (*serviceRecord, error) {
		if !exists {
			return nil, notFound
		}
		if cur.Status != serviceActive {
			return nil, notActive
		}
		if err := fn(cur); err != nil {
			return nil, err
		}
		return cur, nil
	})
	switch {
	case errors.Is(err, notFound):
		return serviceRecord{}, ecsapi.NewServiceNotFoundException("Service not found.")
	case errors.Is(err, notActive):
		return serviceRecord{}, ecsapi.NewServiceNotActiveException("Service was not ACTIVE.")
	case err != nil:
		return serviceRecord{}, err
	}
	return rec, s.synced(ctx, rev)
}

// UpdateService implements ecsapi.Handler. A change of task definition,
// network configuration, placement, capacity provider strategy or
// forceNewDeployment starts a new
// deployment; a desired count or deployment configuration change alone is
// taken by the current one.
func (s *Server) UpdateService(ctx context.Context, in *ecsapi.UpdateServiceRequest) (*ecsapi.UpdateServiceResponse, error) {
	if err := unsupportedServiceFields(in.LoadBalancers, in.ServiceRegistries, in.PlatformVersion,
		in.EnableExecuteCommand, in.ServiceConnectConfiguration, in.VolumeConfigurations, in.VpcLatticeConfigurations); err != nil {
		return nil, err
	}
	if in.DeploymentController != nil && in.DeploymentController.Type != ecsapi.DeploymentControllerTypeEcs {
		return nil, invalidParam("Deployment controller %s is not supported by Berth yet; use ECS.", in.DeploymentController.Type)
	}
	var tdARN string
	var tdDef *ecsapi.TaskDefinition
	if in.TaskDefinition != nil {
		td, err := s.resolveTaskDef(*in.TaskDefinition)
		if err != nil {
			return nil, err
		}
		if td.Status != taskDefActive {
			return nil, invalidParam("TaskDefinition is inactive")
		}
		tdARN, tdDef = deref(td.Def.TaskDefinitionArn), &td.Def
	}
	if err := checkServicePlacement(in.PlacementConstraints, in.PlacementStrategy); err != nil {
		return nil, err
	}
	if deref(in.HealthCheckGracePeriodSeconds) < 0 {
		return nil, invalidParam("healthCheckGracePeriodSeconds must be at least 0.")
	}
	var cpStrategy []ecsapi.CapacityProviderStrategyItem
	if len(in.CapacityProviderStrategy) > 0 {
		c, err := s.activeCluster(deref(in.Cluster))
		if err != nil {
			return nil, err
		}
		items, err := s.providerShares(c, in.CapacityProviderStrategy)
		if err != nil {
			return nil, err
		}
		cpStrategy = strategyItems(items)
	}
	now := s.now()
	rec, err := s.updateService(ctx, deref(in.Cluster), in.Service, func(r *serviceRecord) error {
		daemon := r.SchedulingStrategy == string(ecsapi.SchedulingStrategyDaemon)
		newDeployment := deref(in.ForceNewDeployment)
		if in.DesiredCount != nil {
			if daemon {
				return invalidParam("The daemon scheduling strategy does not support a desired count for services.")
			}
			if *in.DesiredCount < 0 {
				return invalidParam("desiredCount must be at least 0.")
			}
			r.DesiredCount = *in.DesiredCount
		}
		if tdDef != nil {
			nc := r.NetworkConfiguration
			if in.NetworkConfiguration != nil {
				nc = in.NetworkConfiguration
			}
			if err := s.checkServiceTaskDef(*tdDef, nc); err != nil {
				return err
			}
			if tdARN != r.TaskDefinition {
				r.TaskDefinition = tdARN
				newDeployment = true
			}
		}
		if in.NetworkConfiguration != nil && !reflect.DeepEqual(in.NetworkConfiguration, r.NetworkConfiguration) {
			r.NetworkConfiguration = in.NetworkConfiguration
			newDeployment = true
		}
		if in.PlacementConstraints != nil {
			r.PlacementConstraints = in.PlacementConstraints
			newDeployment = true
		}
		if in.PlacementStrategy != nil {
			if daemon && len(in.PlacementStrategy) > 0 {
				return invalidParam("The daemon scheduling strategy does not support placement strategies.")
			}
			r.PlacementStrategy = in.PlacementStrategy
			newDeployment = true
		}
		if in.CapacityProviderStrategy != nil {
			changed, err := r.updateLaunch(cpStrategy, deref(in.ForceNewDeployment))
			if err != nil {
				return err
			}
			newDeployment = newDeployment || changed
		}
		if in.DeploymentConfiguration != nil {
			dc, err := normalizeDeploymentConfig(in.DeploymentConfiguration, r.SchedulingStrategy, &r.DeploymentConfiguration)
			if err != nil {
				return err
			}
			r.DeploymentConfiguration = dc
		}
		if in.HealthCheckGracePeriodSeconds != nil {
			r.HealthCheckGracePeriodSeconds = *in.HealthCheckGracePeriodSeconds
		}
		if in.PropagateTags != nil {
			r.PropagateTags = string(*in.PropagateTags)
		}
		if in.EnableECSManagedTags != nil {
			r.EnableECSManagedTags = *in.EnableECSManagedTags
		}
		if newDeployment {
			r.DeploymentID = plan.DeploymentID(now)
			r.DeploymentCreatedAt = now
			r.addRevision()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.UpdateServiceResponse{Service: s.serviceView(rec, false)}, nil
}

// DeleteService implements ecsapi.Handler: the service becomes DRAINING
// (its tasks are stopped by the controller), then INACTIVE once they have
// all stopped. A REPLICA service must be scaled to zero first unless force.
func (s *Server) DeleteService(ctx context.Context, in *ecsapi.DeleteServiceRequest) (*ecsapi.DeleteServiceResponse, error) {
	rec, err := s.updateService(ctx, deref(in.Cluster), in.Service, func(r *serviceRecord) error {
		if r.SchedulingStrategy == string(ecsapi.SchedulingStrategyReplica) && r.DesiredCount > 0 && !deref(in.Force) {
			return invalidParam("The service cannot be stopped while it is scaled above 0.")
		}
		r.Status = serviceDraining
		r.DesiredCount = 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.DeleteServiceResponse{Service: s.serviceView(rec, false)}, nil
}
