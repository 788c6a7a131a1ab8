package registry_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/berth-dev/berth/internal/registry"
	"github.com/berth-dev/berth/internal/registry/ecrauth"
	"github.com/berth-dev/berth/internal/testcluster"
)

// TestControlPlaneServesTheRegistry checks the wiring: the ECR API and /v2/
// on the edge of a real control plane, the seeded sample app pulled with
// credentials from ecrauth (as the agent gets them), ECR-form references
// resolved to the edge.
func TestControlPlaneServesTheRegistry(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	ctx := t.Context()
	uri, err := cp.Registry().SeedSampleApp(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	host, err := ecrauth.HostOf(cp.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	if ref, ok := ecrauth.ResolveImage("000000000000.dkr.ecr.us-east-1.amazonaws.com/sample-app:latest", host); !ok || ref != uri {
		t.Fatalf("ResolveImage = %q, %v; want %q", ref, ok, uri)
	}
	out, err := cp.ECR().DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{registry.SampleAppRepository}})
	if err != nil || aws.ToString(out.Repositories[0].RepositoryUri) != host+"/sample-app" {
		t.Fatalf("DescribeRepositories = %+v, %v", out, err)
	}
	creds, err := ecrauth.NewProvider(cp.ECR()).Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if creds.ServerAddress != host {
		t.Errorf("server address %q, want %q", creds.ServerAddress, host)
	}
	cfg := t.TempDir()
	docker := func(stdin string, args ...string) (string, error) {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(c, "docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+cfg)
		cmd.Stdin = strings.NewReader(stdin)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	if out, err := docker("", "version"); err != nil {
		t.Fatalf("these tests need the docker CLI and a Docker engine; none answers: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = docker("", "rmi", "-f", uri) })
	if out, err := docker("", "pull", uri); err == nil {
		t.Fatalf("anonymous pull succeeded:\n%s", out)
	}
	if out, err := docker(creds.Password, "login", "-u", creds.Username, "--password-stdin", creds.ServerAddress); err != nil {
		t.Fatalf("docker login: %v\n%s", err, out)
	}
	if out, err := docker("", "pull", uri); err != nil {
		t.Fatalf("docker pull: %v\n%s", err, out)
	}
	// The token's user:password form is what `aws ecr get-login-password` prints after "AWS:".
	tok, err := cp.ECR().GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	if !bytes.HasPrefix(raw, []byte("AWS:")) {
		t.Errorf("token = %q, want AWS:<password>", raw)
	}
}
