package ecs_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/testcluster"
)

func describeService(t *testing.T, c *ecs.Client, cluster, name string) types.Service {
	t.Helper()
	out, err := c.DescribeServices(t.Context(), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name},
		Include: []types.ServiceField{types.ServiceFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Services) != 1 {
		t.Fatalf("DescribeServices %s: %d services, failures %+v", name, len(out.Services), out.Failures)
	}
	return out.Services[0]
}

func TestServiceAPI(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	createCluster(t, c, "svc")
	td := registerTD(t, c, webTD("web", 0, 64))
	td2 := registerTD(t, c, webTD("web", 0, 64))

	in := &ecs.CreateServiceInput{
		Cluster: aws.String("svc"), ServiceName: aws.String("api"), TaskDefinition: aws.String("web:1"),
		DesiredCount: aws.Int32(0), ClientToken: aws.String("tok-1"),
		Tags:                          []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}},
		HealthCheckGracePeriodSeconds: aws.Int32(30),
		PlacementStrategy:             []types.PlacementStrategy{{Type: types.PlacementStrategyTypeSpread, Field: aws.String("attribute:ecs.availability-zone")}},
		DeploymentConfiguration: &types.DeploymentConfiguration{
			DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true},
		},
	}
	out, err := c.CreateService(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	s := out.Service
	if aws.ToString(s.ServiceArn) != "arn:aws:ecs:us-east-1:000000000000:service/svc/api" || aws.ToString(s.Status) != "ACTIVE" ||
		aws.ToString(s.TaskDefinition) != td || s.LaunchType != types.LaunchTypeEc2 || s.SchedulingStrategy != types.SchedulingStrategyReplica {
		t.Fatalf("created %+v", s)
	}
	dc := s.DeploymentConfiguration
	if aws.ToInt32(dc.MaximumPercent) != 200 || aws.ToInt32(dc.MinimumHealthyPercent) != 100 || !dc.DeploymentCircuitBreaker.Enable {
		t.Fatalf("deployment configuration %+v", dc)
	}
	if len(s.Deployments) != 1 || !strings.HasPrefix(aws.ToString(s.Deployments[0].Id), "ecs-svc/") || len(aws.ToString(s.Deployments[0].Id)) != 27 {
		t.Fatalf("deployments %+v", s.Deployments)
	}
	// The same clientToken and request: the same service.
	if again, err := c.CreateService(ctx, in); err != nil || aws.ToString(again.Service.ServiceArn) != aws.ToString(s.ServiceArn) {
		t.Fatalf("idempotent retry: %v", err)
	}
	in2 := *in
	in2.ClientToken = nil
	if _, err := c.CreateService(ctx, &in2); err == nil || errCode(t, err) != "InvalidParameterException" || !strings.Contains(err.Error(), "Creation of service was not idempotent.") {
		t.Fatalf("create again: %v", err)
	}
	for _, bad := range []*ecs.CreateServiceInput{
		{Cluster: aws.String("svc"), ServiceName: aws.String("x"), TaskDefinition: aws.String("web:1")}, // no desiredCount
		{Cluster: aws.String("svc"), ServiceName: aws.String("x"), TaskDefinition: aws.String("web:1"), DesiredCount: aws.Int32(1),
			DeploymentConfiguration: &types.DeploymentConfiguration{MaximumPercent: aws.Int32(50)}},
		{Cluster: aws.String("svc"), ServiceName: aws.String("x"), TaskDefinition: aws.String("web:1"), SchedulingStrategy: types.SchedulingStrategyDaemon,
			DeploymentConfiguration: &types.DeploymentConfiguration{MaximumPercent: aws.Int32(200)}},
	} {
		if _, err := c.CreateService(ctx, bad); err == nil || errCode(t, err) != "InvalidParameterException" {
			t.Errorf("CreateService %+v: %v, want InvalidParameterException", bad, err)
		}
	}
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("svc"), ServiceName: aws.String("x"),
		TaskDefinition: aws.String("nope:1"), DesiredCount: aws.Int32(1)}); err == nil || errCode(t, err) != "ClientException" {
		t.Errorf("unknown task definition: %v", err)
	}
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("nope"), ServiceName: aws.String("x"),
		TaskDefinition: aws.String("web:1"), DesiredCount: aws.Int32(1)}); err == nil || errCode(t, err) != "ClusterNotFoundException" {
		t.Errorf("unknown cluster: %v", err)
	}

	// Describe: tags, MISSING.
	d, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("svc"), Services: []string{"api", "ghost"},
		Include: []types.ServiceField{types.ServiceFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Services) != 1 || len(d.Services[0].Tags) != 1 || len(d.Failures) != 1 || aws.ToString(d.Failures[0].Reason) != "MISSING" ||
		aws.ToString(d.Failures[0].Arn) != "arn:aws:ecs:us-east-1:000000000000:service/svc/ghost" {
		t.Fatalf("describe: %+v failures %+v", d.Services, d.Failures)
	}
	if aws.ToInt32(d.Services[0].HealthCheckGracePeriodSeconds) != 30 || len(d.Services[0].PlacementStrategy) != 1 {
		t.Fatalf("stored fields: %+v", d.Services[0])
	}

	// List: pagination (default page 10) and filters.
	for i := range 11 {
		if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("svc"), ServiceName: aws.String(fmt.Sprintf("s%02d", i)),
			TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(0)}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("svc")})
	if err != nil || len(l.ServiceArns) != 10 || l.NextToken == nil {
		t.Fatalf("first page: %v %d", err, len(l.ServiceArns))
	}
	l2, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("svc"), NextToken: l.NextToken})
	if err != nil || len(l2.ServiceArns) != 2 || l2.NextToken != nil {
		t.Fatalf("second page: %v %+v", err, l2)
	}
	if l3, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("svc"), SchedulingStrategy: types.SchedulingStrategyDaemon}); err != nil || len(l3.ServiceArns) != 0 {
		t.Fatalf("DAEMON filter: %v %+v", err, l3)
	}
	if l4, err := c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("svc"), LaunchType: types.LaunchTypeEc2, MaxResults: aws.Int32(100)}); err != nil || len(l4.ServiceArns) != 12 {
		t.Fatalf("EC2 filter: %v %+v", err, l4)
	}

	// Update: a new revision is a new deployment; desired count alone is not.
	u, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("api"), DesiredCount: aws.Int32(0)})
	if err != nil {
		t.Fatal(err)
	}
	first := aws.ToString(s.Deployments[0].Id)
	time.Sleep(2 * time.Millisecond)
	u, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("api"), TaskDefinition: aws.String(td2)})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new PRIMARY deployment", func() bool {
		s := describeService(t, c, "svc", "api")
		return len(s.Deployments) >= 1 && aws.ToString(s.Deployments[0].Id) != first && aws.ToString(s.Deployments[0].TaskDefinition) == td2
	})
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("ghost"), DesiredCount: aws.Int32(1)}); err == nil || errCode(t, err) != "ServiceNotFoundException" {
		t.Fatalf("update unknown: %v", err)
	}
	_ = u

	// Delete: refused above zero without force; DRAINING, hidden from the
	// list, then INACTIVE (no tasks); deleting again: ServiceNotActive.
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("svc"), Service: aws.String("s00"), DesiredCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("svc"), Service: aws.String("s00")}); err == nil || errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("delete scaled service: %v", err)
	}
	del, err := c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("svc"), Service: aws.String("s00"), Force: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(del.Service.Status) != "DRAINING" || del.Service.DesiredCount != 0 {
		t.Fatalf("deleted: %s %d", aws.ToString(del.Service.Status), del.Service.DesiredCount)
	}
	w := ecs.NewServicesInactiveWaiter(c, func(o *ecs.ServicesInactiveWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("svc"), Services: []string{"s00"}}, 30*time.Second); err != nil {
		t.Fatalf("services-inactive: %v", err)
	}
	if _, err := c.DeleteService(ctx, &ecs.DeleteServiceInput{Cluster: aws.String("svc"), Service: aws.String("s00")}); err == nil || errCode(t, err) != "ServiceNotActiveException" {
		t.Fatalf("delete again: %v", err)
	}
	l, _ = c.ListServices(ctx, &ecs.ListServicesInput{Cluster: aws.String("svc"), MaxResults: aws.Int32(100)})
	if len(l.ServiceArns) != 11 {
		t.Fatalf("list after delete: %d", len(l.ServiceArns))
	}
	// A name can be used again once INACTIVE.
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("svc"), ServiceName: aws.String("s00"),
		TaskDefinition: aws.String("web"), DesiredCount: aws.Int32(0)}); err != nil {
		t.Fatalf("re-create: %v", err)
	}
	// Cluster statistics count services.
	cl, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"svc"}})
	if err != nil || cl.Clusters[0].ActiveServicesCount != 12 {
		t.Fatalf("activeServicesCount: %v %+v", err, cl.Clusters)
	}
}

// TestServiceTasksFakeAgent: the controller starts desiredCount tasks with
// the service's group and deployment id, replaces one that stops, scales in,
// and services-stable succeeds.
func TestServiceTasksFakeAgent(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c := tg.c
	ctx := t.Context()
	clusterWithInstance(t, tg, "fa", instanceOpts{})
	registerTD(t, c, webTD("app", 0, 64))
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("fa"), ServiceName: aws.String("web"),
		TaskDefinition: aws.String("app"), DesiredCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		out, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("fa"), ServiceName: aws.String("web")})
		if err != nil {
			t.Fatal(err)
		}
		return out.TaskArns
	}
	eventually(t, "3 tasks", func() bool { return len(list()) == 3 })
	s := describeService(t, c, "fa", "web")
	dep := aws.ToString(s.Deployments[0].Id)
	arns := list()
	for _, arn := range arns {
		task := describeTask(t, c, "fa", arn)
		if aws.ToString(task.Group) != "service:web" || aws.ToString(task.StartedBy) != dep {
			t.Fatalf("task group %q startedBy %q, want service:web and %s", aws.ToString(task.Group), aws.ToString(task.StartedBy), dep)
		}
		submitTask(t, c, "fa", arn, "RUNNING")
	}
	w := ecs.NewServicesStableWaiter(c, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("fa"), Services: []string{"web"}}, 30*time.Second); err != nil {
		t.Fatalf("services-stable: %v", err)
	}
	// Tasks without health checks count once they have run a moment.
	eventually(t, "a COMPLETED rollout", func() bool {
		s = describeService(t, c, "fa", "web")
		return s.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted
	})
	if s.RunningCount != 3 || s.PendingCount != 0 {
		t.Fatalf("service %d running %d pending", s.RunningCount, s.PendingCount)
	}
	msgs := eventMessages(s)
	if !containsPrefix(msgs, "(service web) has started 3 tasks: (task ") || !containsPrefix(msgs, "(service web) has reached a steady state.") {
		t.Fatalf("events %q", msgs)
	}
	// The service deployment API shows the same deployment.
	lsd, err := c.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String("fa"), Service: aws.String("web")})
	if err != nil || len(lsd.ServiceDeployments) != 1 || lsd.ServiceDeployments[0].Status != types.ServiceDeploymentStatusSuccessful {
		t.Fatalf("ListServiceDeployments: %v %+v", err, lsd)
	}
	sdArn := aws.ToString(lsd.ServiceDeployments[0].ServiceDeploymentArn)
	if want := "arn:aws:ecs:us-east-1:000000000000:service-deployment/fa/web/" + strings.TrimPrefix(dep, "ecs-svc/"); sdArn != want {
		t.Fatalf("service deployment ARN %s, want %s", sdArn, want)
	}
	dsd, err := c.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{sdArn, sdArn + "0"}})
	if err != nil || len(dsd.ServiceDeployments) != 1 || len(dsd.Failures) != 1 || aws.ToString(dsd.Failures[0].Reason) != "MISSING" ||
		dsd.ServiceDeployments[0].Status != types.ServiceDeploymentStatusSuccessful || dsd.ServiceDeployments[0].FinishedAt == nil {
		t.Fatalf("DescribeServiceDeployments: %v %+v", err, dsd)
	}
	// A task that stops by itself is replaced.
	submitTask(t, c, "fa", arns[0], "STOPPED")
	eventually(t, "a replacement", func() bool {
		l := list()
		return len(l) == 3 && !contains(l, arns[0])
	})
	// Scale in to 1: two stopped with stopCode ServiceSchedulerInitiated.
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("fa"), Service: aws.String("web"), DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "1 task", func() bool { return len(list()) == 1 })
	out, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("fa"), DesiredStatus: types.DesiredStatusStopped})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, arn := range out.TaskArns {
		if describeTask(t, c, "fa", arn).StopCode == types.TaskStopCodeServiceSchedulerInitiated {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d tasks stopped by the scheduler, want 2", n)
	}
	// forceNewDeployment: a second deployment; the first goes to the
	// history as replaced.
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("fa"), Service: aws.String("web"), ForceNewDeployment: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a second service deployment", func() bool {
		lsd, err := c.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String("fa"), Service: aws.String("web")})
		return err == nil && len(lsd.ServiceDeployments) == 2 && lsd.ServiceDeployments[0].Status == types.ServiceDeploymentStatusInProgress
	})
	// StopServiceDeployment ROLLBACK: the forced deployment stops and a
	// rollback to the first one starts.
	lsd, _ = c.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String("fa"), Service: aws.String("web")})
	forced := aws.ToString(lsd.ServiceDeployments[0].ServiceDeploymentArn)
	if _, err := c.StopServiceDeployment(ctx, &ecs.StopServiceDeploymentInput{ServiceDeploymentArn: aws.String(forced)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the rollback", func() bool {
		s := describeService(t, c, "fa", "web")
		dsd, err := c.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{forced}})
		return err == nil && len(dsd.ServiceDeployments) == 1 && dsd.ServiceDeployments[0].Status == types.ServiceDeploymentStatusStopped &&
			strings.Contains(aws.ToString(s.Deployments[0].RolloutStateReason), "rolling back to deploymentId "+dep)
	})
	if _, err := c.StopServiceDeployment(ctx, &ecs.StopServiceDeploymentInput{ServiceDeploymentArn: aws.String(forced)}); err == nil || errCode(t, err) != "ConflictException" {
		t.Fatalf("stopping a stopped deployment: %v", err)
	}
	if _, err := c.StopServiceDeployment(ctx, &ecs.StopServiceDeploymentInput{ServiceDeploymentArn: aws.String(forced + "9")}); err == nil || errCode(t, err) != "ServiceDeploymentNotFoundException" {
		t.Fatalf("stopping an unknown deployment: %v", err)
	}
}

func eventMessages(s types.Service) []string {
	var out []string
	for _, e := range s.Events {
		out = append(out, aws.ToString(e.Message))
	}
	return out
}

func containsPrefix(ss []string, p string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func contains(ss []string, v string) bool {
	for _, s := range ss {
		if s == v {
			return true
		}
	}
	return false
}

// TestServicePlacement: a REPLICA service spreads its tasks over instances by
// default; invalid constraints are refused at creation.
func TestServicePlacement(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c := tg.c
	ctx := t.Context()
	createCluster(t, c, "pl")
	for range 2 {
		inst := registerAgentInstance(t, c, "pl", instanceOpts{})
		connectAgent(t, tg.endpoint, "pl", inst, agentOpts{})
	}
	registerTD(t, c, webTD("app", 0, 64))
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("pl"), ServiceName: aws.String("bad"),
		TaskDefinition: aws.String("app"), DesiredCount: aws.Int32(1),
		PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.os-type ==")}}}); err == nil || errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("bad constraint: %v", err)
	}
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("pl"), ServiceName: aws.String("web"),
		TaskDefinition: aws.String("app"), DesiredCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	var arns []string
	eventually(t, "4 tasks", func() bool {
		out, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("pl"), ServiceName: aws.String("web")})
		arns = out.TaskArns
		return err == nil && len(arns) == 4
	})
	per := map[string]int{}
	for _, arn := range arns {
		per[aws.ToString(describeTask(t, c, "pl", arn).ContainerInstanceArn)]++
	}
	if len(per) != 2 {
		t.Fatalf("tasks per instance %v, want 2 and 2", per)
	}
	for _, n := range per {
		if n != 2 {
			t.Fatalf("tasks per instance %v, want 2 and 2", per)
		}
	}
}

// TestDaemonServiceConstraints: a DAEMON service runs one task on each
// ACTIVE instance that satisfies its memberOf constraint, starts one on an
// instance that comes to satisfy it, and stops the one on an instance that
// no longer does.
func TestDaemonServiceConstraints(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c := tg.c
	ctx := t.Context()
	createCluster(t, c, "dm")
	web := registerAgentInstance(t, c, "dm", instanceOpts{attrs: map[string]string{"role": "web"}})
	other := registerAgentInstance(t, c, "dm", instanceOpts{})
	connectAgent(t, tg.endpoint, "dm", web, agentOpts{})
	connectAgent(t, tg.endpoint, "dm", other, agentOpts{})
	registerTD(t, c, webTD("app", 0, 64))
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("dm"), ServiceName: aws.String("d"),
		TaskDefinition: aws.String("app"), SchedulingStrategy: types.SchedulingStrategyDaemon,
		PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:role == web")}}}); err != nil {
		t.Fatal(err)
	}
	on := func() map[string]int {
		out, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("dm"), ServiceName: aws.String("d")})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for _, arn := range out.TaskArns {
			m[aws.ToString(describeTask(t, c, "dm", arn).ContainerInstanceArn)]++
		}
		return m
	}
	eventually(t, "one task on the web instance", func() bool { m := on(); return len(m) == 1 && m[web] == 1 })
	if _, err := c.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("dm"), Attributes: []types.Attribute{{
		Name: aws.String("role"), Value: aws.String("web"), TargetId: aws.String(other)}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a task on the other instance too", func() bool { m := on(); return len(m) == 2 && m[other] == 1 })
	if _, err := c.DeleteAttributes(ctx, &ecs.DeleteAttributesInput{Cluster: aws.String("dm"), Attributes: []types.Attribute{{
		Name: aws.String("role"), TargetId: aws.String(web)}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no task left on the web instance", func() bool { m := on(); return len(m) == 1 && m[other] == 1 })
}

// A service keeps scaling on a task definition deregistered after it took
// it, as on ECS; new standalone tasks of it are refused.
func TestServiceScalesOnInactiveTaskDefinition(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c := tg.c
	ctx := t.Context()
	clusterWithInstance(t, tg, "ia", instanceOpts{})
	registerTD(t, c, webTD("old", 0, 64))
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("ia"), ServiceName: aws.String("web"),
		TaskDefinition: aws.String("old:1"), DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("old:1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("ia"), TaskDefinition: aws.String("old:1")}); errCode(t, err) != "ClientException" {
		t.Fatalf("RunTask of an INACTIVE revision: %v", err)
	}
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("ia"), Service: aws.String("web"), DesiredCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "2 service tasks", func() bool {
		out, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("ia"), ServiceName: aws.String("web")})
		return err == nil && len(out.TaskArns) == 2
	})
}
