package ecs_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/testcluster"
)

func TestCapacityProviders(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()

	asg := &types.AutoScalingGroupProvider{AutoScalingGroupArn: aws.String("arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/asg")}
	out, err := c.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{Name: aws.String("cp1"), AutoScalingGroupProvider: asg,
		Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.CapacityProvider.CapacityProviderArn); got != "arn:aws:ecs:us-east-1:000000000000:capacity-provider/cp1" {
		t.Fatalf("arn %s", got)
	}
	if out.CapacityProvider.Status != types.CapacityProviderStatusActive {
		t.Fatalf("status %s", out.CapacityProvider.Status)
	}
	if _, err := c.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{Name: aws.String("cp1"), AutoScalingGroupProvider: asg}); errCode(t, err) != "ClientException" {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := c.CreateCapacityProvider(ctx, &ecs.CreateCapacityProviderInput{Name: aws.String("fargate-x"), AutoScalingGroupProvider: asg}); errCode(t, err) != "ClientException" {
		t.Fatalf("reserved prefix: %v", err)
	}

	d, err := c.DescribeCapacityProviders(ctx, &ecs.DescribeCapacityProvidersInput{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range d.CapacityProviders {
		names[aws.ToString(p.Name)] = true
	}
	if !names["FARGATE"] || !names["FARGATE_SPOT"] || !names["cp1"] {
		t.Fatalf("describe all: %v", names)
	}
	d, _ = c.DescribeCapacityProviders(ctx, &ecs.DescribeCapacityProvidersInput{CapacityProviders: []string{"cp1", "nope"},
		Include: []types.CapacityProviderField{types.CapacityProviderFieldTags}})
	if len(d.CapacityProviders) != 1 || len(d.Failures) != 1 || len(d.CapacityProviders[0].Tags) != 1 {
		t.Fatalf("describe named: %+v", d)
	}

	if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	pc, err := c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{Cluster: aws.String("c"),
		CapacityProviders: []string{"cp1", "FARGATE"},
		DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("cp1"), Weight: 1, Base: 2}, {CapacityProvider: aws.String("FARGATE"), Weight: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(pc.Cluster.CapacityProviders) != 2 || len(pc.Cluster.DefaultCapacityProviderStrategy) != 2 {
		t.Fatalf("cluster providers: %+v", pc.Cluster)
	}
	if _, err := c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{Cluster: aws.String("c"),
		CapacityProviders: []string{"cp1", "FARGATE"},
		DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("cp1"), Weight: 1, Base: 2}, {CapacityProvider: aws.String("FARGATE"), Weight: 3, Base: 1}}}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("two bases: %v", err)
	}
	if _, err := c.DeleteCapacityProvider(ctx, &ecs.DeleteCapacityProviderInput{CapacityProvider: aws.String("cp1")}); errCode(t, err) != "ClientException" {
		t.Fatalf("delete in use: %v", err)
	}
	if _, err := c.PutClusterCapacityProviders(ctx, &ecs.PutClusterCapacityProvidersInput{Cluster: aws.String("c"),
		CapacityProviders: []string{}, DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{}}); err != nil {
		t.Fatal(err)
	}
	up, err := c.UpdateCapacityProvider(ctx, &ecs.UpdateCapacityProviderInput{Name: aws.String("cp1"),
		AutoScalingGroupProvider: &types.AutoScalingGroupProviderUpdate{ManagedTerminationProtection: types.ManagedTerminationProtectionEnabled}})
	if err != nil {
		t.Fatal(err)
	}
	if up.CapacityProvider.AutoScalingGroupProvider.ManagedTerminationProtection != types.ManagedTerminationProtectionEnabled {
		t.Fatalf("update not applied: %+v", up.CapacityProvider.AutoScalingGroupProvider)
	}
	del, err := c.DeleteCapacityProvider(ctx, &ecs.DeleteCapacityProviderInput{CapacityProvider: aws.String("cp1")})
	if err != nil {
		t.Fatal(err)
	}
	if del.CapacityProvider.Status != types.CapacityProviderStatusInactive {
		t.Fatalf("deleted status %s", del.CapacityProvider.Status)
	}
}

// registerInstance registers a container instance the way an agent does.
func registerInstance(t *testing.T, c *ecs.Client, cluster string, attrs ...types.Attribute) string {
	t.Helper()
	out, err := c.RegisterContainerInstance(t.Context(), &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String(cluster),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 2048},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 4096},
		},
		Attributes: attrs,
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ContainerInstance.ContainerInstanceArn)
}

func TestAttributesAndInstances(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	arn := registerInstance(t, c, "a", types.Attribute{Name: aws.String("ecs.os-type"), Value: aws.String("linux")})

	if _, err := c.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("a"), Attributes: []types.Attribute{
		{Name: aws.String("stack"), Value: aws.String("prod"), TargetId: aws.String(arn)},
		{Name: aws.String("gpu"), TargetId: aws.String(arn)},
	}}); err != nil {
		t.Fatal(err)
	}
	l, err := c.ListAttributes(ctx, &ecs.ListAttributesInput{Cluster: aws.String("a"), TargetType: types.TargetTypeContainerInstance,
		AttributeName: aws.String("stack")})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Attributes) != 1 || aws.ToString(l.Attributes[0].Value) != "prod" || aws.ToString(l.Attributes[0].TargetId) != arn {
		t.Fatalf("list by name: %+v", l.Attributes)
	}
	all, _ := c.ListAttributes(ctx, &ecs.ListAttributesInput{Cluster: aws.String("a"), TargetType: types.TargetTypeContainerInstance})
	if len(all.Attributes) != 3 {
		t.Fatalf("want 3 attributes, got %+v", all.Attributes)
	}

	// Unknown target: TargetNotFoundException and nothing written.
	_, err = c.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("a"), Attributes: []types.Attribute{
		{Name: aws.String("x"), TargetId: aws.String(arn)},
		{Name: aws.String("y"), TargetId: aws.String("0123456789abcdef0123456789abcdef")},
	}})
	if errCode(t, err) != "TargetNotFoundException" {
		t.Fatalf("unknown target: %v", err)
	}
	all, _ = c.ListAttributes(ctx, &ecs.ListAttributesInput{Cluster: aws.String("a"), TargetType: types.TargetTypeContainerInstance})
	if len(all.Attributes) != 3 {
		t.Fatalf("failed put wrote something: %+v", all.Attributes)
	}

	// The custom attribute limit.
	var many []types.Attribute
	for i := range 10 {
		many = append(many, types.Attribute{Name: aws.String("custom" + string(rune('a'+i))), TargetId: aws.String(arn)})
	}
	if _, err := c.PutAttributes(ctx, &ecs.PutAttributesInput{Cluster: aws.String("a"), Attributes: many}); errCode(t, err) != "AttributeLimitExceededException" {
		t.Fatalf("limit: %v", err)
	}

	if _, err := c.DeleteAttributes(ctx, &ecs.DeleteAttributesInput{Cluster: aws.String("a"), Attributes: []types.Attribute{
		{Name: aws.String("stack"), TargetId: aws.String(arn)}}}); err != nil {
		t.Fatal(err)
	}
	di, err := c.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("a"), ContainerInstances: []string{arn, "nope"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(di.ContainerInstances) != 1 || len(di.Failures) != 1 || len(di.ContainerInstances[0].Attributes) != 2 {
		t.Fatalf("describe instances: %+v", di)
	}

	// A cluster with an instance cannot be deleted.
	if _, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("a")}); errCode(t, err) != "ClusterContainsContainerInstancesException" {
		t.Fatalf("delete with instance: %v", err)
	}
	if _, err := c.DeregisterContainerInstance(ctx, &ecs.DeregisterContainerInstanceInput{Cluster: aws.String("a"), ContainerInstance: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("a")}); err != nil {
		t.Fatalf("delete after deregister: %v", err)
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	cl, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	arn := cl.Cluster.ClusterArn
	if _, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{
		{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("b"), Value: aws.String("2")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("3")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	l, err := c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Tags) != 1 || aws.ToString(l.Tags[0].Key) != "a" || aws.ToString(l.Tags[0].Value) != "3" {
		t.Fatalf("tags %+v", l.Tags)
	}
	if _, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: arn, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("1")}}}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("aws: prefix: %v", err)
	}
	var fifty []types.Tag
	for i := range 50 {
		fifty = append(fifty, types.Tag{Key: aws.String("k" + string(rune('A'+i))), Value: aws.String("v")})
	}
	if _, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: arn, Tags: fifty}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("51 tags: %v", err)
	}
	if _, err := c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:ecs:us-east-1:000000000000:cluster/none")}); errCode(t, err) != "ResourceNotFoundException" {
		t.Fatalf("missing resource: %v", err)
	}
	if _, err := c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String("not-an-arn")}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("bad arn: %v", err)
	}
}

func TestAccountSettings(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()

	eff, err := c.ListAccountSettings(ctx, &ecs.ListAccountSettingsInput{EffectiveSettings: true, Name: types.SettingNameContainerInsights})
	if err != nil {
		t.Fatal(err)
	}
	if len(eff.Settings) != 1 || aws.ToString(eff.Settings[0].Value) != "disabled" {
		t.Fatalf("default containerInsights: %+v", eff.Settings)
	}
	if _, err := c.PutAccountSettingDefault(ctx, &ecs.PutAccountSettingDefaultInput{Name: types.SettingNameContainerInsights, Value: aws.String("enabled")}); err != nil {
		t.Fatal(err)
	}
	// New clusters take the account default.
	cl, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("ci")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(cl.Cluster.Settings[0].Value) != "enabled" {
		t.Fatalf("cluster did not take the account default: %+v", cl.Cluster.Settings)
	}
	put, err := c.PutAccountSetting(ctx, &ecs.PutAccountSettingInput{Name: types.SettingNameAwsvpcTrunking, Value: aws.String("enabled")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(put.Setting.PrincipalArn) != "arn:aws:iam::000000000000:root" {
		t.Fatalf("principal %s", aws.ToString(put.Setting.PrincipalArn))
	}
	own, _ := c.ListAccountSettings(ctx, &ecs.ListAccountSettingsInput{})
	if len(own.Settings) != 1 || own.Settings[0].Name != types.SettingNameAwsvpcTrunking {
		t.Fatalf("own settings: %+v", own.Settings)
	}
	all, _ := c.ListAccountSettings(ctx, &ecs.ListAccountSettingsInput{EffectiveSettings: true, MaxResults: 5})
	if len(all.Settings) != 5 || all.NextToken == nil {
		t.Fatalf("paginated effective settings: %d %v", len(all.Settings), all.NextToken)
	}
	if _, err := c.PutAccountSetting(ctx, &ecs.PutAccountSettingInput{Name: types.SettingNameTaskLongArnFormat, Value: aws.String("disabled")}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("long ARN opt-out: %v", err)
	}
	if _, err := c.PutAccountSetting(ctx, &ecs.PutAccountSettingInput{Name: types.SettingNameAwsvpcTrunking, Value: aws.String("maybe")}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("bad value: %v", err)
	}
	if _, err := c.DeleteAccountSetting(ctx, &ecs.DeleteAccountSettingInput{Name: types.SettingNameAwsvpcTrunking}); err != nil {
		t.Fatal(err)
	}
	own, _ = c.ListAccountSettings(ctx, &ecs.ListAccountSettingsInput{})
	if len(own.Settings) != 0 {
		t.Fatalf("setting not deleted: %+v", own.Settings)
	}
}

// An agent re-registers with its saved ARN on every restart: the instance's
// tags (the tag API's after creation) survive it.
func TestReRegistrationKeepsTags(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("rr")}); err != nil {
		t.Fatal(err)
	}
	arn := registerInstance(t, c, "rr")
	if _, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn), Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{Cluster: aws.String("rr"), ContainerInstanceArn: aws.String(arn),
		TotalResources: []types.Resource{{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 2048}}}); err != nil {
		t.Fatal(err)
	}
	l, err := c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || len(l.Tags) != 1 {
		t.Fatalf("tags after re-registration: %+v %v", l, err)
	}
}
