package ecs_test

import (
	"maps"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// DescribeContainerInstances returns tags and health only when asked with
// include, as ECS: tags from registration and from TagResource, health as the
// agent's connectivity.
func TestDescribeContainerInstancesInclude(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "inc")
	reg, err := c.RegisterContainerInstance(ctx, &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String("inc"),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: 1024},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: 1024},
		},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(reg.ContainerInstance.ContainerInstanceArn)
	if _, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn),
		Tags: []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}

	describe := func(include ...types.ContainerInstanceField) types.ContainerInstance {
		t.Helper()
		out, err := c.DescribeContainerInstances(ctx, &ecs.DescribeContainerInstancesInput{Cluster: aws.String("inc"),
			ContainerInstances: []string{arn}, Include: include})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ContainerInstances) != 1 || len(out.Failures) != 0 {
			t.Fatalf("describe %v: %+v", include, out)
		}
		return out.ContainerInstances[0]
	}
	tagMap := func(tags []types.Tag) map[string]string {
		m := map[string]string{}
		for _, tag := range tags {
			m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		return m
	}
	both := map[string]string{"team": "a", "env": "prod"}

	if ci := describe(); len(ci.Tags) != 0 || ci.HealthStatus != nil {
		t.Errorf("without include: tags %v health %+v, want neither", tagMap(ci.Tags), ci.HealthStatus)
	}
	if ci := describe(types.ContainerInstanceFieldTags); !maps.Equal(tagMap(ci.Tags), both) || ci.HealthStatus != nil {
		t.Errorf("include TAGS: tags %v health %+v, want tags %v and no health", tagMap(ci.Tags), ci.HealthStatus, both)
	}
	ci := describe(types.ContainerInstanceFieldContainerInstanceHealth)
	if len(ci.Tags) != 0 || ci.HealthStatus == nil || ci.HealthStatus.OverallStatus != types.InstanceHealthCheckStateInitializing {
		t.Fatalf("include CONTAINER_INSTANCE_HEALTH before the agent connects: tags %v health %+v", tagMap(ci.Tags), ci.HealthStatus)
	}

	connectAgent(t, tg.endpoint, "inc", arn, agentOpts{})
	ci = describe(types.ContainerInstanceFieldTags, types.ContainerInstanceFieldContainerInstanceHealth)
	if !maps.Equal(tagMap(ci.Tags), both) {
		t.Errorf("include both: tags %v, want %v", tagMap(ci.Tags), both)
	}
	if h := ci.HealthStatus; h == nil || h.OverallStatus != types.InstanceHealthCheckStateOk || len(h.Details) != 1 ||
		h.Details[0].Type != types.InstanceHealthCheckTypeAgentConnectivity || h.Details[0].Status != types.InstanceHealthCheckStateOk {
		t.Errorf("include both, agent connected: health %+v", h)
	}

	// Untagged through the tag API: include TAGS shows the change.
	if _, err := c.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	if got := tagMap(describe(types.ContainerInstanceFieldTags).Tags); !maps.Equal(got, map[string]string{"env": "prod"}) {
		t.Errorf("after UntagResource: tags %v", got)
	}
}
