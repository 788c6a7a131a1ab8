package controlplane_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/testcluster"
)

func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cp := testcluster.Start(t, testcluster.Options{DataDir: dir})
	if _, err := cp.ECS().CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String("keep")}); err != nil {
		t.Fatal(err)
	}
	if err := cp.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	cp2 := testcluster.Start(t, testcluster.Options{DataDir: dir})
	out, err := cp2.ECS().ListClusters(t.Context(), &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ClusterArns) != 1 || !strings.HasSuffix(out.ClusterArns[0], "cluster/keep") {
		t.Fatalf("after restart: %v", out.ClusterArns)
	}
}

// TestExternalEtcd is the `berth server --etcd-endpoints` path: the control
// plane uses a separately started etcd and its state lands there.
func TestExternalEtcd(t *testing.T) {
	t.Parallel()
	ext, err := store.Open(t.Context(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ext.Close() })

	cp := testcluster.Start(t, testcluster.Options{EtcdEndpoints: ext.Endpoints(), AccountID: "123456789012", Region: "eu-west-1"})
	out, err := cp.ECS().CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String("ext")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Cluster.ClusterArn); got != "arn:aws:ecs:eu-west-1:123456789012:cluster/ext" {
		t.Fatalf("arn %s", got)
	}
	if _, err := ext.Get(t.Context(), store.Key("123456789012", "eu-west-1", "ecs", "clusters", "ext")); err != nil {
		t.Fatalf("cluster not in the external etcd: %v", err)
	}
}

func TestDevReset(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	if _, err := c.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, cp.Endpoint()+"/_berth/reset", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("reset: HTTP %d", res.StatusCode)
	}
	out, err := c.ListClusters(t.Context(), &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ClusterArns) != 0 {
		t.Fatalf("after reset: %v", out.ClusterArns)
	}
	// The root key survives a reset.
	if _, err := c.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String("again")}); err != nil {
		t.Fatal(err)
	}
}
