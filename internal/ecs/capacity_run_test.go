package ecs_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// TestRunTaskCapacityProviders: instances join providers by the
// berth.capacity-provider attribute; RunTask's strategy (or the cluster's
// default) splits tasks by base and weight and places each share on its
// provider's instances.
func TestRunTaskCapacityProviders(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	instances := []string{"blue", "blue", "green", "green", ""}
	providerOf, arns := capacityCluster(t, tg, "cp", []string{"blue", "green", "empty"}, "blue", instances)
	for i, arn := range arns {
		if got := aws.ToString(describeInstance(t, c, "cp", arn).CapacityProviderName); got != instances[i] {
			t.Fatalf("instance %d: capacityProviderName %q, want %q", i, got, instances[i])
		}
	}
	registerTD(t, c, webTD("cap", 0, 64))
	run := func(in *ecs.RunTaskInput) (*ecs.RunTaskOutput, error) {
		in.Cluster, in.TaskDefinition = aws.String("cp"), aws.String("cap")
		return c.RunTask(ctx, in)
	}
	byProvider := func(out *ecs.RunTaskOutput) map[string]int {
		t.Helper()
		return countByProvider(t, out.Tasks, providerOf)
	}

	// base 2 on blue, then weights 1:3: blue 3, green 3 of 6.
	out, err := run(&ecs.RunTaskInput{Count: aws.Int32(6), CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
		{CapacityProvider: aws.String("blue"), Base: 2, Weight: 1}, {CapacityProvider: aws.String("green"), Weight: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := byProvider(out); len(out.Failures) != 0 || got["blue"] != 3 || got["green"] != 3 {
		t.Fatalf("base/weight split: %v, failures %v", got, failureReasons(out.Failures))
	}
	// A provider's ARN works as its name; weight 0 providers get nothing.
	out, err = run(&ecs.RunTaskInput{Count: aws.Int32(4), CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
		{CapacityProvider: aws.String("arn:aws:ecs:us-east-1:000000000000:capacity-provider/green"), Weight: 1},
		{CapacityProvider: aws.String("blue"), Weight: 0}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := byProvider(out); got["green"] != 4 {
		t.Fatalf("green only: %v", got)
	}
	// Neither launch type nor strategy: the cluster's default (blue).
	out, err = run(&ecs.RunTaskInput{Count: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	if got := byProvider(out); got["blue"] != 3 {
		t.Fatalf("default strategy: %v", got)
	}
	// launchType EC2: any instance, the provider-less one included.
	out, err = run(&ecs.RunTaskInput{Count: aws.Int32(10), LaunchType: types.LaunchTypeEc2, Group: aws.String("ec2"),
		PlacementStrategy: []types.PlacementStrategy{{Type: types.PlacementStrategyTypeSpread, Field: aws.String("instanceId")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := byProvider(out); got[""] != 2 || got["blue"] != 4 || got["green"] != 4 {
		t.Fatalf("launch type EC2 spread over all five instances: %v", got)
	}
	// A provider without instances fails its share.
	out, err = run(&ecs.RunTaskInput{Count: aws.Int32(2), CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
		{CapacityProvider: aws.String("empty"), Weight: 1}, {CapacityProvider: aws.String("blue"), Weight: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := byProvider(out); got["blue"] != 1 || len(out.Failures) != 1 ||
		aws.ToString(out.Failures[0].Reason) != "CAPACITY_PROVIDER" || aws.ToString(out.Failures[0].Detail) != "empty" {
		t.Fatalf("empty provider: %v, failures %+v", got, out.Failures)
	}

	refused := []struct {
		name string
		in   *ecs.RunTaskInput
		msg  string
	}{
		{"both", &ecs.RunTaskInput{LaunchType: types.LaunchTypeEc2, CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("blue"), Weight: 1}}}, "Specifying both a launch type and capacity provider strategy is not supported."},
		{"fargate", &ecs.RunTaskInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("FARGATE"), Weight: 1}}}, "not supported by Berth yet"},
		{"not associated", &ecs.RunTaskInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("unassociated"), Weight: 1}}}, "not associated with the cluster"},
		{"unknown", &ecs.RunTaskInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("nope"), Weight: 1}}}, "does not exist"},
		{"all weights zero", &ecs.RunTaskInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("blue"), Base: 1}}}, "weight greater than zero"},
		{"two bases", &ecs.RunTaskInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("blue"), Base: 1, Weight: 1}, {CapacityProvider: aws.String("green"), Base: 1, Weight: 1}}}, "Only one capacity provider"},
	}
	for _, tc := range refused {
		_, err := run(tc.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" || !strings.Contains(ae.ErrorMessage(), tc.msg) {
			t.Errorf("%s: want InvalidParameterException %q, got %v", tc.name, tc.msg, err)
		}
	}
}

// capacityCluster makes cluster with capacity providers: the associated
// ones (def, weight 1, the default strategy) and one that exists but is not
// associated ("unassociated"); then registers and connects an 8192/8192
// instance per entry of instances, joined to that provider ("" for none).
// It returns each instance's provider by ARN, and the ARNs in order.
func capacityCluster(t *testing.T, tg target, cluster string, associated []string, def string, instances []string) (map[string]string, []string) {
	t.Helper()
	c, ctx := tg.c, t.Context()
	createCluster(t, c, cluster)
	for _, name := range append(slices.Clone(associated), "unassociated") {
		if _, err := c.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{Name: aws.String(name),
			AutoScalingGroupProvider: &types.AutoScalingGroupProvider{AutoScalingGroupArn: aws.String("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/" + name)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{Cluster: aws.String(cluster),
		CapacityProviders:               associated,
		DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String(def), Weight: 1}}}); err != nil {
		t.Fatal(err)
	}
	providerOf := map[string]string{}
	var arns []string
	for _, p := range instances {
		o := instanceOpts{cpu: 8192, mem: 8192}
		if p != "" {
			o.attrs = map[string]string{"berth.capacity-provider": p}
		}
		arn := registerAgentInstance(t, c, cluster, o)
		connectAgent(t, tg.endpoint, cluster, arn, agentOpts{})
		providerOf[arn] = p
		arns = append(arns, arn)
	}
	return providerOf, arns
}

// countByProvider counts tasks per capacity provider, checking each task's
// provider is its instance's (providerOf, by instance ARN).
func countByProvider(t *testing.T, tasks []types.Task, providerOf map[string]string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, tk := range tasks {
		p := aws.ToString(tk.CapacityProviderName)
		if want := providerOf[aws.ToString(tk.ContainerInstanceArn)]; p != want {
			t.Fatalf("task on a %q instance says provider %q", want, p)
		}
		n[p]++
	}
	return n
}
