package metadata

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/engine"
	"github.com/berth-dev/berth/internal/agentproto"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/runtime"
)

// fakeRuntime answers inspects and stats; every other method panics.
type fakeRuntime struct{ runtime.Runtime }

func (fakeRuntime) InspectContainer(_ context.Context, id string) (runtime.ContainerInfo, error) {
	return runtime.ContainerInfo{ID: id, Name: "ecs-fam-1-web-t", Labels: map[string]string{"k": "v"},
		Networks: []runtime.NetworkAttachment{{Network: "bridge", IPv4Address: "172.17.0.9", PrefixLen: 16, Gateway: "172.17.0.1"}},
		Mounts:   []runtime.MountPoint{{Name: "vol", Source: "/var/lib/docker/volumes/vol", Destination: "/data"}}}, nil
}

func (fakeRuntime) ContainerStats(context.Context, string) (json.RawMessage, error) {
	return json.RawMessage(`{"read":"2026-01-01T00:00:00Z"}`), nil
}

type fakeTasks struct{ t *engine.Task }

func (f fakeTasks) ByToken(token string) (*engine.Task, string, bool) {
	for _, c := range f.t.Containers {
		if c.MetadataToken == token {
			return f.t, c.Name, true
		}
	}
	return nil, "", false
}

func (fakeTasks) Runtime() runtime.Runtime { return fakeRuntime{} }

func TestHandler(t *testing.T) {
	t.Parallel()
	s := "web"
	tk := engine.NewTask(agentproto.TaskSpec{TaskARN: "arn:aws:ecs:us-east-1:1:task/c/t", ClusterARN: "arn:aws:ecs:us-east-1:1:cluster/c",
		DesiredStatus: "RUNNING", CPU: "512", Memory: "256", ContainerARNs: map[string]string{"web": "arn:container"},
		Definition: ecsapi.TaskDefinition{Family: ptr("fam"), Revision: ptr(int32(1)), ContainerDefinitions: []ecsapi.ContainerDefinition{
			{Name: &s, Image: ptr("img"), Memory: ptr(int32(64)), PortMappings: []ecsapi.PortMapping{{ContainerPort: ptr(int32(8080))}}},
		}}})
	c := tk.Containers[0]
	c.Known, c.RuntimeID, c.StartedAt = engine.ContainerRunning, "cid", time.Unix(100, 0)
	c.Bindings = []engine.Binding{{ContainerPort: 8080, HostPort: 32768, Protocol: "tcp", BindIP: "0.0.0.0"}}
	tk.Known = engine.TaskRunning
	srv := httptest.NewServer(Handler(fakeTasks{tk}, Info{Cluster: "c", AvailabilityZone: "us-east-1a"}))
	defer srv.Close()
	get := func(path string, into any) int {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if into != nil && resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode
	}
	base := "/v4/" + c.MetadataToken
	var ctr map[string]any
	if code := get(base, &ctr); code != http.StatusOK {
		t.Fatalf("GET container: %d", code)
	}
	for _, k := range []string{"DockerId", "Name", "DockerName", "Image", "Ports", "Labels", "DesiredStatus", "KnownStatus", "Limits", "StartedAt", "Type", "Networks", "Volumes", "ContainerARN"} {
		if _, ok := ctr[k]; !ok {
			t.Errorf("container body lacks %s: %v", k, ctr)
		}
	}
	if ctr["KnownStatus"] != "RUNNING" || ctr["ContainerARN"] != "arn:container" || ctr["DockerId"] != "cid" {
		t.Errorf("container body %v", ctr)
	}
	var task Task
	if code := get(base+"/task", &task); code != http.StatusOK {
		t.Fatalf("GET task: %d", code)
	}
	if task.TaskARN != tk.ARN || task.Cluster != tk.Spec.ClusterARN || task.Family != "fam" || task.Revision != "1" ||
		task.Limits == nil || task.Limits.CPU != 0.5 || task.Limits.Memory != 256 || len(task.Containers) != 1 ||
		task.Containers[0].Networks[0].IPv4Addresses[0] != "172.17.0.9" || task.KnownStatus != "RUNNING" {
		t.Errorf("task body %+v", task)
	}
	var stats map[string]json.RawMessage
	if code := get(base+"/task/stats", &stats); code != http.StatusOK || len(stats["cid"]) == 0 {
		t.Errorf("task stats %d %v", code, stats)
	}
	if code := get(base+"/stats", nil); code != http.StatusOK {
		t.Errorf("stats: %d", code)
	}
	if code := get("/v4/nope/task", nil); code != http.StatusNotFound {
		t.Errorf("unknown token: %d", code)
	}
}

func ptr[T any](v T) *T { return &v }
