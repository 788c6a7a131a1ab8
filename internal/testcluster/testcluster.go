// Package testcluster starts real Berth components in-process for tests: the
// control plane on an embedded etcd in a temp dir, listening on a random
// loopback port, and hands out official aws-sdk-go-v2 clients signed with its
// root key. It must only be imported from tests.
package testcluster

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/berth-dev/berth/internal/controlplane"
)

// Root credentials of every test control plane.
const (
	AccessKeyID     = "AKIATESTBERTH0000001"
	SecretAccessKey = "test/secret/key/berth/000000000000000000"
)

// Options adjust a test control plane.
type Options struct {
	DataDir       string // default t.TempDir()
	EtcdEndpoints []string
	AccountID     string
	Region        string
}

// ControlPlane is a running control plane for one test.
type ControlPlane struct {
	*controlplane.ControlPlane
	t testing.TB
}

// Start starts a control plane and stops it when the test ends.
func Start(t testing.TB, opts Options) *ControlPlane {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, err := controlplane.Start(ctx, controlplane.Config{
		Listen: "127.0.0.1:0", DataDir: opts.DataDir, EtcdEndpoints: opts.EtcdEndpoints,
		AccountID: opts.AccountID, Region: opts.Region, Dev: true,
		RootKey: controlplane.RootKey{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey},
	})
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cp.Close(ctx); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	return &ControlPlane{ControlPlane: cp, t: t}
}

// AWSConfig is an SDK config for this control plane, signed with the root key.
func (c *ControlPlane) AWSConfig() aws.Config {
	return aws.Config{
		Region:           c.Config().Region,
		BaseEndpoint:     aws.String(c.Endpoint()),
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	}
}

// ECS is an official ECS client for this control plane.
func (c *ControlPlane) ECS() *ecs.Client { return ecs.NewFromConfig(c.AWSConfig()) }
