package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
	"github.com/berth-dev/berth/internal/testcluster"
)

// startAgentAs is startAgent with an availability zone, an instance type
// and custom attributes.
func startAgentAs(t *testing.T, cp *testcluster.ControlPlane, cluster, az, instanceType string, attrs map[string]string) *runningAgent {
	t.Helper()
	rt := dockertest.Runtime(t)
	cfg := config.Default()
	cfg.Endpoint, cfg.Cluster, cfg.Region = cp.Endpoint(), cluster, cp.AWSConfig().Region
	cfg.DataDir = filepath.Join(t.TempDir(), "agent")
	cfg.StopTimeout = 5 * time.Second
	cfg.CPU, cfg.Memory = 4096, 4096
	cfg.MetadataListen = "0.0.0.0:0"
	cfg.AvailabilityZone, cfg.InstanceType = az, instanceType
	for k, v := range attrs {
		cfg.Attributes[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := New(ctx, Options{Config: cfg, Runtime: rt, AWS: cp.AWSConfig(), Version: "test"})
	if err != nil {
		t.Fatalf("starting the agent: %v", err)
	}
	t.Cleanup(func() { removeAgent(t, rt, a.AgentID()) })
	rctx, rcancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: a, cancel: rcancel, done: make(chan struct{})}
	go func() {
		defer close(ra.done)
		if err := a.Run(rctx); err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	t.Cleanup(ra.stop)
	return ra
}

// TestE2EPlacementThreeAgents runs real tasks on three agents of one Docker
// engine with different attributes and checks where the scheduler put them:
// memberOf, distinctInstance and spread over availability zones.
func TestE2EPlacementThreeAgents(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	client := cp.ECS()
	cluster := "sched" + fmt.Sprint(time.Now().UnixNano()%1e9)
	if _, err := client.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	agents := map[string]*runningAgent{
		"a": startAgentAs(t, cp, cluster, "us-east-1a", "t3.small", map[string]string{"stack": "prod"}),
		"b": startAgentAs(t, cp, cluster, "us-east-1b", "t3.small", map[string]string{"stack": "prod"}),
		"c": startAgentAs(t, cp, cluster, "us-east-1a", "m5.large", map[string]string{"stack": "dev"}),
	}
	nameOf := map[string]string{}
	for name, a := range agents {
		waitConnected(t, client, cluster, a.InstanceARN())
		nameOf[a.InstanceARN()] = name
	}
	td := registerApp(t, client, "sched-e2e", "bridge", 0)

	// run starts count tasks and returns the agent of each once all run.
	run := func(in ecs.RunTaskInput) ([]string, []types.Failure) {
		t.Helper()
		in.Cluster, in.TaskDefinition = aws.String(cluster), aws.String(td)
		out, err := client.RunTask(t.Context(), &in)
		if err != nil {
			t.Fatal(err)
		}
		var on []string
		for _, tk := range out.Tasks {
			running := waitStatus(t, client, cluster, aws.ToString(tk.TaskArn), "RUNNING", 2*time.Minute)
			on = append(on, nameOf[aws.ToString(running.ContainerInstanceArn)])
		}
		slices.Sort(on)
		return on, out.Failures
	}
	count := func(on []string) map[string]int {
		n := map[string]int{}
		for _, a := range on {
			n[a]++
		}
		return n
	}

	// memberOf: only the prod instances (a, b); then only the m5.large (c).
	on, fs := run(ecs.RunTaskInput{Count: aws.Int32(4), Group: aws.String("prod"),
		PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:stack == prod")}}})
	if n := count(on); len(fs) != 0 || len(on) != 4 || n["c"] != 0 {
		t.Fatalf("memberOf stack == prod: tasks on %v, failures %+v", on, fs)
	}
	on, fs = run(ecs.RunTaskInput{Count: aws.Int32(2), Group: aws.String("large"),
		PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.instance-type =~ m5.*")}}})
	if !slices.Equal(on, []string{"c", "c"}) || len(fs) != 0 {
		t.Fatalf("memberOf m5.*: tasks on %v, failures %+v", on, fs)
	}

	// distinctInstance: three tasks on three instances; a fourth of the
	// group fits nowhere.
	distinct := []types.PlacementConstraint{{Type: types.PlacementConstraintTypeDistinctInstance}}
	on, fs = run(ecs.RunTaskInput{Count: aws.Int32(3), Group: aws.String("distinct"), PlacementConstraints: distinct})
	if !slices.Equal(on, []string{"a", "b", "c"}) || len(fs) != 0 {
		t.Fatalf("distinctInstance: tasks on %v, failures %+v", on, fs)
	}
	on, fs = run(ecs.RunTaskInput{Count: aws.Int32(1), Group: aws.String("distinct"), PlacementConstraints: distinct})
	if len(on) != 0 || len(fs) != 3 || aws.ToString(fs[0].Reason) != "DistinctInstance placement constraint unsatisfied." {
		t.Fatalf("fourth distinct task: on %v, failures %+v", on, fs)
	}

	// spread over availability zones: us-east-1a has two instances (a, c),
	// us-east-1b one (b); six tasks split 3/3 by zone.
	on, fs = run(ecs.RunTaskInput{Count: aws.Int32(6), Group: aws.String("spread"),
		PlacementStrategy: []types.PlacementStrategy{
			{Type: types.PlacementStrategyTypeSpread, Field: aws.String("attribute:ecs.availability-zone")},
			{Type: types.PlacementStrategyTypeSpread, Field: aws.String("instanceId")}}})
	n := count(on)
	if len(fs) != 0 || len(on) != 6 || n["b"] != 3 || n["a"]+n["c"] != 3 || n["a"] == 0 || n["c"] == 0 {
		t.Fatalf("spread by zone then instance: tasks on %v (%v), failures %+v", on, n, fs)
	}
	t.Logf("memberOf, distinctInstance and spread(AZ) placed %d running tasks as expected", 4+2+3+6)
}
