package agent_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/agent/agenttest"
	"github.com/berth-dev/berth/internal/testcluster"
)

// startAgentAs starts an agent with an availability zone, an instance type
// and custom attributes.
func startAgentAs(t *testing.T, cp *testcluster.ControlPlane, cluster, az, instanceType string, attrs map[string]string) *agenttest.Agent {
	t.Helper()
	return agenttest.Start(t, agenttest.Options{AWS: cp.AWSConfig(), Endpoint: cp.Endpoint(), Cluster: cluster,
		AvailabilityZone: az, InstanceType: instanceType, Attributes: attrs})
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
	agents := map[string]*agenttest.Agent{
		"a": startAgentAs(t, cp, cluster, "us-east-1a", "t3.small", map[string]string{"stack": "prod"}),
		"b": startAgentAs(t, cp, cluster, "us-east-1b", "t3.small", map[string]string{"stack": "prod"}),
		"c": startAgentAs(t, cp, cluster, "us-east-1a", "m5.large", map[string]string{"stack": "dev"}),
	}
	nameOf := map[string]string{}
	for name, a := range agents {
		agenttest.WaitConnected(t, client, cluster, a.InstanceARN())
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
