package ecs

import (
	"context"
	"slices"
	"strings"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/service/plan"
)

// Service revisions: the configuration a deployment deploys (task
// definition, launch type, network, placement). CreateService and every
// UpdateService that starts a deployment record one on the service, with the
// id of that deployment (its 19 digits): ARN
// service-revision/<cluster>/<service>/<id>. A rollback deploys the revision
// it returns to.

const (
	resServiceRevision = "service-revision"
	maxRevisions       = plan.MaxHistory + 5
)

// serviceRevisionRecord is one revision, kept on the service record.
type serviceRevisionRecord struct {
	ID                   string                       `json:"id"` // digits of the deployment id
	TaskDefinition       string                       `json:"taskDefinition"`
	LaunchType           string                       `json:"launchType,omitempty"`
	NetworkConfiguration *ecsapi.NetworkConfiguration `json:"networkConfiguration,omitempty"`
	PlacementConstraints []ecsapi.PlacementConstraint `json:"placementConstraints,omitempty"`
	PlacementStrategy    []ecsapi.PlacementStrategy   `json:"placementStrategy,omitempty"`
	CreatedAt            time.Time                    `json:"createdAt"`
	// CapacityProviderStrategy replaces LaunchType when the deployment
	// launches by a strategy.
	CapacityProviderStrategy []ecsapi.CapacityProviderStrategyItem `json:"capacityProviderStrategy,omitempty"`
}

func (s *Server) serviceRevisionARN(cluster, service, id string) string {
	return s.arn(resServiceRevision, cluster, service, id)
}

// currentRevision is the revision of the record's latest deployment.
func (r *serviceRecord) currentRevision() serviceRevisionRecord {
	return serviceRevisionRecord{
		ID: strings.TrimPrefix(r.DeploymentID, "ecs-svc/"), TaskDefinition: r.TaskDefinition, LaunchType: r.LaunchType,
		NetworkConfiguration: r.NetworkConfiguration, PlacementConstraints: r.PlacementConstraints,
		PlacementStrategy: r.PlacementStrategy, CreatedAt: r.DeploymentCreatedAt, CapacityProviderStrategy: r.CapacityProviderStrategy,
	}
}

// addRevision records the revision of the record's latest deployment
// (newest first, at most maxRevisions).
func (r *serviceRecord) addRevision() {
	rev := r.currentRevision()
	r.Revisions = slices.DeleteFunc(r.Revisions, func(o serviceRevisionRecord) bool { return o.ID == rev.ID })
	r.Revisions = append([]serviceRevisionRecord{rev}, r.Revisions...)
	if len(r.Revisions) > maxRevisions {
		r.Revisions = r.Revisions[:maxRevisions]
	}
}

// revisions lists the record's revisions; a record written before
// revisions were kept has its current one.
func (r *serviceRecord) revisions() []serviceRevisionRecord {
	cur := r.currentRevision()
	if slices.ContainsFunc(r.Revisions, func(o serviceRevisionRecord) bool { return o.ID == cur.ID }) {
		return r.Revisions
	}
	return append([]serviceRevisionRecord{cur}, r.Revisions...)
}

// revisionOf is the revision a deployment deploys: its own, or for a
// rollback the newest earlier revision of the task definition it returned to.
func (r *serviceRecord) revisionOf(d plan.Deployment) (serviceRevisionRecord, bool) {
	revs := r.revisions()
	id := strings.TrimPrefix(d.ID, "ecs-svc/")
	if i := slices.IndexFunc(revs, func(o serviceRevisionRecord) bool { return o.ID == id }); i >= 0 {
		return revs[i], true
	}
	failed := strings.TrimPrefix(d.RollbackOf, "ecs-svc/")
	for _, o := range revs {
		if o.ID != failed && o.TaskDefinition == d.TaskDefinition && !o.CreatedAt.After(d.CreatedAt) {
			return o, true
		}
	}
	return serviceRevisionRecord{}, false
}

// revisionSummary is the deployment's target revision with its task counts.
func (s *Server) revisionSummary(r serviceRecord, d plan.Deployment) *ecsapi.ServiceRevisionSummary {
	rev, ok := r.revisionOf(d)
	if !ok {
		return nil
	}
	return &ecsapi.ServiceRevisionSummary{
		Arn:                ptr(s.serviceRevisionARN(r.Cluster, r.Name, rev.ID)),
		RequestedTaskCount: ptr(int32(d.DesiredCount)), RunningTaskCount: ptr(int32(d.RunningCount)),
		PendingTaskCount: ptr(int32(d.PendingCount)),
	}
}

func (s *Server) revisionView(r serviceRecord, rev serviceRevisionRecord) ecsapi.ServiceRevision {
	out := ecsapi.ServiceRevision{
		ServiceRevisionArn: ptr(s.serviceRevisionARN(r.Cluster, r.Name, rev.ID)), ServiceArn: ptr(s.serviceARN(r.Cluster, r.Name)),
		ClusterArn: ptr(s.clusterARN(r.Cluster)), TaskDefinition: ptr(rev.TaskDefinition), NetworkConfiguration: rev.NetworkConfiguration,
		CreatedAt: awsapiTime(rev.CreatedAt), LoadBalancers: []ecsapi.LoadBalancer{}, ServiceRegistries: []ecsapi.ServiceRegistry{},
		ContainerImages: []ecsapi.ContainerImage{}, GuardDutyEnabled: ptr(false),
	}
	if rev.LaunchType != "" || len(rev.CapacityProviderStrategy) > 0 {
		out.LaunchType, out.CapacityProviderStrategy = launchView(rev.LaunchType, rev.CapacityProviderStrategy)
	}
	if td, err := s.resolveTaskDef(rev.TaskDefinition); err == nil {
		for _, cd := range td.Def.ContainerDefinitions {
			out.ContainerImages = append(out.ContainerImages, ecsapi.ContainerImage{ContainerName: cd.Name, Image: cd.Image})
		}
	}
	return out
}

// DescribeServiceRevisions implements ecsapi.Handler.
func (s *Server) DescribeServiceRevisions(ctx context.Context, in *ecsapi.DescribeServiceRevisionsRequest) (*ecsapi.DescribeServiceRevisionsResponse, error) {
	if len(in.ServiceRevisionArns) == 0 || len(in.ServiceRevisionArns) > 20 {
		return nil, invalidParam("serviceRevisionArns must name between 1 and 20 service revisions.")
	}
	out := &ecsapi.DescribeServiceRevisionsResponse{ServiceRevisions: []ecsapi.ServiceRevision{}, Failures: []ecsapi.Failure{}}
	for _, arn := range in.ServiceRevisionArns {
		rev, ok := s.serviceRevision(arn)
		if !ok {
			out.Failures = append(out.Failures, ecsapi.Failure{Arn: ptr(arn), Reason: ptr(reasonMissing)})
			continue
		}
		out.ServiceRevisions = append(out.ServiceRevisions, rev)
	}
	return out, nil
}

func (s *Server) serviceRevision(arn string) (ecsapi.ServiceRevision, bool) {
	a, ok := parseARN(arn)
	if !ok || a.Resource != resServiceRevision || len(a.Path) != 3 || a.Region != s.cfg.Region || a.Account != s.cfg.AccountID {
		return ecsapi.ServiceRevision{}, false
	}
	r, ok := s.cachedService(a.Path[0], a.Path[1])
	if !ok {
		return ecsapi.ServiceRevision{}, false
	}
	revs := r.revisions()
	i := slices.IndexFunc(revs, func(o serviceRevisionRecord) bool { return o.ID == a.Path[2] })
	if i < 0 {
		return ecsapi.ServiceRevision{}, false
	}
	return s.revisionView(r, revs[i]), true
}
