package ecs_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/service/plan"
)

// TestServiceStatesPlacementInputs: the planner's scale-in choice gets the
// service's placement strategies, the instances' attributes and their
// remaining CPU and memory (registered minus what running tasks reserve).
func TestServiceStatesPlacementInputs(t *testing.T) {
	t.Parallel()
	h := newHarness(t, time.Hour)
	c := h.c
	ctx := t.Context()
	createCluster(t, c, "si")
	arn := registerAgentInstance(t, c, "si", instanceOpts{cpu: 2048, mem: 1024,
		attrs: map[string]string{"ecs.availability-zone": "us-east-1b", "rack": "r7"}})
	connectAgent(t, h.endpoint, "si", arn, agentOpts{})
	registerTD(t, c, webTD("app", 0, 64)) // 256 CPU units, 64 MiB
	if _, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("si"), TaskDefinition: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	strategies := []types.PlacementStrategy{
		{Type: types.PlacementStrategyTypeSpread, Field: aws.String("attribute:rack")},
		{Type: types.PlacementStrategyTypeBinpack, Field: aws.String("memory")},
	}
	for name, pss := range map[string][]types.PlacementStrategy{"packed": strategies, "plain": nil} {
		if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("si"), ServiceName: aws.String(name),
			TaskDefinition: aws.String("app"), DesiredCount: aws.Int32(0), PlacementStrategy: pss}); err != nil {
			t.Fatal(err)
		}
	}
	var got map[string]plan.Input
	eventually(t, "both services and the task's reservation in the snapshot", func() bool {
		got = map[string]plan.Input{}
		for _, st := range h.srv.ServiceStates(nil) {
			if st.Input.Service.Cluster == "si" {
				got[st.Input.Service.Name] = st.Input
			}
		}
		return len(got) == 2 && len(got["plain"].Instances) == 1 && got["plain"].Instances[0].RemainingMemory == 1024-64
	})
	in := got["plain"].Instances[0]
	if in.RemainingCPU != 2048-256 || in.Attributes["ecs.availability-zone"] != "us-east-1b" || in.Attributes["rack"] != "r7" {
		t.Errorf("instance %+v, want 1792 CPU remaining and the zone and rack attributes", in)
	}
	want := []plan.PlacementStrategy{{Type: "spread", Field: "attribute:rack"}, {Type: "binpack", Field: "memory"}}
	if s := got["packed"].Service.PlacementStrategies; !slices.Equal(s, want) {
		t.Errorf("strategies %+v, want %+v", s, want)
	}
	if s := got["plain"].Service.PlacementStrategies; len(s) != 0 {
		t.Errorf("strategies of a service without any: %+v (the planner applies the default)", s)
	}
}
