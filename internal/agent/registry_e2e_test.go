package agent_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
)

// dockerCLI runs the docker CLI with its own config dir (so the login of
// one test never leaks into the user's or another test's config).
func dockerCLI(t *testing.T, configDir, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command("docker", append([]string{"--config", configDir}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// TestE2ETaskFromPushedImage pushes an image to Berth's registry with the
// docker CLI (the way `aws ecr get-login-password | docker login` does) and
// runs a task whose definition names it in ECR form: the agent resolves the
// reference to the registry and pulls with a token it obtained itself.
func TestE2ETaskFromPushedImage(t *testing.T) {
	t.Parallel()
	dockertest.Runtime(t) // the sample image is loaded locally
	cp, client, cluster, _, _ := newCluster(t)
	ctx := t.Context()
	repo := fmt.Sprintf("fresh-%d", time.Now().UnixNano()%1e9)
	if _, err := cp.ECR().CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	tok, err := cp.ECR().GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	user, password, _ := strings.Cut(string(raw), ":")
	host := strings.TrimPrefix(aws.ToString(tok.AuthorizationData[0].ProxyEndpoint), "http://")
	ref := host + "/" + repo + ":v1"

	cfgDir := t.TempDir()
	dockerCLI(t, cfgDir, password, "login", "-u", user, "--password-stdin", host)
	dockerCLI(t, cfgDir, "", "tag", images.SampleApp, ref)
	dockerCLI(t, cfgDir, "", "push", ref)
	// Only the registry has it now: the task's pull is real. (-f: untag
	// even when this reference is the image's last one and a container of
	// another test uses the image.)
	dockerCLI(t, cfgDir, "", "rmi", "-f", ref)
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })

	ecrRef := "000000000000.dkr.ecr.us-east-1.amazonaws.com/" + repo + ":v1"
	td, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(repo),
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String(ecrRef), Memory: aws.Int32(64),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(0)}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := runTask(t, client, cluster, aws.ToString(td.TaskDefinition.TaskDefinitionArn), nil)
	tk := waitStatus(t, client, cluster, arn, "RUNNING", 2*time.Minute)
	hp := aws.ToInt32(tk.Containers[0].NetworkBindings[0].HostPort)
	if body := get(t, fmt.Sprintf("http://127.0.0.1:%d/health", hp)); body == "" {
		t.Fatal("the task from the pushed image does not answer")
	}
	if _, err := os.Stat(cfgDir); err != nil {
		t.Fatal(err)
	}
}
