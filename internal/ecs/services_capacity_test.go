package ecs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// TestServiceCapacityProviders: a service launched by a capacity provider
// strategy starts its tasks per base and weight on its providers'
// instances, keeps the split when it scales out, takes the cluster's
// default strategy when given neither launch type nor strategy, and shows
// the strategy (and no launch type) on the service and its deployments.
func TestServiceCapacityProviders(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	providerOf, _ := capacityCluster(t, tg, "cps", []string{"pa", "pb"}, "pb", []string{"pa", "pa", "pb", "pb", ""})
	registerTD(t, c, webTD("app", 0, 64))

	// byProvider counts a service's tasks per provider, checking each
	// task's provider is its instance's.
	byProvider := func(service string) map[string]int {
		t.Helper()
		l, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("cps"), ServiceName: aws.String(service)})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.TaskArns) == 0 {
			return map[string]int{}
		}
		d, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("cps"), Tasks: l.TaskArns})
		if err != nil {
			t.Fatal(err)
		}
		return countByProvider(t, d.Tasks, providerOf)
	}
	waitSplit := func(service string, want map[string]int) {
		t.Helper()
		var got map[string]int
		total := 0
		for _, v := range want {
			total += v
		}
		eventually(t, service+" tasks", func() bool {
			got = byProvider(service)
			n := 0
			for _, v := range got {
				n += v
			}
			return n >= total
		})
		for p, v := range want {
			if got[p] != v {
				t.Fatalf("%s: tasks per provider %v, want %v", service, got, want)
			}
		}
	}
	strategy := []types.CapacityProviderStrategyItem{
		{CapacityProvider: aws.String("pa"), Base: 1, Weight: 1}, {CapacityProvider: aws.String("pb"), Weight: 3}}

	// base 1 on pa, then 4 split 1:3: pa 1+1, pb 3.
	out, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("cps"), ServiceName: aws.String("split"),
		TaskDefinition: aws.String("app"), DesiredCount: aws.Int32(5), CapacityProviderStrategy: strategy})
	if err != nil {
		t.Fatal(err)
	}
	checkStrategy := func(what string, lt types.LaunchType, got []types.CapacityProviderStrategyItem, want ...string) {
		t.Helper()
		var names []string
		for _, it := range got {
			names = append(names, aws.ToString(it.CapacityProvider))
		}
		if lt != "" || strings.Join(names, ",") != strings.Join(want, ",") {
			t.Fatalf("%s: launchType %q, strategy %v, want no launch type and %v", what, lt, names, want)
		}
	}
	checkStrategy("created", out.Service.LaunchType, out.Service.CapacityProviderStrategy, "pa", "pb")
	if it := out.Service.CapacityProviderStrategy[0]; it.Base != 1 || it.Weight != 1 {
		t.Fatalf("pa item %+v, want base 1 weight 1", it)
	}
	waitSplit("split", map[string]int{"pa": 2, "pb": 3})
	s := describeService(t, c, "cps", "split")
	checkStrategy("described", s.LaunchType, s.CapacityProviderStrategy, "pa", "pb")
	if len(s.Deployments) != 1 {
		t.Fatalf("deployments %+v", s.Deployments)
	}
	checkStrategy("deployment", s.Deployments[0].LaunchType, s.Deployments[0].CapacityProviderStrategy, "pa", "pb")

	// Scale 5 -> 9 in the same deployment: 1 + 8 split 1:3, pa 3, pb 6.
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("cps"), Service: aws.String("split"), DesiredCount: aws.Int32(9)}); err != nil {
		t.Fatal(err)
	}
	waitSplit("split", map[string]int{"pa": 3, "pb": 6})
	// A new strategy is a new deployment; the old one, still ACTIVE with
	// its tasks, keeps showing its own strategy.
	u, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("cps"), Service: aws.String("split"),
		CapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("pb"), Weight: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Service.Deployments) != 2 {
		t.Fatalf("deployments after a strategy change: %+v", u.Service.Deployments)
	}
	checkStrategy("new deployment", u.Service.Deployments[0].LaunchType, u.Service.Deployments[0].CapacityProviderStrategy, "pb")
	checkStrategy("old deployment", u.Service.Deployments[1].LaunchType, u.Service.Deployments[1].CapacityProviderStrategy, "pa", "pb")
	newDep := aws.ToString(u.Service.Deployments[0].Id)
	eventually(t, "the new deployment's 9 tasks on pb", func() bool {
		l, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("cps"), StartedBy: aws.String(newDep)})
		if err != nil || len(l.TaskArns) < 9 {
			return false
		}
		d, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("cps"), Tasks: l.TaskArns})
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range d.Tasks {
			if aws.ToString(tk.CapacityProviderName) != "pb" {
				t.Fatalf("new deployment task on %q", aws.ToString(tk.CapacityProviderName))
			}
		}
		return true
	})
	s = describeService(t, c, "cps", "split")
	checkStrategy("described after the change", s.LaunchType, s.CapacityProviderStrategy, "pb")

	// Neither launch type nor strategy: the cluster's default (pb).
	out, err = c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("cps"), ServiceName: aws.String("dflt"),
		TaskDefinition: aws.String("app"), DesiredCount: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	checkStrategy("default", out.Service.LaunchType, out.Service.CapacityProviderStrategy, "pb")
	waitSplit("dflt", map[string]int{"pb": 3})

	// Launch type EC2: no strategy shown.
	out, err = c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("cps"), ServiceName: aws.String("ec2"),
		TaskDefinition: aws.String("app"), DesiredCount: aws.Int32(0), LaunchType: types.LaunchTypeEc2})
	if err != nil {
		t.Fatal(err)
	}
	if out.Service.LaunchType != types.LaunchTypeEc2 || len(out.Service.CapacityProviderStrategy) != 0 {
		t.Fatalf("EC2 service: %q %+v", out.Service.LaunchType, out.Service.CapacityProviderStrategy)
	}
	// From launch type to a strategy: only with forceNewDeployment, and
	// then in a new deployment showing the strategy.
	up := &ecs.UpdateServiceInput{Cluster: aws.String("cps"), Service: aws.String("ec2"), CapacityProviderStrategy: strategy}
	if _, err := c.UpdateService(ctx, up); errCode(t, err) != "InvalidParameterException" || !strings.Contains(err.Error(), "forceNewDeployment") {
		t.Fatalf("launch type to strategy without forceNewDeployment: %v", err)
	}
	up.ForceNewDeployment = true
	u, err = c.UpdateService(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	checkStrategy("updated", u.Service.LaunchType, u.Service.CapacityProviderStrategy, "pa", "pb")
	if aws.ToString(u.Service.Deployments[0].Status) != "PRIMARY" || aws.ToString(u.Service.Deployments[0].Id) == aws.ToString(out.Service.Deployments[0].Id) {
		t.Fatalf("deployments after update: %+v", u.Service.Deployments)
	}
	checkStrategy("new deployment", u.Service.Deployments[0].LaunchType, u.Service.Deployments[0].CapacityProviderStrategy, "pa", "pb")
	// An older deployment still listed keeps its launch type.
	for _, d := range u.Service.Deployments[1:] {
		if d.LaunchType != types.LaunchTypeEc2 || len(d.CapacityProviderStrategy) != 0 {
			t.Fatalf("old deployment launch type %q strategy %+v, want EC2", d.LaunchType, d.CapacityProviderStrategy)
		}
	}
	// Another strategy: a new deployment without forcing.
	u, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("cps"), Service: aws.String("ec2"),
		CapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("pb"), Weight: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	checkStrategy("changed", u.Service.LaunchType, u.Service.CapacityProviderStrategy, "pb")
	// The same strategy again: no new deployment.
	before := aws.ToString(u.Service.Deployments[0].Id)
	u, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("cps"), Service: aws.String("ec2"),
		CapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("pb"), Weight: 1}}})
	if err != nil || aws.ToString(u.Service.Deployments[0].Id) != before {
		t.Fatalf("same strategy: %v, deployment %s, want %s", err, aws.ToString(u.Service.Deployments[0].Id), before)
	}
	// An empty list: back to launch type EC2.
	u, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("cps"), Service: aws.String("ec2"),
		CapacityProviderStrategy: []types.CapacityProviderStrategyItem{}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Service.LaunchType != types.LaunchTypeEc2 || len(u.Service.CapacityProviderStrategy) != 0 {
		t.Fatalf("back to EC2: %q %+v", u.Service.LaunchType, u.Service.CapacityProviderStrategy)
	}

	refused := []struct {
		name string
		in   *ecs.CreateServiceInput
		msg  string
	}{
		{"both", &ecs.CreateServiceInput{LaunchType: types.LaunchTypeEc2, CapacityProviderStrategy: strategy},
			"Specifying both a launch type and capacity provider strategy is not supported."},
		{"fargate", &ecs.CreateServiceInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("FARGATE"), Weight: 1}}}, "not supported by Berth yet"},
		{"not associated", &ecs.CreateServiceInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("unassociated"), Weight: 1}}}, "not associated with the cluster"},
		{"unknown", &ecs.CreateServiceInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("nope"), Weight: 1}}}, "does not exist"},
		{"all weights zero", &ecs.CreateServiceInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("pa"), Base: 1}}}, "weight greater than zero"},
		{"two bases", &ecs.CreateServiceInput{CapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("pa"), Base: 1, Weight: 1}, {CapacityProvider: aws.String("pb"), Base: 1, Weight: 1}}}, "Only one capacity provider"},
		{"daemon", &ecs.CreateServiceInput{SchedulingStrategy: types.SchedulingStrategyDaemon, DesiredCount: aws.Int32(0),
			CapacityProviderStrategy: strategy}, "daemon"},
	}
	for _, tc := range refused {
		tc.in.Cluster, tc.in.ServiceName, tc.in.TaskDefinition = aws.String("cps"), aws.String("refused"), aws.String("app")
		if tc.in.DesiredCount == nil {
			tc.in.DesiredCount = aws.Int32(1)
		}
		_, err := c.CreateService(ctx, tc.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" || !strings.Contains(ae.ErrorMessage(), tc.msg) {
			t.Errorf("%s: want InvalidParameterException %q, got %v", tc.name, tc.msg, err)
		}
		// Nothing written.
		d, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("cps"), Services: []string{"refused"}})
		if err != nil || len(d.Services) != 0 || len(d.Failures) != 1 || aws.ToString(d.Failures[0].Reason) != "MISSING" {
			t.Fatalf("%s: the refused service exists: %v %+v", tc.name, err, d)
		}
	}
	// UpdateService validates the strategy as CreateService does.
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("cps"), Service: aws.String("split"),
		CapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("unassociated"), Weight: 1}}}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("update to an unassociated provider: %v", err)
	}
	// A provider a service uses cannot leave the cluster.
	if _, err := c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{Cluster: aws.String("cps"),
		CapacityProviders: []string{"pa"}, DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{}}); err == nil || errCode(t, err) != "ResourceInUseException" {
		t.Fatalf("PutClusterCapacityProviders dropping pb while service split uses it: %v", err)
	}
}
