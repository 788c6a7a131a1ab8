package ecs_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestDeregisterWithTasks: refused while tasks run; forced, the tasks are
// orphaned (they keep the cluster from being deleted) until StopTask.
func TestDeregisterWithTasks(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	inst := clusterWithInstance(t, tg, "dr", instanceOpts{})
	registerTD(t, c, webTD("web", 0, 64))
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("dr"), TaskDefinition: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	submitTask(t, c, "dr", arn, "RUNNING")

	if _, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("dr")}); errCode(t, err) != "ClusterContainsContainerInstancesException" {
		t.Fatalf("delete with an instance: %v", err)
	}
	if _, err := c.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("dr"), ContainerInstance: aws.String(inst)}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("deregister with a running task: %v", err)
	}
	out, err := c.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("dr"), ContainerInstance: aws.String(inst), Force: aws.Bool(true)})
	if err != nil || aws.ToString(out.ContainerInstance.Status) != "INACTIVE" {
		t.Fatalf("forced deregister: %v %+v", err, out)
	}
	if got := describeTask(t, c, "dr", arn); aws.ToString(got.LastStatus) != "RUNNING" {
		t.Fatalf("orphaned task: %s", aws.ToString(got.LastStatus))
	}
	if _, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("dr")}); errCode(t, err) != "ClusterContainsTasksException" {
		t.Fatalf("delete with a running task: %v", err)
	}
	stop, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("dr"), Task: aws.String(arn)})
	if err != nil || aws.ToString(stop.Task.LastStatus) != "STOPPED" || stop.Task.StoppedAt == nil {
		t.Fatalf("stopping an orphan: %v %+v", err, stop)
	}
	if _, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("dr")}); err != nil {
		t.Fatalf("delete after stopping: %v", err)
	}
}

// TestReRegistrationKeepsReservations: an agent re-registering with its ARN
// keeps the instance id, its tasks' reservations and its DRAINING status.
func TestReRegistrationKeepsReservations(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "rr")
	inst := registerAgentInstance(t, c, "rr", instanceOpts{cpu: 1024, mem: 1024, attrs: map[string]string{"custom": "one"}})
	connectAgent(t, tg.endpoint, "rr", inst, agentOpts{})
	registerTD(t, c, webTD("web", 8080, 512))
	if _, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("rr"), TaskDefinition: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("rr"), Attributes: []types.Attribute{
		{Name: aws.String("stack"), Value: aws.String("prod"), TargetId: aws.String(inst)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("rr"),
		ContainerInstances: []string{inst}, Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	out, err := c.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("rr"), ContainerInstanceArn: aws.String(inst),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 1024},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 1024},
		},
		Attributes: []types.Attribute{{Name: aws.String("ecs.os-type"), Value: aws.String("linux")}}})
	if err != nil {
		t.Fatal(err)
	}
	ci := out.ContainerInstance
	if aws.ToString(ci.ContainerInstanceArn) != inst || aws.ToString(ci.Status) != "DRAINING" || ci.Version != 3 ||
		resource(ci.RemainingResources, "MEMORY").IntegerValue != 512 ||
		len(resource(ci.RemainingResources, "PORTS").StringSetValue) != 1 || ci.PendingTasksCount != 1 {
		t.Fatalf("re-registered: %+v", ci)
	}
	attrs := map[string]string{}
	for _, a := range ci.Attributes {
		attrs[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	if attrs["stack"] != "prod" || attrs["custom"] != "one" || attrs["ecs.os-type"] != "linux" {
		t.Fatalf("attributes after re-registration: %v", attrs)
	}
}

// TestStoppedTaskSweep: stopped tasks describe for an hour, then go.
func TestStoppedTaskSweep(t *testing.T) {
	t.Parallel()
	h := newHarness(t, 100*time.Millisecond)
	c, ctx := h.c, t.Context()
	createCluster(t, c, "sw")
	inst := registerAgentInstance(t, c, "sw", instanceOpts{})
	connectAgent(t, h.endpoint, "sw", inst, agentOpts{heartbeat: 30 * time.Millisecond})
	registerTD(t, c, webTD("web", 0, 64))
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("sw"), TaskDefinition: aws.String("web"), Count: aws.Int32(2),
		ClientToken: aws.String("sweep-token")})
	if err != nil || len(run.Tasks) != 2 {
		t.Fatalf("run: %v %+v", err, run)
	}
	stopped, running := aws.ToString(run.Tasks[0].TaskArn), aws.ToString(run.Tasks[1].TaskArn)
	submitTask(t, c, "sw", stopped, "STOPPED")
	submitTask(t, c, "sw", running, "RUNNING")

	h.clock.Add(59 * time.Minute)
	if n, err := h.srv.Sweep(ctx, 0); err != nil || n != 0 {
		t.Fatalf("early sweep: %d %v", n, err)
	}
	describeTask(t, c, "sw", stopped)
	h.clock.Add(2 * time.Minute)
	if n, err := h.srv.Sweep(ctx, 0); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	eventually(t, "the stopped task gone", func() bool {
		d, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("sw"), Tasks: []string{stopped, running}})
		return err == nil && len(d.Tasks) == 1 && len(d.Failures) == 1 && aws.ToString(d.Failures[0].Arn) == stopped
	})
	if ci := describeInstance(t, c, "sw", inst); ci.RunningTasksCount != 1 || ci.PendingTasksCount != 0 {
		t.Fatalf("instance after sweep: %+v", ci)
	}
	// The clock jumped past the link record's validity; the link's next
	// refresh renews it.
	eventually(t, "link refreshed", func() bool { return describeInstance(t, c, "sw", inst).AgentConnected })
	// The clientToken expired with it: the same token makes new tasks.
	again, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("sw"), TaskDefinition: aws.String("web"), Count: aws.Int32(2),
		ClientToken: aws.String("sweep-token")})
	if err != nil || len(again.Tasks) != 2 || aws.ToString(again.Tasks[1].TaskArn) == running {
		t.Fatalf("token after expiry: %v %+v", err, again)
	}
}
