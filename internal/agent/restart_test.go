package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/berth-dev/berth/internal/agent"
	"github.com/berth-dev/berth/internal/agent/agenttest"
	"github.com/berth-dev/berth/internal/agent/engine"
	"github.com/berth-dev/berth/internal/controlplane"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
	"github.com/berth-dev/berth/internal/testcluster"
)

// taskContainers lists the containers of a task (all agents).
func taskContainers(t *testing.T, arn string) []runtime.ContainerSummary {
	t.Helper()
	list, err := dockertest.Runtime(t).ListContainers(t.Context(), runtime.Filter{Labels: map[string]string{engine.LabelTaskARN: arn}})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func TestE2EControlPlaneRestartStopsNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := ""
	start := func() *controlplane.ControlPlane {
		var err error
		// The first start picks a free port (retrying if a parallel test
		// took it meanwhile); the restart must reuse it.
		for range 5 {
			a := addr
			if a == "" {
				a = fmt.Sprintf("127.0.0.1:%d", freePort(t))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var cp *controlplane.ControlPlane
			cp, err = controlplane.Start(ctx, controlplane.Config{Listen: a, DataDir: filepath.Join(dir, "cp"), Dev: true,
				RootKey: controlplane.RootKey{AccessKeyID: testcluster.AccessKeyID, SecretAccessKey: testcluster.SecretAccessKey}})
			cancel()
			if err == nil {
				addr = a
				return cp
			}
			if addr != "" {
				time.Sleep(200 * time.Millisecond)
			}
		}
		t.Fatalf("starting the control plane: %v", err)
		return nil
	}
	closeCP := func(cp *controlplane.ControlPlane) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cp.Close(ctx); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	}
	cp := start()
	awsCfg := (&testcluster.ControlPlane{ControlPlane: cp}).AWSConfig()
	client := ecs.NewFromConfig(awsCfg)
	if _, err := client.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String("cprestart")}); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, awsCfg, cp.Endpoint(), "cprestart", filepath.Join(dir, "agent"))
	agenttest.WaitConnected(t, client, "cprestart", a.InstanceARN())
	td := registerApp(t, client, "e2e-cprestart", "bridge", 0)
	arn := runTask(t, client, "cprestart", td, nil)
	tk := waitStatus(t, client, "cprestart", arn, "RUNNING", time.Minute)
	id := aws.ToString(tk.Containers[0].RuntimeId)

	closeCP(cp)
	time.Sleep(time.Second) // the agent notices and retries
	cp = start()
	defer closeCP(cp)
	agenttest.WaitConnected(t, client, "cprestart", a.InstanceARN())
	time.Sleep(500 * time.Millisecond) // the payload after reconnecting
	tk = waitStatus(t, client, "cprestart", arn, "RUNNING", 10*time.Second)
	list := taskContainers(t, arn)
	if len(list) != 1 || list[0].ID != id || list[0].State != runtime.StateRunning {
		t.Fatalf("after the restart: %+v, want only %s running", list, id)
	}
	if _, err := client.StopTask(t.Context(), &ecs.StopTaskInput{Cluster: aws.String("cprestart"), Task: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, client, "cprestart", arn, "STOPPED", time.Minute)
}

// TestE2EAgentKill9 runs `berth agent` as a process, kills it with SIGKILL
// mid-task and starts it again: the task keeps running in one container and
// its status is still reported.
func TestE2EAgentKill9(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	bin, err := images.BerthBinary(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cp := testcluster.Start(t, testcluster.Options{})
	client := cp.ECS()
	cluster := "kill9"
	if _, err := client.CreateCluster(t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	run := func() *exec.Cmd {
		cmd := exec.Command(bin, "agent", "--cluster", cluster, "--data-dir", dataDir, "--cpu", "2048", "--memory", "2048")
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+cp.Endpoint(), "AWS_ACCESS_KEY_ID="+testcluster.AccessKeyID,
			"AWS_SECRET_ACCESS_KEY="+testcluster.SecretAccessKey, "AWS_REGION=us-east-1", "ECS_CONTAINER_STOP_TIMEOUT=5s")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("agent output:\n%s", out.String())
			}
		})
		return cmd
	}
	first := run()
	var agentID, instance string
	deadline := time.Now().Add(time.Minute)
	for instance == "" && time.Now().Before(deadline) {
		if id, arn, err := agent.LoadIdentity(dataDir); err == nil && arn != "" {
			agentID, instance = id, arn
		}
		time.Sleep(50 * time.Millisecond)
	}
	if instance == "" {
		t.Fatal("the agent did not register")
	}
	t.Cleanup(func() { agenttest.Remove(t, rt, agentID) })
	agenttest.WaitConnected(t, client, cluster, instance)
	td := registerApp(t, client, "e2e-kill9", "bridge", 0)
	arn := runTask(t, client, cluster, td, nil)
	tk := waitStatus(t, client, cluster, arn, "RUNNING", time.Minute)
	id := aws.ToString(tk.Containers[0].RuntimeId)

	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	run()
	agenttest.WaitConnected(t, client, cluster, instance)
	time.Sleep(time.Second)
	list := taskContainers(t, arn)
	if len(list) != 1 || list[0].ID != id || list[0].State != runtime.StateRunning {
		t.Fatalf("after kill -9 and restart: %+v, want only %s running", list, id)
	}
	// The restarted agent still reports: stop the task.
	if _, err := client.StopTask(t.Context(), &ecs.StopTaskInput{Cluster: aws.String(cluster), Task: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	stopped := waitStatus(t, client, cluster, arn, "STOPPED", time.Minute)
	if c := stopped.Containers[0]; c.ExitCode == nil || *c.ExitCode != 0 {
		t.Errorf("exit code %v", aws.ToInt32(c.ExitCode))
	}
}

// TestE2EResetReregisters: after `berth dev`'s reset wipes every object, the
// agent registers again (recreating the default cluster, as the ECS agent
// does) and stops the tasks the control plane forgot.
func TestE2EResetReregisters(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	client := cp.ECS()
	a := startAgent(t, cp.AWSConfig(), cp.Endpoint(), "default", filepath.Join(t.TempDir(), "agent"))
	agenttest.WaitConnected(t, client, "default", a.InstanceARN())
	td := registerApp(t, client, "e2e-reset", "bridge", 0)
	arn := runTask(t, client, "default", td, nil)
	waitStatus(t, client, "default", arn, "RUNNING", time.Minute)

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, cp.Endpoint()+"/_berth/reset", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := client.ListContainerInstances(t.Context(), &ecs.ListContainerInstancesInput{Cluster: aws.String("default")})
		if err == nil && len(out.ContainerInstanceArns) == 1 {
			agenttest.WaitConnected(t, client, "default", out.ContainerInstanceArns[0])
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not register again after the reset: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		list := taskContainers(t, arn)
		if len(list) == 0 || list[0].State != runtime.StateRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the forgotten task still runs")
		}
	}
	td = registerApp(t, client, "e2e-reset", "bridge", 0)
	waitStatus(t, client, "default", runTask(t, client, "default", td, nil), "RUNNING", time.Minute)
}
