package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/agentproto"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
)

// fakeReporter records what the engine reports.
type fakeReporter struct {
	mu         sync.Mutex
	tasks      []TaskReport
	containers []ContainerReport
	fail       bool
}

func (f *fakeReporter) SubmitTaskStateChange(_ context.Context, r TaskReport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("control plane unreachable")
	}
	f.tasks = append(f.tasks, r)
	return nil
}

func (f *fakeReporter) SubmitContainerStateChange(_ context.Context, r ContainerReport) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("control plane unreachable")
	}
	f.containers = append(f.containers, r)
	return nil
}

// taskReports returns the task reports for arn with the given status.
func (f *fakeReporter) taskReports(arn, status string) []TaskReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []TaskReport
	for _, r := range f.tasks {
		if r.TaskARN == arn && r.Status == status {
			out = append(out, r)
		}
	}
	return out
}

type testEngine struct {
	*Engine
	rep     *fakeReporter
	agentID string
	dataDir string
	cancel  context.CancelFunc
	done    chan struct{}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startEngine runs an engine for the test on the local Docker engine. Every
// container it makes carries its agent id and is removed when the test ends.
func startEngine(t *testing.T, agentID, dataDir string, rep *fakeReporter, mods ...func(*Config)) *testEngine {
	t.Helper()
	rt := dockertest.Runtime(t)
	if agentID == "" {
		agentID = "test-" + randomHex(6)
		t.Cleanup(func() { removeAgentObjects(t, rt, agentID) })
	}
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	if rep == nil {
		rep = &fakeReporter{}
	}
	cfg := Config{
		Runtime: rt, DataDir: dataDir, Reporter: rep, CleanupWait: time.Hour,
		Env: Env{AgentID: agentID, InstanceARN: "arn:aws:ecs:us-east-1:000000000000:container-instance/test/" + agentID,
			Region: "us-east-1", StopTimeout: 5 * time.Second},
	}
	for _, m := range mods {
		m(&cfg)
	}
	e := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	te := &testEngine{Engine: e, rep: rep, agentID: agentID, dataDir: dataDir, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(te.done)
		if err := e.Run(ctx); err != nil {
			t.Errorf("engine: %v", err)
		}
	}()
	t.Cleanup(te.stop)
	// Apply needs Run to have started.
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		ready := e.ctx != nil
		e.mu.Unlock()
		if ready || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return te
}

func (te *testEngine) stop() {
	te.cancel()
	<-te.done
}

func removeAgentObjects(t *testing.T, rt runtime.Runtime, agentID string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := runtime.Filter{Labels: map[string]string{LabelAgent: agentID}}
	list, err := rt.ListContainers(ctx, f)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, c := range list {
		if err := rt.RemoveContainer(ctx, c.ID, runtime.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("cleanup: %v", err)
		}
	}
	vols, _ := rt.ListVolumes(ctx, f)
	for _, v := range vols {
		_ = rt.RemoveVolume(ctx, v.Name, true)
	}
}

var taskSeq sync.Mutex

// taskSpec makes a RUNNING spec with a fresh ARN.
func taskSpec(mode string, defs ...ecsapi.ContainerDefinition) agentproto.TaskSpec {
	nm := ecsapi.NetworkMode(mode)
	return agentproto.TaskSpec{
		TaskARN:       "arn:aws:ecs:us-east-1:000000000000:task/test/" + randomHex(16),
		ClusterARN:    "arn:aws:ecs:us-east-1:000000000000:cluster/test",
		DesiredStatus: "RUNNING", Version: 1, CreatedAt: time.Now(),
		Definition: ecsapi.TaskDefinition{Family: ptr("enginetest"), Revision: ptr(int32(1)), NetworkMode: &nm,
			ContainerDefinitions: defs},
	}
}

// app is a sample-app container definition with extra arguments.
func app(name string, args ...string) ecsapi.ContainerDefinition {
	return ecsapi.ContainerDefinition{Name: ptr(name), Image: ptr(images.SampleApp), Command: args}
}

// waitFor polls the task until cond holds.
func waitFor(t *testing.T, e *testEngine, arn string, timeout time.Duration, what string, cond func(*Task) bool) *Task {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last *Task
	for time.Now().Before(deadline) {
		if tk, ok := e.Task(arn); ok {
			last = tk
			if cond(tk) {
				return tk
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, describe(last))
	return nil
}

func describe(t *Task) string {
	if t == nil {
		return "<no task>"
	}
	s := fmt.Sprintf("task known=%s desired=%s sent=%s reason=%q", t.Known, t.Desired, t.Sent, t.StoppedReason)
	for _, c := range t.Containers {
		s += fmt.Sprintf("; %s known=%s sent=%s health=%s reason=%q", c.Name, c.Known, c.Sent, c.Health, c.Reason)
	}
	return s
}

func (f *fakeReporter) waitTask(t *testing.T, arn, status string, timeout time.Duration) TaskReport {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if r := f.taskReports(arn, status); len(r) > 0 {
			return r[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s report for %s within %s", status, arn, timeout)
	return TaskReport{}
}

func TestTaskRunsAndExitsWithCode(t *testing.T) {
	t.Parallel()
	e := startEngine(t, "", "", nil)
	spec := taskSpec("bridge", app("main", "--exit-after", "1s", "--exit-code", "3"))
	e.Apply([]agentproto.TaskSpec{spec})
	e.rep.waitTask(t, spec.TaskARN, "RUNNING", time.Minute)
	stopped := e.rep.waitTask(t, spec.TaskARN, "STOPPED", time.Minute)
	if stopped.Reason != ReasonEssentialContainerExited {
		t.Errorf("reason = %q", stopped.Reason)
	}
	if len(stopped.Containers) != 1 || stopped.Containers[0].ExitCode == nil || *stopped.Containers[0].ExitCode != 3 {
		t.Fatalf("containers in the STOPPED report: %+v", stopped.Containers)
	}
	if stopped.Containers[0].RuntimeID == "" || stopped.ExecutionStoppedAt.IsZero() || stopped.PullStartedAt.IsZero() {
		t.Errorf("report lacks runtime id or timestamps: %+v", stopped)
	}
	tk, _ := e.Task(spec.TaskARN)
	if tk.StopCode != StopEssentialContainerExited {
		t.Errorf("stop code %q", tk.StopCode)
	}
}

func TestBridgeEphemeralHostPort(t *testing.T) {
	t.Parallel()
	e := startEngine(t, "", "", nil)
	def := app("web")
	def.PortMappings = []ecsapi.PortMapping{{ContainerPort: ptr(int32(8080)), HostPort: ptr(int32(0))}}
	spec := taskSpec("bridge", def)
	e.Apply([]agentproto.TaskSpec{spec})
	running := e.rep.waitTask(t, spec.TaskARN, "RUNNING", time.Minute)
	if len(running.Containers) != 1 || len(running.Containers[0].Bindings) != 1 {
		t.Fatalf("bindings in the RUNNING report: %+v", running.Containers)
	}
	b := running.Containers[0].Bindings[0]
	if b.ContainerPort != 8080 || b.HostPort == 0 || b.HostPort == 8080 || b.Protocol != "tcp" {
		t.Fatalf("binding %+v", b)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/health", b.HostPort)
	var resp *http.Response
	var err error
	for range 50 {
		if resp, err = http.Get(url); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}

	// StopTask: desired STOPPED; the app exits 0 on SIGTERM.
	spec.DesiredStatus, spec.Version, spec.StoppedReason = "STOPPED", 2, "Task stopped by user"
	e.Apply([]agentproto.TaskSpec{spec})
	stopped := e.rep.waitTask(t, spec.TaskARN, "STOPPED", time.Minute)
	if stopped.Reason != "Task stopped by user" || stopped.Containers[0].ExitCode == nil || *stopped.Containers[0].ExitCode != 0 {
		t.Fatalf("STOPPED report %+v", stopped)
	}
}

func TestDependsOnHealthyOrder(t *testing.T) {
	t.Parallel()
	e := startEngine(t, "", "", nil)
	db := app("db")
	db.HealthCheck = &ecsapi.HealthCheck{Command: []string{"CMD", images.BinaryPath, "sample-app", "probe", "http://127.0.0.1:8080/health"},
		Interval: ptr(int32(1)), Timeout: ptr(int32(2)), Retries: ptr(int32(3))}
	web := app("web")
	web.DependsOn = []ecsapi.ContainerDependency{{ContainerName: "db", Condition: ecsapi.ContainerConditionHealthy}}
	spec := taskSpec("bridge", db, web)
	var healthyAt time.Time
	var mu sync.Mutex
	e.cfg.Health = func(r agentproto.HealthReport) {
		mu.Lock()
		defer mu.Unlock()
		if r.Containers["db"] == HealthHealthy && healthyAt.IsZero() {
			healthyAt = time.Now()
		}
	}
	e.Apply([]agentproto.TaskSpec{spec})
	tk := waitFor(t, e, spec.TaskARN, time.Minute, "RUNNING", func(tk *Task) bool { return tk.Known == TaskRunning })
	dbc, webc := tk.Container("db"), tk.Container("web")
	if dbc.Health != HealthHealthy {
		t.Errorf("db health %q when web runs", dbc.Health)
	}
	if !webc.StartedAt.After(dbc.StartedAt.Add(500 * time.Millisecond)) {
		t.Errorf("web started at %s, db at %s: web did not wait for db's first health check", webc.StartedAt, dbc.StartedAt)
	}
	if webc.CreatedAt.Before(dbc.StartedAt) {
		t.Errorf("web created at %s before db started at %s", webc.CreatedAt, dbc.StartedAt)
	}
}

func TestImageNotFoundFailsToStart(t *testing.T) {
	t.Parallel()
	e := startEngine(t, "", "", nil)
	for _, image := range []string{"berth.local/does-not-exist:latest", "registry.invalid/berth/nope:1"} {
		spec := taskSpec("bridge", ecsapi.ContainerDefinition{Name: ptr("main"), Image: ptr(image)})
		e.Apply(append(activeSpecs(e), spec))
		stopped := e.rep.waitTask(t, spec.TaskARN, "STOPPED", 2*time.Minute)
		if !strings.HasPrefix(stopped.Reason, "CannotPullContainerError: ") {
			t.Errorf("%s: reason %q", image, stopped.Reason)
		}
		if len(stopped.Containers) != 1 || !strings.HasPrefix(stopped.Containers[0].Reason, "CannotPullContainerError") {
			t.Errorf("%s: containers %+v", image, stopped.Containers)
		}
		if len(e.rep.taskReports(spec.TaskARN, "RUNNING")) != 0 {
			t.Errorf("%s: a RUNNING report was sent", image)
		}
		tk, _ := e.Task(spec.TaskARN)
		if tk.StopCode != StopTaskFailedToStart {
			t.Errorf("%s: stop code %q", image, tk.StopCode)
		}
	}
}

// activeSpecs are the specs of the engine's tasks, so a test can add one
// without the level-triggered Apply stopping the others.
func activeSpecs(e *testEngine) []agentproto.TaskSpec {
	var out []agentproto.TaskSpec
	for _, tk := range e.Tasks() {
		out = append(out, tk.Spec)
	}
	return out
}

func TestEssentialExitStopsTask(t *testing.T) {
	t.Parallel()
	e := startEngine(t, "", "", nil)
	side := app("side")
	side.Essential = ptr(false)
	short := app("short", "--exit-after", "2s", "--exit-code", "1")
	spec := taskSpec("bridge", side, short)
	e.Apply([]agentproto.TaskSpec{spec})
	stopped := e.rep.waitTask(t, spec.TaskARN, "STOPPED", time.Minute)
	if stopped.Reason != ReasonEssentialContainerExited {
		t.Errorf("reason %q", stopped.Reason)
	}
	tk, _ := e.Task(spec.TaskARN)
	if c := tk.Container("short"); c.ExitCode == nil || *c.ExitCode != 1 {
		t.Errorf("short exit code %v", c.ExitCode)
	}
	if c := tk.Container("side"); c.Known != ContainerStopped || c.ExitCode == nil {
		t.Errorf("side not stopped: %s", describe(tk))
	}
}

func TestRestartReadoptsRunningTask(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	agentID := "test-" + randomHex(6)
	t.Cleanup(func() { removeAgentObjects(t, rt, agentID) })
	dataDir := t.TempDir()
	rep := &fakeReporter{}
	e1 := startEngine(t, agentID, dataDir, rep)
	spec := taskSpec("bridge", app("main"))
	e1.Apply([]agentproto.TaskSpec{spec})
	e1.rep.waitTask(t, spec.TaskARN, "RUNNING", time.Minute)
	first, _ := e1.Task(spec.TaskARN)
	id := first.Container("main").RuntimeID
	e1.stop() // the agent dies; the container does not

	for _, lose := range []bool{false, true} {
		dir := dataDir
		if lose {
			dir = t.TempDir() // the saved state is gone: only labels remain
		}
		e2 := startEngine(t, agentID, dir, rep)
		e2.Apply([]agentproto.TaskSpec{spec})
		tk := waitFor(t, e2, spec.TaskARN, time.Minute, "RUNNING again", func(tk *Task) bool { return tk.Known == TaskRunning })
		if got := tk.Container("main").RuntimeID; got != id {
			t.Errorf("lost state=%v: runtime id %s, want the original %s", lose, got, id)
		}
		list, err := rt.ListContainers(t.Context(), runtime.Filter{Labels: map[string]string{LabelTaskARN: spec.TaskARN}})
		if err != nil || len(list) != 1 {
			t.Fatalf("lost state=%v: %d containers for the task (%v), want 1", lose, len(list), err)
		}
		if !lose && len(rep.taskReports(spec.TaskARN, "RUNNING")) != 1 {
			t.Errorf("RUNNING was reported %d times", len(rep.taskReports(spec.TaskARN, "RUNNING")))
		}
		e2.stop()
	}
}

func TestUnsentReportIsResentAfterRestart(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	agentID := "test-" + randomHex(6)
	t.Cleanup(func() { removeAgentObjects(t, rt, agentID) })
	dataDir := t.TempDir()
	down := &fakeReporter{fail: true}
	e1 := startEngine(t, agentID, dataDir, down)
	spec := taskSpec("bridge", app("main"))
	e1.Apply([]agentproto.TaskSpec{spec})
	waitFor(t, e1, spec.TaskARN, time.Minute, "RUNNING", func(tk *Task) bool { return tk.Known == TaskRunning })
	e1.stop()

	up := &fakeReporter{}
	e2 := startEngine(t, agentID, dataDir, up)
	// No payload yet: the restored task reports by itself.
	up.waitTask(t, spec.TaskARN, "RUNNING", 30*time.Second)
	e2.stop()
}

func TestStoppedTaskIsCleanedUp(t *testing.T) {
	t.Parallel()
	e := startEngine(t, "", "", nil, func(c *Config) { c.CleanupWait = time.Second })
	spec := taskSpec("bridge", app("main", "--exit-after", "500ms"))
	e.Apply([]agentproto.TaskSpec{spec})
	e.rep.waitTask(t, spec.TaskARN, "STOPPED", time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, held := e.Task(spec.TaskARN)
		list, err := e.cfg.Runtime.ListContainers(t.Context(), runtime.Filter{Labels: map[string]string{LabelTaskARN: spec.TaskARN}})
		if err != nil {
			t.Fatal(err)
		}
		if !held && len(list) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the cleanup wait: task held=%v, %d containers left", held, len(list))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := e.cfg.Runtime.InspectImage(t.Context(), images.SampleApp); err != nil {
		t.Errorf("cleanup removed the image: %v", err)
	}
}

func TestOrphanedContainerIsRemoved(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	agentID := "test-" + randomHex(6)
	t.Cleanup(func() { removeAgentObjects(t, rt, agentID) })
	e1 := startEngine(t, agentID, t.TempDir(), nil)
	spec := taskSpec("bridge", app("main"))
	e1.Apply([]agentproto.TaskSpec{spec})
	waitFor(t, e1, spec.TaskARN, time.Minute, "RUNNING", func(tk *Task) bool { return tk.Known == TaskRunning })
	e1.stop()

	// The state is lost and the control plane no longer assigns the task.
	e2 := startEngine(t, agentID, t.TempDir(), nil)
	e2.Apply(nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := rt.ListContainers(t.Context(), runtime.Filter{Labels: map[string]string{LabelTaskARN: spec.TaskARN}})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphaned container still there: %+v", list)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestVolumes(t *testing.T) {
	t.Parallel()
	shared := "berth-test-shared-" + randomHex(4)
	// Registered first, so it runs after the containers are gone.
	t.Cleanup(func() { _ = dockertest.Runtime(t).RemoveVolume(context.Background(), shared, true) })
	e := startEngine(t, "", "", nil, func(c *Config) { c.CleanupWait = time.Second })
	hostDir := t.TempDir()
	web := func(name string) ecsapi.ContainerDefinition {
		d := app(name)
		d.PortMappings = []ecsapi.PortMapping{{ContainerPort: ptr(int32(8080)), HostPort: ptr(int32(0))}}
		return d
	}
	a := web("a")
	a.MountPoints = []ecsapi.MountPoint{
		{SourceVolume: ptr("host"), ContainerPath: ptr("/host")},
		{SourceVolume: ptr("scratch"), ContainerPath: ptr("/scratch")},
		{SourceVolume: ptr("shared"), ContainerPath: ptr("/shared")},
	}
	b := web("b")
	b.MountPoints = []ecsapi.MountPoint{{SourceVolume: ptr("scratch"), ContainerPath: ptr("/scratch"), ReadOnly: ptr(true)}}
	b.VolumesFrom = []ecsapi.VolumeFrom{{SourceContainer: ptr("a")}}
	spec := taskSpec("bridge", a, b)
	spec.Definition.Volumes = []ecsapi.Volume{
		{Name: ptr("host"), Host: &ecsapi.HostVolumeProperties{SourcePath: ptr(hostDir)}},
		{Name: ptr("scratch")},
		{Name: ptr(shared), DockerVolumeConfiguration: &ecsapi.DockerVolumeConfiguration{Scope: ptr(ecsapi.ScopeShared), Autoprovision: ptr(true)}},
	}
	spec.Definition.ContainerDefinitions[0].MountPoints[2].SourceVolume = ptr(shared)
	e.Apply([]agentproto.TaskSpec{spec})
	tk := waitFor(t, e, spec.TaskARN, time.Minute, "RUNNING", func(tk *Task) bool { return tk.Known == TaskRunning })
	port := map[string]int{}
	for _, c := range tk.Containers {
		port[c.Name] = c.Bindings[0].HostPort
	}
	put := func(container, path, body string) {
		t.Helper()
		url := fmt.Sprintf("http://127.0.0.1:%d/file?path=%s", port[container], path)
		var resp *http.Response
		var err error
		for range 50 {
			if resp, err = http.Post(url, "text/plain", strings.NewReader(body)); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("POST %s: %v", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %s", url, resp.Status)
		}
	}
	read := func(container, path string) string {
		t.Helper()
		var resp *http.Response
		var err error
		for range 50 {
			if resp, err = http.Get(fmt.Sprintf("http://127.0.0.1:%d/file?path=%s", port[container], path)); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		_, _ = io.Copy(&sb, resp.Body)
		return sb.String()
	}
	put("a", "/host/h.txt", "on the host")
	if b, err := os.ReadFile(filepath.Join(hostDir, "h.txt")); err != nil || string(b) != "on the host" {
		t.Errorf("host volume: %q %v", b, err)
	}
	put("a", "/scratch/s.txt", "task volume")
	if got := read("b", "/scratch/s.txt"); got != "task volume" {
		t.Errorf("task volume seen by b: %q", got)
	}
	put("a", "/shared/v.txt", "shared")
	if got := read("b", "/shared/v.txt"); got != "shared" {
		t.Errorf("volumesFrom a seen by b: %q", got)
	}

	spec.DesiredStatus, spec.Version = "STOPPED", 2
	e.Apply([]agentproto.TaskSpec{spec})
	e.rep.waitTask(t, spec.TaskARN, "STOPPED", time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for {
		vols, err := e.cfg.Runtime.ListVolumes(t.Context(), runtime.Filter{Labels: map[string]string{LabelTaskARN: spec.TaskARN}})
		if err != nil {
			t.Fatal(err)
		}
		if len(vols) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task volumes left after cleanup: %+v", vols)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := e.cfg.Runtime.InspectVolume(t.Context(), shared); err != nil {
		t.Errorf("the shared volume did not survive the task: %v", err)
	}
}

func TestSharedVolumeWithoutAutoprovisionMustExist(t *testing.T) {
	t.Parallel()
	e := startEngine(t, "", "", nil)
	a := app("a")
	a.MountPoints = []ecsapi.MountPoint{{SourceVolume: ptr("missing-" + randomHex(4)), ContainerPath: ptr("/v")}}
	spec := taskSpec("bridge", a)
	spec.Definition.Volumes = []ecsapi.Volume{{Name: a.MountPoints[0].SourceVolume,
		DockerVolumeConfiguration: &ecsapi.DockerVolumeConfiguration{Scope: ptr(ecsapi.ScopeShared)}}}
	e.Apply([]agentproto.TaskSpec{spec})
	stopped := e.rep.waitTask(t, spec.TaskARN, "STOPPED", time.Minute)
	if !strings.HasPrefix(stopped.Reason, "CannotCreateContainerError: ") || !strings.Contains(stopped.Reason, "autoprovision") {
		t.Errorf("reason %q", stopped.Reason)
	}
}

// TestPullBehavior uses an image that is cached but whose registry does not
// exist: default falls back to the cache, prefer-cached never pulls, always
// fails.
func TestPullBehavior(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	bin, err := images.BerthBinary(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := "registry.invalid/berth-test/cached:" + randomHex(4)
	spec := images.Specs()[0]
	spec.Ref = ref
	im, err := images.Build(bin, spec)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(images.WriteDockerArchive(pw, im)) }()
	if err := rt.LoadImage(t.Context(), pr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.RemoveImage(context.Background(), ref, true) })
	for _, tt := range []struct {
		behavior config.PullBehavior
		runs     bool
	}{{config.PullDefault, true}, {config.PullPreferCached, true}, {config.PullOnce, true}, {config.PullAlways, false}} {
		t.Run(string(tt.behavior), func(t *testing.T) {
			t.Parallel()
			e := startEngine(t, "", "", nil, func(c *Config) { c.PullBehavior = tt.behavior })
			s := taskSpec("bridge", ecsapi.ContainerDefinition{Name: ptr("main"), Image: ptr(ref), Command: []string{"--exit-after", "1s"}})
			e.Apply([]agentproto.TaskSpec{s})
			stopped := e.rep.waitTask(t, s.TaskARN, "STOPPED", 2*time.Minute)
			ran := len(e.rep.taskReports(s.TaskARN, "RUNNING")) == 1
			if ran != tt.runs {
				t.Errorf("ran=%v, want %v (stopped: %q)", ran, tt.runs, stopped.Reason)
			}
			if !tt.runs && !strings.HasPrefix(stopped.Reason, "CannotPullContainerError") {
				t.Errorf("reason %q", stopped.Reason)
			}
		})
	}
}
