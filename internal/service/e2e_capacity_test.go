package service_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/agent/config"
)

// inProvider puts an agent's instance in a capacity provider (the
// registration attribute berth.capacity-provider).
func inProvider(p string) func(*config.Config) {
	return func(c *config.Config) { c.Attributes["berth.capacity-provider"] = p }
}

// TestE2ECapacityProviderService: a service with the strategy
// {A base 1 weight 1, B weight 3} on two real agents, one per provider,
// runs 1+1 tasks on A's agent and 3 on B's at 5, then 3 and 6 at 9.
func TestE2ECapacityProviderService(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 0)
	ctx := t.Context()
	for _, name := range []string{"prov-a", "prov-b"} {
		if _, err := e.c.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{Name: aws.String(name),
			AutoScalingGroupProvider: &types.AutoScalingGroupProvider{AutoScalingGroupArn: aws.String("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/" + name)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{Cluster: aws.String(e.cluster),
		CapacityProviders: []string{"prov-a", "prov-b"}, DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{}}); err != nil {
		t.Fatal(err)
	}
	providerOf := map[string]string{
		e.addAgent(inProvider("prov-a")).InstanceARN(): "prov-a",
		e.addAgent(inProvider("prov-b")).InstanceARN(): "prov-b",
	}
	td := e.registerApp("capsvc")
	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(5), CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("prov-a"), Base: 1, Weight: 1}, {CapacityProvider: aws.String("prov-b"), Weight: 3}}}); err != nil {
		t.Fatal(err)
	}
	perProvider := func() map[string]int {
		m := map[string]int{}
		for _, tk := range e.tasks("web") {
			if aws.ToString(tk.LastStatus) != "RUNNING" || aws.ToString(tk.DesiredStatus) != "RUNNING" {
				continue
			}
			p := providerOf[aws.ToString(tk.ContainerInstanceArn)]
			if got := aws.ToString(tk.CapacityProviderName); got != p {
				t.Fatalf("task on a %s instance says provider %q", p, got)
			}
			m[p]++
		}
		return m
	}
	e.waitStable("web", 2*time.Minute)
	if m := perProvider(); m["prov-a"] != 2 || m["prov-b"] != 3 {
		t.Fatalf("at 5: tasks per provider %v, want prov-a 2, prov-b 3", m)
	}
	if _, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String("web"), DesiredCount: aws.Int32(9)}); err != nil {
		t.Fatal(err)
	}
	e.waitStable("web", 2*time.Minute)
	if m := perProvider(); m["prov-a"] != 3 || m["prov-b"] != 6 {
		t.Fatalf("at 9: tasks per provider %v, want prov-a 3, prov-b 6", m)
	}
	s := e.service("web")
	if s.LaunchType != "" || len(s.CapacityProviderStrategy) != 2 {
		t.Fatalf("service launchType %q strategy %+v", s.LaunchType, s.CapacityProviderStrategy)
	}
}
