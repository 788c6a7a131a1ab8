package agent_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/images"
)

// TestE2ETaskLevelLimitsBoundTheTask: a task with task-level cpu and
// memory gets one cgroup with those limits holding both its containers, so
// together they cannot use more memory than the task has: each container
// alone may allocate 80 MiB of the task's 128, the second allocation
// brings the kernel's OOM killer down on the task.
func TestE2ETaskLevelLimitsBoundTheTask(t *testing.T) {
	t.Parallel()
	_, client, cluster, a, _ := newCluster(t)
	app := func(name string) types.ContainerDefinition {
		return types.ContainerDefinition{Name: aws.String(name), Image: aws.String(images.SampleApp),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(0)}}}
	}
	out, err := client.RegisterTaskDefinition(t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("e2e-cgroup"), NetworkMode: types.NetworkModeBridge, Cpu: aws.String("512"), Memory: aws.String("128"),
		ContainerDefinitions: []types.ContainerDefinition{app("a"), app("b")},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := runTask(t, client, cluster, aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil)
	tk := waitStatus(t, client, cluster, arn, "RUNNING", time.Minute)
	taskID := arn[strings.LastIndex(arn, "/")+1:]
	rel := filepath.Join("berth", a.AgentID(), taskID)
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("the task cgroup: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	if got := read(filepath.Join("/sys/fs/cgroup/memory", rel, "memory.limit_in_bytes")); got != fmt.Sprint(128<<20) {
		t.Errorf("task memory limit %s, want %d", got, 128<<20)
	}
	if got := read(filepath.Join("/sys/fs/cgroup/cpu", rel, "cpu.cfs_quota_us")); got != "50000" {
		t.Errorf("task cpu quota %s µs per 100 ms, want 50000 (512 CPU units)", got)
	}
	ports := map[string]int32{}
	for _, c := range tk.Containers {
		id := aws.ToString(c.RuntimeId)
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory", rel, id)); err != nil {
			t.Errorf("container %s is not in the task cgroup: %v", aws.ToString(c.Name), err)
		}
		ports[aws.ToString(c.Name)] = aws.ToInt32(c.NetworkBindings[0].HostPort)
	}
	get(t, fmt.Sprintf("http://127.0.0.1:%d/health", ports["a"]))
	get(t, fmt.Sprintf("http://127.0.0.1:%d/health", ports["b"]))
	get(t, fmt.Sprintf("http://127.0.0.1:%d/alloc?mb=80", ports["a"]))
	// The second 80 MiB does not fit the task: the request may fail with
	// its container.
	if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/alloc?mb=80", ports["b"])); err == nil {
		resp.Body.Close()
	}
	stopped := waitStatus(t, client, cluster, arn, "STOPPED", time.Minute)
	killed := false
	for _, c := range stopped.Containers {
		if aws.ToInt32(c.ExitCode) == 137 {
			killed = true
		}
	}
	if !killed || stopped.StopCode != types.TaskStopCodeEssentialContainerExited {
		t.Errorf("stop code %q reason %q, containers %+v: want a container OOM-killed (exit 137)", stopped.StopCode, aws.ToString(stopped.StoppedReason), stopped.Containers)
	}
}
