package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// awsCLI is Debian's aws CLI; another install earlier on PATH may behave
// differently, so the tests name it explicitly.
const awsCLI = "/usr/bin/aws"

var berthBin string

const defaultARN = "arn:aws:ecs:us-east-1:000000000000:cluster/default"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	berthBin = filepath.Join(dir, "berth")
	build := exec.Command("go", "build", "-o", berthBin, "../cmd/berth")
	// A static binary, as users build it: CI's GOFLAGS=-race needs cgo.
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building berth:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// devProcess is a running `berth dev`.
type devProcess struct {
	t        *testing.T
	cmd      *exec.Cmd
	endpoint string
	out      *bytes.Buffer
	exited   chan struct{}
}

const (
	testKeyID  = "AKIAE2ETESTBERTH0001"
	testSecret = "e2e-secret-access-key-000000000000000000"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startDev starts `berth dev` on dataDir and waits until it answers.
func startDev(t *testing.T, dataDir, addr string) *devProcess {
	t.Helper()
	return startDevBinary(t, berthBin, dataDir, addr)
}

// startDevBinary is startDev with the berth binary bin, run from the
// source tree (where `go run` runs it).
func startDevBinary(t *testing.T, bin, dataDir, addr string) *devProcess {
	t.Helper()
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--listen", addr,
		"--access-key-id", testKeyID, "--secret-access-key", testSecret)
	cmd.Dir = ".."
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &devProcess{t: t, cmd: cmd, endpoint: "http://" + addr, out: out, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { p.stop() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(p.endpoint + "/_berth/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("berth dev exited during start-up:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth dev did not become healthy in 30s:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends Ctrl-C and waits for a clean exit.
func (p *devProcess) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			p.t.Errorf("berth dev exited with %d after Ctrl-C:\n%s", code, p.out)
		}
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		p.t.Errorf("berth dev did not stop within 15s of Ctrl-C:\n%s", p.out)
	}
}

// aws runs the CLI against p and decodes its JSON output into v (if non-nil).
func (p *devProcess) aws(t *testing.T, keyID, secret string, v any, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, awsCLI, append([]string{"--endpoint-url", p.endpoint, "--output", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("aws %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	if v != nil {
		if err := json.Unmarshal(stdout.Bytes(), v); err != nil {
			return fmt.Errorf("aws %s: decoding %q: %v", strings.Join(args, " "), stdout.String(), err)
		}
	}
	return nil
}

func (p *devProcess) mustAWS(t *testing.T, v any, args ...string) {
	t.Helper()
	if err := p.aws(t, testKeyID, testSecret, v, args...); err != nil {
		t.Fatal(err)
	}
}

func requireCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		t.Fatalf("these tests need Debian's aws CLI at %s (apt-get install -y awscli): %v", awsCLI, err)
	}
}

func TestCLIRoundTripAndRestart(t *testing.T) {
	requireCLI(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	p := startDev(t, dataDir, addr)

	var created struct {
		Cluster struct{ ClusterArn, Status string }
	}
	p.mustAWS(t, &created, "ecs", "create-cluster", "--cluster-name", "e2e")
	if created.Cluster.ClusterArn != "arn:aws:ecs:us-east-1:000000000000:cluster/e2e" || created.Cluster.Status != "ACTIVE" {
		t.Fatalf("create-cluster: %+v", created)
	}
	containers := `[{"name":"web","image":"berth.local/sample-app:latest","memory":128,"portMappings":[{"containerPort":8080}]}]`
	var reg struct {
		TaskDefinition struct {
			TaskDefinitionArn string
			Revision          int
		}
	}
	for want := 1; want <= 2; want++ {
		p.mustAWS(t, &reg, "ecs", "register-task-definition", "--family", "web", "--container-definitions", containers)
		if reg.TaskDefinition.Revision != want {
			t.Fatalf("registration %d got revision %d", want, reg.TaskDefinition.Revision)
		}
	}
	var desc struct {
		TaskDefinition struct {
			Revision int
			Status   string
		}
	}
	p.mustAWS(t, &desc, "ecs", "describe-task-definition", "--task-definition", "web")
	if desc.TaskDefinition.Revision != 2 || desc.TaskDefinition.Status != "ACTIVE" {
		t.Fatalf("describe latest: %+v", desc)
	}
	var list struct{ TaskDefinitionArns []string }
	p.mustAWS(t, &list, "ecs", "list-task-definitions")
	if len(list.TaskDefinitionArns) != 2 {
		t.Fatalf("list-task-definitions: %v", list.TaskDefinitionArns)
	}
	p.mustAWS(t, nil, "ecs", "deregister-task-definition", "--task-definition", "web:1")
	var clusters struct{ ClusterArns []string }
	p.mustAWS(t, &clusters, "ecs", "list-clusters")
	// berth dev creates the default cluster for its own agent.
	if !slices.Equal(clusters.ClusterArns, []string{defaultARN, created.Cluster.ClusterArn}) {
		t.Fatalf("list-clusters: %v", clusters.ClusterArns)
	}

	// Wrong credentials are refused.
	if err := p.aws(t, "AKIAWRONGWRONGWRONG1", testSecret, nil, "ecs", "list-clusters"); err == nil || !strings.Contains(err.Error(), "UnrecognizedClientException") {
		t.Fatalf("unknown key: %v", err)
	}
	if err := p.aws(t, testKeyID, "not-the-secret", nil, "ecs", "list-clusters"); err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("wrong secret: %v", err)
	}

	// Restart on the same data dir: everything is still there.
	p.stop()
	p = startDev(t, dataDir, addr)
	p.mustAWS(t, &clusters, "ecs", "list-clusters")
	if !slices.Equal(clusters.ClusterArns, []string{defaultARN, created.Cluster.ClusterArn}) {
		t.Fatalf("after restart list-clusters: %v", clusters.ClusterArns)
	}
	var inactive struct{ TaskDefinitionArns []string }
	p.mustAWS(t, &inactive, "ecs", "list-task-definitions", "--status", "INACTIVE")
	if len(inactive.TaskDefinitionArns) != 1 || !strings.HasSuffix(inactive.TaskDefinitionArns[0], "task-definition/web:1") {
		t.Fatalf("after restart inactive revisions: %v", inactive.TaskDefinitionArns)
	}
	p.mustAWS(t, &reg, "ecs", "register-task-definition", "--family", "web", "--container-definitions", containers)
	if reg.TaskDefinition.Revision != 3 {
		t.Fatalf("after restart next revision is %d, want 3", reg.TaskDefinition.Revision)
	}
	env, err := os.ReadFile(filepath.Join(dataDir, "env"))
	if err != nil || !strings.Contains(string(env), "export AWS_ACCESS_KEY_ID="+testKeyID) || !strings.Contains(string(env), "AWS_ENDPOINT_URL=http://"+addr) {
		t.Fatalf("env file: %v\n%s", err, env)
	}
}
