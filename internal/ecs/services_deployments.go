package ecs

import (
	"context"
	"slices"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/service/plan"
)

// Service deployments (the newer API over the same deployments the
// controller keeps): ARN service-deployment/<cluster>/<service>/<the 19
// digits of ecs-svc/...>. Only what the controller records is shown (with
// the service revisions of services_revisions.go); no lifecycle hooks.

const resServiceDeployment = "service-deployment"

func (s *Server) serviceDeploymentARN(cluster, service, id string) string {
	return s.arn(resServiceDeployment, cluster, service, strings.TrimPrefix(id, "ecs-svc/"))
}

// deploymentStatus maps a deployment to the ServiceDeployment status.
func deploymentStatus(d plan.Deployment) ecsapi.ServiceDeploymentStatus {
	rollback := d.RollbackOf != ""
	switch {
	case rollback && d.RolloutState == plan.Completed:
		return ecsapi.ServiceDeploymentStatusRollbackSuccessful
	case rollback && d.RolloutState == plan.Failed:
		return ecsapi.ServiceDeploymentStatusRollbackFailed
	case rollback && d.Status == plan.Primary:
		return ecsapi.ServiceDeploymentStatusRollbackInProgress
	case d.RolloutState == plan.Completed:
		return ecsapi.ServiceDeploymentStatusSuccessful
	case d.Status == plan.Primary && d.RolloutState == plan.InProgress:
		return ecsapi.ServiceDeploymentStatusInProgress
	}
	return ecsapi.ServiceDeploymentStatusStopped // failed or replaced
}

// allDeployments lists a service's deployments, current then finished,
// newest first.
func allDeployments(st plan.Status) []plan.Deployment {
	out := slices.Clone(st.Deployments)
	for _, h := range st.History {
		if !slices.ContainsFunc(out, func(d plan.Deployment) bool { return d.ID == h.ID }) {
			out = append(out, h)
		}
	}
	slices.SortStableFunc(out, func(a, b plan.Deployment) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out
}

// ListServiceDeployments implements ecsapi.Handler.
func (s *Server) ListServiceDeployments(ctx context.Context, in *ecsapi.ListServiceDeploymentsRequest) (*ecsapi.ListServiceDeploymentsResponse, error) {
	c, err := s.activeCluster(deref(in.Cluster))
	if err != nil {
		return nil, err
	}
	name, ok := s.serviceName(c.Name, in.Service)
	var rec serviceRecord
	if ok {
		rec, ok = s.cachedService(c.Name, name)
	}
	if !ok {
		return nil, ecsapi.NewServiceNotFoundException("Service not found.")
	}
	st := s.cachedServiceStatus(c.Name, name)
	var keys []string
	byKey := map[string]plan.Deployment{}
	for i, d := range allDeployments(st) {
		if len(in.Status) > 0 && !slices.Contains(in.Status, deploymentStatus(d)) {
			continue
		}
		if ca := in.CreatedAt; ca != nil {
			if ca.Before != nil && !d.CreatedAt.Before(ca.Before.Time) || ca.After != nil && !d.CreatedAt.After(ca.After.Time) {
				continue
			}
		}
		// Page keys sort like the list: newest first.
		k := string(rune('a'+i/26)) + string(rune('a'+i%26)) + d.ID
		keys = append(keys, k)
		byKey[k] = d
	}
	pg, next, err := page(keys, in.NextToken, in.MaxResults, 20, 100)
	if err != nil {
		return nil, err
	}
	out := &ecsapi.ListServiceDeploymentsResponse{ServiceDeployments: []ecsapi.ServiceDeploymentBrief{}, NextToken: next}
	for _, k := range pg {
		d := byKey[k]
		out.ServiceDeployments = append(out.ServiceDeployments, ecsapi.ServiceDeploymentBrief{
			ServiceDeploymentArn: ptr(s.serviceDeploymentARN(c.Name, name, d.ID)), ServiceArn: ptr(s.serviceARN(c.Name, rec.Name)),
			ClusterArn: ptr(s.clusterARN(c.Name)), CreatedAt: awsapiTime(d.CreatedAt), StartedAt: awsapiTime(d.CreatedAt),
			FinishedAt: awsapiTime(d.FinishedAt), Status: ptr(deploymentStatus(d)), StatusReason: ptr(d.RolloutStateReason),
		})
	}
	return out, nil
}

// DescribeServiceDeployments implements ecsapi.Handler.
func (s *Server) DescribeServiceDeployments(ctx context.Context, in *ecsapi.DescribeServiceDeploymentsRequest) (*ecsapi.DescribeServiceDeploymentsResponse, error) {
	if len(in.ServiceDeploymentArns) == 0 || len(in.ServiceDeploymentArns) > 20 {
		return nil, invalidParam("serviceDeploymentArns must name between 1 and 20 service deployments.")
	}
	out := &ecsapi.DescribeServiceDeploymentsResponse{ServiceDeployments: []ecsapi.ServiceDeployment{}, Failures: []ecsapi.Failure{}}
	for _, arn := range in.ServiceDeploymentArns {
		sd, ok := s.serviceDeployment(arn)
		if !ok {
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(arn), Reason: ptr(reasonMissing)})
			continue
		}
		out.ServiceDeployments = append(out.ServiceDeployments, sd)
	}
	return out, nil
}

func (s *Server) serviceDeployment(arn string) (ecsapi.ServiceDeployment, bool) {
	a, ok := parseARN(arn)
	if !ok || a.Resource != resServiceDeployment || len(a.Path) != 3 || a.Region != s.cfg.Region || a.Account != s.cfg.AccountID {
		return ecsapi.ServiceDeployment{}, false
	}
	cluster, service, id := a.Path[0], a.Path[1], "ecs-svc/"+a.Path[2]
	rec, ok := s.cachedService(cluster, service)
	if !ok {
		return ecsapi.ServiceDeployment{}, false
	}
	st := s.cachedServiceStatus(cluster, service)
	i := slices.IndexFunc(allDeployments(st), func(d plan.Deployment) bool { return d.ID == id })
	if i < 0 {
		return ecsapi.ServiceDeployment{}, false
	}
	d := allDeployments(st)[i]
	dc := rec.DeploymentConfiguration
	sd := ecsapi.ServiceDeployment{
		ServiceDeploymentArn: ptr(arn), ServiceArn: ptr(s.serviceARN(cluster, service)), ClusterArn: ptr(s.clusterARN(cluster)),
		CreatedAt: awsapiTime(d.CreatedAt), StartedAt: awsapiTime(d.CreatedAt), UpdatedAt: awsapiTime(d.UpdatedAt),
		FinishedAt: awsapiTime(d.FinishedAt), Status: ptr(deploymentStatus(d)), StatusReason: ptr(d.RolloutStateReason),
		DeploymentConfiguration: &dc,
	}
	cbStatus := ecsapi.ServiceDeploymentRollbackMonitorsStatusDisabled
	if cb := dc.DeploymentCircuitBreaker; cb != nil && cb.Enable {
		switch d.RolloutState {
		case plan.Failed:
			cbStatus = ecsapi.ServiceDeploymentRollbackMonitorsStatusTriggered
		case plan.InProgress:
			cbStatus = ecsapi.ServiceDeploymentRollbackMonitorsStatusMonitoring
		default:
			cbStatus = ecsapi.ServiceDeploymentRollbackMonitorsStatusMonitoringComplete
		}
	}
	sd.DeploymentCircuitBreaker = &ecsapi.ServiceDeploymentCircuitBreaker{Status: &cbStatus,
		FailureCount: ptr(int32(d.FailedTasks)), Threshold: ptr(int32(plan.Threshold(d.DesiredCount)))}
	sd.TargetServiceRevision = s.revisionSummary(rec, d)
	for _, o := range st.Deployments {
		if o.ID != d.ID && d.Status == plan.Primary && o.Status == plan.Active {
			if src := s.revisionSummary(rec, o); src != nil {
				sd.SourceServiceRevisions = append(sd.SourceServiceRevisions, *src)
			}
		}
	}
	if d.RollbackOf != "" {
		sd.Rollback = &ecsapi.Rollback{Reason: ptr(d.RolloutStateReason), StartedAt: awsapiTime(d.CreatedAt)}
	}
	return sd, true
}

// StopServiceDeployment implements ecsapi.Handler: an IN_PROGRESS deployment
// launches nothing more (ABORT) or gives way to the last COMPLETED one
// (ROLLBACK, the default).
func (s *Server) StopServiceDeployment(ctx context.Context, in *ecsapi.StopServiceDeploymentRequest) (*ecsapi.StopServiceDeploymentResponse, error) {
	stopType := ecsapi.StopServiceDeploymentStopTypeRollback
	if in.StopType != nil {
		stopType = *in.StopType
	}
	a, ok := parseARN(in.ServiceDeploymentArn)
	if !ok || a.Resource != resServiceDeployment || len(a.Path) != 3 || a.Region != s.cfg.Region || a.Account != s.cfg.AccountID {
		return nil, ecsapi.NewServiceDeploymentNotFoundException("The service deployment %s was not found.", in.ServiceDeploymentArn)
	}
	cluster, service, id := a.Path[0], a.Path[1], "ecs-svc/"+a.Path[2]
	if _, ok := s.serviceDeployment(in.ServiceDeploymentArn); !ok {
		return nil, ecsapi.NewServiceDeploymentNotFoundException("The service deployment %s was not found.", in.ServiceDeploymentArn)
	}
	now := s.now()
	_, err := s.updateService(ctx, cluster, service, func(r *serviceRecord) error {
		st := s.cachedServiceStatus(cluster, service)
		if len(st.Deployments) == 0 || st.Deployments[0].ID != id || st.Deployments[0].RolloutState != plan.InProgress || r.DeploymentID != id {
			return ecsapi.NewConflictException("The service deployment %s is not in progress.", in.ServiceDeploymentArn)
		}
		r.StopDeployment = &deploymentStop{ID: id, Type: string(stopType), At: now}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.StopServiceDeploymentResponse{ServiceDeploymentArn: ptr(in.ServiceDeploymentArn)}, nil
}
