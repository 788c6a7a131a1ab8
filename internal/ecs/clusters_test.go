package ecs_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/berth-dev/berth/internal/testcluster"
)

// errCode returns the AWS error code of err, failing the test if err is not
// an API error.
func errCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae.ErrorCode()
}

func TestClusterLifecycle(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()

	out, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{
		ClusterName: aws.String("web"),
		Tags:        []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}},
		Settings:    []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("enabled")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := out.Cluster
	if got, want := aws.ToString(cl.ClusterArn), "arn:aws:ecs:us-east-1:000000000000:cluster/web"; got != want {
		t.Fatalf("arn %s, want %s", got, want)
	}
	if aws.ToString(cl.Status) != "ACTIVE" || len(cl.Tags) != 1 {
		t.Fatalf("unexpected cluster %+v", cl)
	}

	// Idempotent on name: the existing cluster comes back unchanged.
	again, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.Cluster.ClusterArn) != aws.ToString(cl.ClusterArn) || len(again.Cluster.Tags) != 1 {
		t.Fatalf("second create should return the same cluster: %+v", again.Cluster)
	}

	d, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{
		Clusters: []string{"web", "nope", "arn:aws:ecs:us-east-1:000000000000:cluster/web"},
		Include:  []types.ClusterField{types.ClusterFieldTags, types.ClusterFieldSettings, types.ClusterFieldStatistics},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Clusters) != 2 || len(d.Failures) != 1 {
		t.Fatalf("want 2 clusters and 1 failure, got %d/%d", len(d.Clusters), len(d.Failures))
	}
	if f := d.Failures[0]; aws.ToString(f.Reason) != "MISSING" || aws.ToString(f.Arn) != "arn:aws:ecs:us-east-1:000000000000:cluster/nope" {
		t.Fatalf("failure %+v", f)
	}
	got := d.Clusters[0]
	if len(got.Settings) != 1 || aws.ToString(got.Settings[0].Value) != "enabled" || len(got.Statistics) == 0 || len(got.Tags) != 1 {
		t.Fatalf("include not honoured: %+v", got)
	}
	plain, _ := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"web"}})
	if len(plain.Clusters[0].Tags) != 0 || len(plain.Clusters[0].Settings) != 0 {
		t.Fatalf("tags/settings returned without include: %+v", plain.Clusters[0])
	}

	if _, err := c.UpdateClusterSettings(ctx, &ecs.UpdateClusterSettingsInput{Cluster: aws.String("web"),
		Settings: []types.ClusterSetting{{Name: types.ClusterSettingNameContainerInsights, Value: aws.String("bogus")}}}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("bad setting value accepted: %v", err)
	}

	del, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(del.Cluster.Status) != "INACTIVE" {
		t.Fatalf("deleted cluster status %s", aws.ToString(del.Cluster.Status))
	}
	d, _ = c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"web"}})
	if len(d.Clusters) != 1 || aws.ToString(d.Clusters[0].Status) != "INACTIVE" {
		t.Fatalf("deleted cluster should describe as INACTIVE: %+v", d)
	}
	if _, err := c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("web")}); errCode(t, err) != "ClusterNotFoundException" {
		t.Fatalf("second delete: %v", err)
	}
	l, _ := c.ListClusters(ctx, &ecs.ListClustersInput{})
	if len(l.ClusterArns) != 0 {
		t.Fatalf("inactive cluster listed: %v", l.ClusterArns)
	}
}

func TestListClustersPagination(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	for _, n := range []string{"c1", "c2", "c3", "c4", "c5"} {
		if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(n)}); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	p := ecs.NewListClustersPaginator(c, &ecs.ListClustersInput{MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.ClusterArns...)
	}
	if pages != 3 || len(all) != 5 {
		t.Fatalf("want 5 clusters in 3 pages, got %d in %d", len(all), pages)
	}
	if _, err := c.ListClusters(ctx, &ecs.ListClustersInput{NextToken: aws.String("garbage!")}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("bad token: %v", err)
	}
	if _, err := c.ListClusters(ctx, &ecs.ListClustersInput{MaxResults: aws.Int32(101)}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("maxResults 101: %v", err)
	}
}

func TestCreateClusterBadInput(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	cases := map[string]*ecs.CreateClusterInput{
		"bad name":         {ClusterName: aws.String("has space")},
		"reserved tag":     {ClusterName: aws.String("x"), Tags: []types.Tag{{Key: aws.String("aws:foo"), Value: aws.String("v")}}},
		"unknown provider": {ClusterName: aws.String("x"), CapacityProviders: []string{"nope"}},
		"strategy not in list": {ClusterName: aws.String("x"), CapacityProviders: []string{"FARGATE"},
			DefaultCapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 1}}},
	}
	for name, in := range cases {
		if _, err := c.CreateCluster(ctx, in); errCode(t, err) != "InvalidParameterException" {
			t.Errorf("%s: want InvalidParameterException, got %v", name, err)
		}
	}
	l, _ := c.ListClusters(ctx, &ecs.ListClustersInput{})
	if len(l.ClusterArns) != 0 {
		t.Fatalf("bad input created clusters: %v", l.ClusterArns)
	}
}
