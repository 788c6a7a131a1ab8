package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// persistSpec is an awsvpc spec whose overrides change one container.
func persistSpec() agentproto.TaskSpec {
	nm := ecsapi.NetworkMode("awsvpc")
	return agentproto.TaskSpec{
		TaskARN: "arn:aws:ecs:us-east-1:000000000000:task/c/0123abcd", ClusterARN: "arn:aws:ecs:us-east-1:000000000000:cluster/c",
		DesiredStatus: "RUNNING", Version: 2, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Definition: ecsapi.TaskDefinition{Family: ptr("web"), Revision: ptr(int32(4)), NetworkMode: &nm,
			ContainerDefinitions: []ecsapi.ContainerDefinition{
				{Name: ptr("app"), Image: ptr("nginx:1"), Command: []string{"serve"}, Essential: ptr(true),
					Environment:  []ecsapi.KeyValuePair{{Name: ptr("A"), Value: ptr("1")}},
					PortMappings: []ecsapi.PortMapping{{ContainerPort: ptr(int32(80))}}},
				{Name: ptr("side"), Image: ptr("busybox"), Essential: ptr(false)},
			}},
		Overrides: &ecsapi.TaskOverride{ContainerOverrides: []ecsapi.ContainerOverride{{Name: ptr("app"),
			Command: []string{"serve", "--debug"}, Environment: []ecsapi.KeyValuePair{{Name: ptr("B"), Value: ptr("2")}}}}},
		Network:       &agentproto.TaskNetwork{AttachmentID: "att", IPv4: "172.30.5.7", Subnet: "172.30.5.0/24", Gateway: "172.30.5.1"},
		ContainerARNs: map[string]string{"app": "arn:c/app", "side": "arn:c/side"},
	}
}

// checkDefs fails unless tk's containers have persistSpec's effective
// definitions.
func checkDefs(t *testing.T, tk *Task) {
	t.Helper()
	if len(tk.Containers) != 3 {
		t.Fatalf("containers %+v", tk.Containers)
	}
	pause, app, side := tk.Containers[0], tk.Containers[1], tk.Containers[2]
	if !pause.Pause || deref(pause.Def.Name) != PauseName || deref(pause.Def.Image) != PauseImage {
		t.Errorf("pause container %+v", pause)
	}
	env := []ecsapi.KeyValuePair{{Name: ptr("A"), Value: ptr("1")}, {Name: ptr("B"), Value: ptr("2")}}
	if deref(app.Def.Name) != "app" || deref(app.Def.Image) != "nginx:1" || !slices.Equal(app.Def.Command, []string{"serve", "--debug"}) ||
		!reflect.DeepEqual(app.Def.Environment, env) || len(app.Def.PortMappings) != 1 || !app.Essential() {
		t.Errorf("app definition %+v", app.Def)
	}
	if deref(side.Def.Name) != "side" || deref(side.Def.Image) != "busybox" || side.Essential() {
		t.Errorf("side definition %+v", side.Def)
	}
}

// setPersistState gives the task of persistSpec some state of every kind.
func setPersistState(tk *Task) {
	tk.Known, tk.Sent, tk.SentHealth = TaskRunning, TaskRunning, HealthHealthy
	tk.PullStartedAt = time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	for i, c := range tk.Containers {
		c.Known, c.Sent = ContainerRunning, ContainerRunning
		c.RuntimeID = "rid" + string(rune('0'+i))
		c.StartedAt = time.Date(2026, 1, 2, 3, 4, 7+i, 0, time.UTC)
	}
	app, side := tk.Container("app"), tk.Container("side")
	app.Bindings = []Binding{{ContainerPort: 80, HostPort: 80, Protocol: "tcp", BindIP: "172.30.5.7"}}
	app.Health = HealthHealthy
	code := 3
	side.ExitCode, side.Known, side.Reason = &code, ContainerStopped, "exited"
}

// TestSavedTaskRoundTrip: a task reads back from its saved form as it was,
// Defs derived from the spec again, whether its spec came off the link (with
// its JSON) or was made in Go (encoded at the first save).
func TestSavedTaskRoundTrip(t *testing.T) {
	t.Parallel()
	decoded := func() agentproto.TaskSpec {
		b, err := json.Marshal(persistSpec())
		if err != nil {
			t.Fatal(err)
		}
		var s agentproto.TaskSpec
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tt := range []struct {
		name string
		spec agentproto.TaskSpec
	}{
		{"from the link", decoded()},
		{"made in Go", persistSpec()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tk := NewTask(tt.spec)
			setPersistState(tk)
			b, err := encodeTask(tk)
			if err != nil {
				t.Fatal(err)
			}
			if len(tk.Spec.Raw) == 0 {
				t.Fatal("the spec's encoding was not kept")
			}
			got, err := decodeTask(b)
			if err != nil {
				t.Fatal(err)
			}
			checkDefs(t, got)
			if !reflect.DeepEqual(got, tk) {
				t.Fatalf("read back\n%+v\nwant\n%+v", got, tk)
			}
			for i, c := range got.Containers {
				if w := tk.Containers[i]; c.MetadataToken != w.MetadataToken || c.Known != w.Known || c.Sent != w.Sent {
					t.Errorf("container %s: %+v, want %+v", c.Name, c, w)
				}
			}
			again, err := encodeTask(got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("saved again\n%s\nwant\n%s (%v)", again, b, err)
			}
		})
	}
}

// TestSaveWritesRawSpec: the saved file and snapshot hold the spec as it
// came off the link, byte for byte (fields this agent does not know
// included), and no container definitions.
func TestSaveWritesRawSpec(t *testing.T) {
	t.Parallel()
	raw := `{"version":1,"x-future":{"k":[1,2]},"taskArn":"arn:aws:ecs:us-east-1:000000000000:task/c/feed",` +
		`"definition":{"networkMode":"bridge","containerDefinitions":[{"name":"a","image":"busybox","command":["sleep","9"]}]},"desiredStatus":"RUNNING"}`
	var spec agentproto.TaskSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		t.Fatal(err)
	}
	e := New(Config{DataDir: t.TempDir()})
	if err := os.MkdirAll(e.stateDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	tk := NewTask(spec)
	r := newRunner(e, tk)
	file, err := os.ReadFile(e.taskFile(tk))
	if err != nil {
		t.Fatal(err)
	}
	snap := r.snap.Load()
	if snap == nil || !bytes.Equal(*snap, file) {
		t.Fatalf("snapshot %v differs from the file", snap)
	}
	if !bytes.Contains(file, []byte(`"spec":`+raw)) {
		t.Fatalf("saved\n%s\nlacks the raw spec\n%s", file, raw)
	}
	var saved struct {
		Containers []map[string]json.RawMessage `json:"containers"`
	}
	if err := json.Unmarshal(file, &saved); err != nil || len(saved.Containers) != 1 {
		t.Fatalf("saved containers %s (%v)", file, err)
	}
	if _, ok := saved.Containers[0]["def"]; ok {
		t.Fatalf("a container definition was saved: %s", file)
	}
	got := r.snapshot()
	if got == nil || !slices.Equal(got.Containers[0].Def.Command, []string{"sleep", "9"}) || string(got.Spec.Raw) != raw {
		t.Fatalf("snapshot %+v", got)
	}
}

// oldSaved is a task file as agents before the raw spec saved it: the spec
// encoded from its fields, every container with its "def".
const oldSaved = `{"arn":"arn:aws:ecs:us-east-1:000000000000:task/c/0123abcd","spec":{"taskArn":"arn:aws:ecs:us-east-1:000000000000:task/c/0123abcd","clusterArn":"arn:aws:ecs:us-east-1:000000000000:cluster/c","desiredStatus":"RUNNING","version":2,"definition":{"containerDefinitions":[{"name":"app","image":"nginx:1","portMappings":[{"containerPort":80}],"essential":true,"command":["serve"],"environment":[{"name":"A","value":"1"}]},{"name":"side","image":"busybox","essential":false}],"family":"web","networkMode":"awsvpc","revision":4},"overrides":{"containerOverrides":[{"name":"app","command":["serve","--debug"],"environment":[{"name":"B","value":"2"}]}]},"network":{"attachmentId":"att","ipv4":"172.30.5.7","subnet":"172.30.5.0/24","gateway":"172.30.5.1"},"createdAt":"2026-01-02T03:04:05Z","containerArns":{"app":"arn:c/app","side":"arn:c/side"}},"known":"RUNNING","desired":"RUNNING","sent":"RUNNING","containers":[{"name":"~internal~ecs~pause","def":{"name":"~internal~ecs~pause","image":"berth.local/pause:latest"},"pause":true,"known":"RUNNING","desired":"RUNNING","sent":"RUNNING","runtimeId":"rid0","metadataToken":"","startedAt":"2026-01-02T03:04:07Z"},{"name":"app","def":{"name":"app","image":"nginx:1","portMappings":[{"containerPort":80}],"essential":true,"command":["serve","--debug"],"environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},"known":"RUNNING","desired":"RUNNING","sent":"RUNNING","runtimeId":"rid1","health":"HEALTHY","bindings":[{"containerPort":80,"hostPort":80,"protocol":"tcp","bindIP":"172.30.5.7"}],"metadataToken":"token1","startedAt":"2026-01-02T03:04:08Z"},{"name":"side","def":{"name":"side","image":"busybox","essential":false},"known":"STOPPED","desired":"RUNNING","sent":"RUNNING","runtimeId":"rid2","exitCode":3,"reason":"exited","metadataToken":"token2","startedAt":"2026-01-02T03:04:09Z"}],"pullStartedAt":"2026-01-02T03:04:06Z","sentHealth":"HEALTHY"}`

// TestLoadOldFormat: a task saved in the old format loads as the same task
// (the saved defs were what NewTask derives), and saves in the new one.
func TestLoadOldFormat(t *testing.T) {
	t.Parallel()
	e := New(Config{DataDir: t.TempDir()})
	if err := os.MkdirAll(e.stateDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.stateDir(), "0123abcd.json"), []byte(oldSaved), 0o600); err != nil {
		t.Fatal(err)
	}
	tasks, err := e.load()
	if err != nil || len(tasks) != 1 {
		t.Fatalf("loaded %v (%v)", tasks, err)
	}
	got := tasks[0]
	checkDefs(t, got)

	want := NewTask(persistSpec())
	setPersistState(want)
	for i, c := range want.Containers {
		c.MetadataToken = got.Containers[i].MetadataToken
	}
	if tok := []string{got.Containers[0].MetadataToken, got.Containers[1].MetadataToken, got.Containers[2].MetadataToken}; !slices.Equal(tok, []string{"", "token1", "token2"}) {
		t.Errorf("metadata tokens %q", tok)
	}
	got.Spec.Raw = nil // the old file's spec object, checked below
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded\n%+v\nwant\n%+v", got, want)
	}

	b, err := e.save(tasks[0])
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(`"def"`)) {
		t.Fatalf("saved again with container definitions: %s", b)
	}
	again, err := decodeTask(b)
	if err != nil {
		t.Fatal(err)
	}
	checkDefs(t, again)
	if again.Spec.Raw = nil; !reflect.DeepEqual(again, want) {
		t.Fatalf("saved and read back\n%+v\nwant\n%+v", again, want)
	}
}
