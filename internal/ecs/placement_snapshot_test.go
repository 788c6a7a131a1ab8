package ecs_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestPlacementSnapshotKept: the placement snapshot kept from the cache's
// events matches one read afresh after each kind of change (placements,
// task status, attributes, draining, link state, deregistration), and is
// not rebuilt for them.
func TestPlacementSnapshotKept(t *testing.T) {
	t.Parallel()
	h := newHarness(t, time.Hour)
	c, ctx := h.c, t.Context()
	createCluster(t, c, "snap")
	check := func(what string) int64 {
		t.Helper()
		var (
			rebuilds int64
			err      error
		)
		for range 200 {
			if rebuilds, err = h.srv.CheckPlacementSnapshot(ctx, "snap"); err == nil {
				return rebuilds
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s: %v", what, err)
		return 0
	}
	var insts []string
	for range 3 {
		arn := registerAgentInstance(t, c, "snap", instanceOpts{cpu: 4096, mem: 2048})
		connectAgent(t, h.endpoint, "snap", arn, agentOpts{})
		insts = append(insts, arn)
	}
	base := check("registered")
	registerTD(t, c, webTD("web", 8080, 256))
	var tasks []string
	for range 3 {
		out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("snap"), TaskDefinition: aws.String("web"), Group: aws.String("g1")})
		if err != nil || len(out.Tasks) != 1 {
			if err == nil {
				for _, f := range out.Failures {
					t.Log(aws.ToString(f.Reason), aws.ToString(f.Arn))
				}
			}
			t.Fatalf("RunTask: %v", err)
		}
		tasks = append(tasks, aws.ToString(out.Tasks[0].TaskArn))
		check("placed")
	}
	submitTask(t, c, "snap", tasks[0], "RUNNING")
	check("running")
	if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("snap"), Task: aws.String(tasks[1])}); err != nil {
		t.Fatal(err)
	}
	check("stop requested")
	submitTask(t, c, "snap", tasks[1], "STOPPED")
	check("stopped")
	// The stopped task's port is free at once.
	if out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("snap"), TaskDefinition: aws.String("web")}); err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask after a stop: %v %v", out, err)
	}
	check("placed again")
	if out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("snap"), TaskDefinition: aws.String("web")}); err != nil || len(out.Tasks) != 0 {
		t.Fatalf("RunTask on a full cluster placed %v (%v)", out, err)
	}
	if _, err := c.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("snap"), Attributes: []types.Attribute{
		{Name: aws.String("team"), Value: aws.String("a"), TargetId: aws.String(insts[0])}}}); err != nil {
		t.Fatal(err)
	}
	check("attribute")
	if _, err := c.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("snap"),
		ContainerInstances: insts[1:2], Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	check("draining")
	arn := registerAgentInstance(t, c, "snap", instanceOpts{cpu: 1024, mem: 1024})
	check("registered another")
	if _, err := c.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("snap"),
		ContainerInstance: aws.String(arn), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	n := check("deregistered")
	t.Logf("full rebuilds: %d before the changes, %d after", base, n-base)
	if n > base+2 {
		t.Errorf("%d full rebuilds after the first %d, want the snapshot kept", n-base, base)
	}
}
