package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/internal/scheduler"
	"github.com/berth-dev/berth/internal/service/plan"
	"github.com/berth-dev/berth/internal/store"
)

// A service is two records with one writer each:
//
//   - the spec, services/<cluster>/<name>: what the API asked for
//     (Create/Update/DeleteService). It carries status, launchType and
//     capacityProviders under the names counts.go reads. Its status goes
//     ACTIVE -> DRAINING by DeleteService; DRAINING -> INACTIVE is the one
//     write of the service controller, once every task has stopped (a
//     guarded lifecycle hand-over, not a shared field: the API never
//     writes a DRAINING service again).
//   - the status, servicestatus/<cluster>/<name>: what the controller
//     observed and decided (plan.Status: deployments with their counts and
//     rollout states, events, running/pending counts). Only the service
//     controller writes it.

const (
	serviceActive   = "ACTIVE"
	serviceDraining = "DRAINING"
	serviceInactive = "INACTIVE"
)

// serviceRecord is a service's spec.
type serviceRecord struct {
	Name    string `json:"name"`
	Cluster string `json:"cluster"`
	// Status, LaunchType and CapacityProviders are read by counts.go.
	Status            string   `json:"status"`
	LaunchType        string   `json:"launchType"`
	CapacityProviders []string `json:"capacityProviders,omitempty"`
	// CapacityProviderStrategy, by provider name, when the service
	// launches by a strategy (LaunchType is then empty; services_capacity.go).
	CapacityProviderStrategy []ecsapi.CapacityProviderStrategyItem `json:"capacityProviderStrategy,omitempty"`
	SchedulingStrategy       string                                `json:"schedulingStrategy"`
	DesiredCount             int32                                 `json:"desiredCount"`
	TaskDefinition           string                                `json:"taskDefinition"` // ARN of the requested revision
	// DeploymentID is the deployment the API last asked for; a new one on
	// CreateService and on every UpdateService that changes the
	// configuration or forces a new deployment.
	DeploymentID                  string                         `json:"deploymentId"`
	DeploymentCreatedAt           time.Time                      `json:"deploymentCreatedAt"`
	DeploymentConfiguration       ecsapi.DeploymentConfiguration `json:"deploymentConfiguration"`
	PlacementConstraints          []ecsapi.PlacementConstraint   `json:"placementConstraints,omitempty"`
	PlacementStrategy             []ecsapi.PlacementStrategy     `json:"placementStrategy,omitempty"`
	NetworkConfiguration          *ecsapi.NetworkConfiguration   `json:"networkConfiguration,omitempty"`
	HealthCheckGracePeriodSeconds int32                          `json:"healthCheckGracePeriodSeconds,omitempty"`
	PropagateTags                 string                         `json:"propagateTags,omitempty"`
	EnableECSManagedTags          bool                           `json:"enableECSManagedTags,omitempty"`
	ClientToken                   string                         `json:"clientToken,omitempty"`
	RequestHash                   string                         `json:"requestHash,omitempty"`
	CreatedAt                     time.Time                      `json:"createdAt"`
	CreatedBy                     string                         `json:"createdBy,omitempty"`
	// StopDeployment is a StopServiceDeployment request.
	StopDeployment *deploymentStop `json:"stopDeployment,omitempty"`
	// Revisions are the service revisions of its deployments, newest
	// first (services_revisions.go).
	Revisions []serviceRevisionRecord `json:"revisions,omitempty"`
}

// deploymentStop is a StopServiceDeployment request for one deployment.
type deploymentStop struct {
	ID   string    `json:"id"`
	Type string    `json:"type"` // ROLLBACK or ABORT
	At   time.Time `json:"at"`
}

var serviceNameRE = lazyregexp.New(`^[A-Za-z0-9_-]{1,255}$`)

func (s *Server) serviceKey(cluster, name string) string { return s.key("services", cluster, name) }
func (s *Server) serviceStatusKey(cluster, name string) string {
	return s.key("servicestatus", cluster, name)
}
func (s *Server) serviceARN(cluster, name string) string { return s.arn(resService, cluster, name) }

func (s *Server) cachedService(cluster, name string) (serviceRecord, bool) {
	r, _, err := store.GetCachedJSON[serviceRecord](s.cache, s.serviceKey(cluster, name))
	return r, err == nil
}

func (s *Server) cachedServiceStatus(cluster, name string) plan.Status {
	r, _, _ := store.GetCachedJSON[plan.Status](s.cache, s.serviceStatusKey(cluster, name))
	return r
}

// serviceName resolves a service reference (name or ARN) within a cluster.
func (s *Server) serviceName(cluster, ref string) (string, bool) {
	a, ok := parseARN(ref)
	if !ok {
		return ref, serviceNameRE.MatchString(ref)
	}
	switch {
	case a.Resource != resService || a.Region != s.cfg.Region || a.Account != s.cfg.AccountID:
		return "", false
	case len(a.Path) == 2 && a.Path[0] == cluster:
		return a.Path[1], true
	case len(a.Path) == 1: // the old ARN format without the cluster
		return a.Path[0], true
	}
	return "", false
}

// normalizeDeploymentConfig fills ECS's defaults and checks the bounds.
func normalizeDeploymentConfig(in *ecsapi.DeploymentConfiguration, strategy string, cur *ecsapi.DeploymentConfiguration) (ecsapi.DeploymentConfiguration, error) {
	var dc ecsapi.DeploymentConfiguration
	if cur != nil {
		dc = *cur
	}
	if in != nil {
		if in.MaximumPercent != nil {
			dc.MaximumPercent = in.MaximumPercent
		}
		if in.MinimumHealthyPercent != nil {
			dc.MinimumHealthyPercent = in.MinimumHealthyPercent
		}
		if in.DeploymentCircuitBreaker != nil {
			dc.DeploymentCircuitBreaker = in.DeploymentCircuitBreaker
		}
		if in.Alarms != nil {
			dc.Alarms = in.Alarms
		}
		if in.Strategy != nil && *in.Strategy != ecsapi.DeploymentStrategyRolling {
			return dc, invalidParam("Deployment strategy %s is not supported by Berth yet; use ROLLING.", *in.Strategy)
		}
		if in.Alarms != nil && in.Alarms.Enable {
			return dc, invalidParam("Deployment alarms are not supported by Berth yet.")
		}
	}
	daemon := strategy == string(ecsapi.SchedulingStrategyDaemon)
	if dc.MaximumPercent == nil {
		dc.MaximumPercent = ptr(int32(200))
		if daemon {
			dc.MaximumPercent = ptr(int32(100))
		}
	}
	if dc.MinimumHealthyPercent == nil {
		dc.MinimumHealthyPercent = ptr(int32(100))
		if daemon {
			dc.MinimumHealthyPercent = ptr(int32(0))
		}
	}
	if dc.DeploymentCircuitBreaker == nil {
		dc.DeploymentCircuitBreaker = &ecsapi.DeploymentCircuitBreaker{}
	}
	if dc.Strategy == nil {
		dc.Strategy = ptr(ecsapi.DeploymentStrategyRolling)
	}
	mx, mn := *dc.MaximumPercent, *dc.MinimumHealthyPercent
	switch {
	case mn < 0 || mn > 100:
		return dc, invalidParam("minimumHealthyPercent must be between 0 and 100.")
	case daemon && mx != 100:
		return dc, invalidParam("The maximumPercent for a service using the DAEMON scheduling strategy must be 100.")
	case mx < 100 && !daemon:
		return dc, invalidParam("maximumPercent must be at least 100.")
	case mx <= mn:
		return dc, invalidParam("maximumPercent must be greater than minimumHealthyPercent.")
	}
	return dc, nil
}

// CreateService implements ecsapi.Handler.
func (s *Server) CreateService(ctx context.Context, in *ecsapi.CreateServiceRequest) (*ecsapi.CreateServiceResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	if !serviceNameRE.MatchString(in.ServiceName) {
		return nil, invalidParam("Service name must be 1-255 characters: letters, numbers, hyphens and underscores.")
	}
	if len(deref(in.ClientToken)) > 36 {
		return nil, invalidParam("clientToken must be at most 36 characters.")
	}
	if err := unsupportedServiceFields(in.LoadBalancers, in.ServiceRegistries, in.PlatformVersion,
		in.EnableExecuteCommand, in.ServiceConnectConfiguration, in.VolumeConfigurations, in.VpcLatticeConfigurations); err != nil {
		return nil, err
	}
	if in.DeploymentController != nil && in.DeploymentController.Type != ecsapi.DeploymentControllerTypeEcs {
		return nil, invalidParam("Deployment controller %s is not supported by Berth yet; use ECS.", in.DeploymentController.Type)
	}
	strategy := string(ecsapi.SchedulingStrategyReplica)
	if in.SchedulingStrategy != nil {
		strategy = string(*in.SchedulingStrategy)
	}
	daemon := strategy == string(ecsapi.SchedulingStrategyDaemon)
	desired := deref(in.DesiredCount)
	switch {
	case daemon && in.DesiredCount != nil && desired != 0:
		return nil, invalidParam("The daemon scheduling strategy does not support a desired count for services.")
	case daemon && len(in.PlacementStrategy) > 0:
		return nil, invalidParam("The daemon scheduling strategy does not support placement strategies.")
	case !daemon && in.DesiredCount == nil:
		return nil, invalidParam("desiredCount is required for a service using the REPLICA scheduling strategy.")
	case desired < 0:
		return nil, invalidParam("desiredCount must be at least 0.")
	}
	launchType, cpStrategy, err := s.serviceLaunch(c, in.LaunchType, in.CapacityProviderStrategy, daemon)
	if err != nil {
		return nil, err
	}
	if in.TaskDefinition == nil {
		return nil, invalidParam("taskDefinition is required.")
	}
	td, err := s.resolveTaskDef(*in.TaskDefinition)
	if err != nil {
		return nil, err
	}
	if td.Status != taskDefActive {
		return nil, invalidParam("TaskDefinition is inactive")
	}
	if err := s.checkServiceTaskDef(td.Def, in.NetworkConfiguration); err != nil {
		return nil, err
	}
	dc, err := normalizeDeploymentConfig(in.DeploymentConfiguration, strategy, nil)
	if err != nil {
		return nil, err
	}
	if err := checkServicePlacement(in.PlacementConstraints, in.PlacementStrategy); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	if g := deref(in.HealthCheckGracePeriodSeconds); g < 0 {
		return nil, invalidParam("healthCheckGracePeriodSeconds must be at least 0.")
	}
	req := *in
	req.ClientToken = nil
	b, _ := json.Marshal(req)
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:])
	now := s.now()
	rec := serviceRecord{
		Name: in.ServiceName, Cluster: c.Name, Status: serviceActive,
		SchedulingStrategy: strategy, DesiredCount: desired, TaskDefinition: deref(td.Def.TaskDefinitionArn),
		DeploymentID: plan.DeploymentID(now), DeploymentCreatedAt: now, DeploymentConfiguration: dc,
		PlacementConstraints: in.PlacementConstraints, PlacementStrategy: in.PlacementStrategy,
		NetworkConfiguration: in.NetworkConfiguration, HealthCheckGracePeriodSeconds: deref(in.HealthCheckGracePeriodSeconds),
		EnableECSManagedTags: deref(in.EnableECSManagedTags), ClientToken: deref(in.ClientToken), RequestHash: hash,
		CreatedAt: now, CreatedBy: s.callerARN(ctx),
	}
	rec.setLaunch(launchType, cpStrategy)
	if in.PropagateTags != nil {
		rec.PropagateTags = string(*in.PropagateTags)
	}
	rec.addRevision()
	key := s.serviceKey(c.Name, in.ServiceName)
	for attempt := 0; ; attempt++ {
		kv, err := s.st.Get(ctx, key)
		var expect int64
		switch {
		case err == nil:
			var cur serviceRecord
			if err := json.Unmarshal(kv.Value, &cur); err != nil {
				return nil, err
			}
			if cur.Status != serviceInactive {
				if rec.ClientToken != "" && cur.ClientToken == rec.ClientToken && cur.RequestHash == hash {
					if err := s.synced(ctx, kv.ModRevision); err != nil {
						return nil, err
					}
					return &ecsapi.CreateServiceResponse{Service: s.serviceView(cur, false)}, nil
				}
				return nil, invalidParam("Creation of service was not idempotent.")
			}
			expect = kv.ModRevision
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		sb, _ := json.Marshal(rec)
		ops := []store.Op{{Key: key, Value: sb, ExpectRev: expect}}
		// A re-created service starts with a fresh status: the old one's
		// deployments and events are gone, as on ECS.
		ops = append(ops, store.Op{Key: s.serviceStatusKey(c.Name, rec.Name), Delete: true, Unconditional: true})
		ops = append(ops, s.tagsOp(s.serviceARN(c.Name, rec.Name), in.Tags))
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
		return &ecsapi.CreateServiceResponse{Service: s.serviceView(rec, false)}, nil
	}
}

// unsupportedServiceFields refuses what Berth cannot do yet instead of
// silently ignoring it.
func unsupportedServiceFields(lbs []ecsapi.LoadBalancer, regs []ecsapi.ServiceRegistry,
	platform *string, exec *bool, sc *ecsapi.ServiceConnectConfiguration, vols []ecsapi.ServiceVolumeConfiguration, lattice []ecsapi.VpcLatticeConfiguration) error {
	switch {
	case len(lbs) > 0:
		return invalidParam("loadBalancers are not supported by Berth services yet.")
	case len(regs) > 0:
		return invalidParam("serviceRegistries are not supported by Berth yet.")
	case platform != nil:
		return invalidParam("platformVersion is only supported for the FARGATE launch type.")
	case deref(exec):
		return invalidParam("enableExecuteCommand is not supported by Berth yet.")
	case sc != nil && sc.Enabled:
		return invalidParam("Service Connect is not supported by Berth yet.")
	case len(vols) > 0:
		return invalidParam("volumeConfigurations are not supported by Berth yet.")
	case len(lattice) > 0:
		return invalidParam("vpcLatticeConfigurations are not supported by Berth.")
	}
	return nil
}

// checkServiceTaskDef checks the definition as RunTask would.
func (s *Server) checkServiceTaskDef(def ecsapi.TaskDefinition, nc *ecsapi.NetworkConfiguration) error {
	if len(def.Compatibilities) > 0 && !slices.Contains(def.Compatibilities, ecsapi.CompatibilityEc2) {
		return invalidParam("Task definition %s does not support launch_type EC2.", deref(def.TaskDefinitionArn))
	}
	awsvpc := networkMode(def) == ecsapi.NetworkModeAwsvpc
	switch {
	case awsvpc && (nc == nil || nc.AwsvpcConfiguration == nil):
		return invalidParam("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	case !awsvpc && nc != nil && nc.AwsvpcConfiguration != nil:
		return invalidParam("Network Configuration is not valid for the given networkMode of this task definition.")
	}
	return nil
}

func checkServicePlacement(pcs []ecsapi.PlacementConstraint, pss []ecsapi.PlacementStrategy) error {
	if len(pcs) > 10 {
		return invalidParam("At most 10 placement constraints are allowed.")
	}
	if len(pss) > 5 {
		return invalidParam("At most 5 placement strategies are allowed.")
	}
	return checkPlacement(placementRequest{Constraints: schedulerConstraints(pcs), Strategies: schedulerStrategies(pss)})
}

func schedulerConstraints(pcs []ecsapi.PlacementConstraint) []scheduler.Constraint {
	var out []scheduler.Constraint
	for _, pc := range pcs {
		out = append(out, scheduler.Constraint{Type: string(deref(pc.Type)), Expression: deref(pc.Expression)})
	}
	return out
}

func schedulerStrategies(pss []ecsapi.PlacementStrategy) []scheduler.Strategy {
	var out []scheduler.Strategy
	for _, ps := range pss {
		out = append(out, scheduler.Strategy{Type: string(deref(ps.Type)), Field: deref(ps.Field)})
	}
	return out
}

// defaultServiceStrategy is what a REPLICA service without placement
// strategies uses: ECS's "AZ balanced spread", the same default the
// planner's scale-in choice reads.
var defaultServiceStrategy = func() []scheduler.Strategy {
	var out []scheduler.Strategy
	for _, ps := range plan.DefaultStrategies {
		out = append(out, scheduler.Strategy{Type: ps.Type, Field: ps.Field})
	}
	return out
}()

// deploymentSeen: the controller has turned the API's deployment id into a
// deployment (possibly one it has since rolled back or replaced).
func deploymentSeen(st plan.Status, id string) bool {
	if st.LastCompleted != nil && st.LastCompleted.ID == id {
		return true
	}
	for _, d := range st.Deployments {
		if d.ID == id || d.RollbackOf == id {
			return true
		}
	}
	return false
}

// serviceView renders a service for the API: the spec with the
// controller's status.
func (s *Server) serviceView(r serviceRecord, withTags bool) *ecsapi.Service {
	st := s.cachedServiceStatus(r.Cluster, r.Name)
	lt, cps := launchView(r.LaunchType, r.CapacityProviderStrategy)
	ss := ecsapi.SchedulingStrategy(r.SchedulingStrategy)
	dc := r.DeploymentConfiguration
	status := r.Status
	if status == serviceDraining && st.Inactive {
		status = serviceInactive
	}
	arn := s.serviceARN(r.Cluster, r.Name)
	v := &ecsapi.Service{
		ServiceArn: ptr(arn), ServiceName: ptr(r.Name), ClusterArn: ptr(s.clusterARN(r.Cluster)),
		Status: ptr(status), DesiredCount: ptr(r.DesiredCount),
		RunningCount: ptr(int32(st.RunningCount)), PendingCount: ptr(int32(st.PendingCount)),
		LaunchType: lt, CapacityProviderStrategy: cps, TaskDefinition: ptr(r.TaskDefinition), DeploymentConfiguration: &dc,
		LoadBalancers: []ecsapi.LoadBalancer{}, ServiceRegistries: []ecsapi.ServiceRegistry{},
		Deployments: []ecsapi.Deployment{}, Events: []ecsapi.ServiceEvent{},
		CreatedAt: awsapiTime(r.CreatedAt), CreatedBy: ptr(r.CreatedBy),
		PlacementConstraints: nonNil(r.PlacementConstraints), PlacementStrategy: nonNil(r.PlacementStrategy),
		NetworkConfiguration: r.NetworkConfiguration, SchedulingStrategy: &ss,
		DeploymentController: &ecsapi.DeploymentController{Type: ecsapi.DeploymentControllerTypeEcs},
		EnableECSManagedTags: ptr(r.EnableECSManagedTags), EnableExecuteCommand: ptr(false),
		PropagateTags: ptr(ecsapi.PropagateTags(r.PropagateTags)),
	}
	if r.PropagateTags == "" {
		v.PropagateTags = ptr(ecsapi.PropagateTagsNone)
	}
	if r.HealthCheckGracePeriodSeconds > 0 {
		v.HealthCheckGracePeriodSeconds = ptr(r.HealthCheckGracePeriodSeconds)
	}
	if r.SchedulingStrategy == string(ecsapi.SchedulingStrategyDaemon) {
		// ECS shows a daemon service's desired count as the number of
		// instances it should run on.
		for _, d := range st.Deployments {
			if d.Status == plan.Primary {
				v.DesiredCount = ptr(int32(d.DesiredCount))
			}
		}
	}
	if status == serviceActive && !deploymentSeen(st, r.DeploymentID) {
		// The controller has not seen the requested deployment yet: show
		// it as PRIMARY (an UpdateService answer names it) and the others
		// as ACTIVE.
		for i := range st.Deployments {
			st.Deployments[i].Status = plan.Active
		}
		v.Deployments = append(v.Deployments, ecsapi.Deployment{
			Id: ptr(r.DeploymentID), Status: ptr(plan.Primary), TaskDefinition: ptr(r.TaskDefinition),
			DesiredCount: ptr(r.DesiredCount), PendingCount: ptr(int32(0)), RunningCount: ptr(int32(0)), FailedTasks: ptr(int32(0)),
			CreatedAt: awsapiTime(r.DeploymentCreatedAt), UpdatedAt: awsapiTime(r.DeploymentCreatedAt),
			LaunchType: lt, CapacityProviderStrategy: cps,
			NetworkConfiguration: r.NetworkConfiguration, RolloutState: ptr(ecsapi.DeploymentRolloutStateInProgress),
			RolloutStateReason: ptr("ECS deployment " + r.DeploymentID + " in progress."),
		})
	}
	for _, d := range st.Deployments {
		if d.Status == plan.Primary {
			// After a rollback the primary runs the last completed revision.
			v.TaskDefinition = ptr(d.TaskDefinition)
		}
		dlt, dcps := launchView(r.deploymentLaunch(d))
		v.Deployments = append(v.Deployments, ecsapi.Deployment{
			Id: ptr(d.ID), Status: ptr(d.Status), TaskDefinition: ptr(d.TaskDefinition),
			DesiredCount: ptr(int32(d.DesiredCount)), PendingCount: ptr(int32(d.PendingCount)), RunningCount: ptr(int32(d.RunningCount)),
			FailedTasks: ptr(int32(d.FailedTasks)), CreatedAt: awsapiTime(d.CreatedAt), UpdatedAt: awsapiTime(d.UpdatedAt),
			LaunchType: dlt, CapacityProviderStrategy: dcps, NetworkConfiguration: r.NetworkConfiguration,
			RolloutState: ptr(ecsapi.DeploymentRolloutState(d.RolloutState)), RolloutStateReason: ptr(d.RolloutStateReason),
		})
	}
	for _, e := range st.Events {
		v.Events = append(v.Events, ecsapi.ServiceEvent{Id: ptr(e.ID), CreatedAt: awsapiTime(e.CreatedAt), Message: ptr(e.Message)})
	}
	if withTags {
		v.Tags = nonNil(s.tagsOf(arn))
	}
	return v
}
