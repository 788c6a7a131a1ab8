package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// c is a container definition for tests: name, then "dep:CONDITION" entries.
func cdef(name string, deps ...string) ecsapi.ContainerDefinition {
	d := ecsapi.ContainerDefinition{Name: ptr(name), Image: ptr("img")}
	for _, dep := range deps {
		n, cond, _ := strings.Cut(dep, ":")
		d.DependsOn = append(d.DependsOn, ecsapi.ContainerDependency{ContainerName: n, Condition: ecsapi.ContainerCondition(cond)})
	}
	return d
}

func testTask(mode string, defs ...ecsapi.ContainerDefinition) *Task {
	nm := ecsapi.NetworkMode(mode)
	return NewTask(agentproto.TaskSpec{TaskARN: "arn:aws:ecs:us-east-1:000000000000:task/c/abc", DesiredStatus: "RUNNING",
		Definition: ecsapi.TaskDefinition{Family: ptr("fam"), Revision: ptr(int32(3)), NetworkMode: &nm, ContainerDefinitions: defs}})
}

// state sets container statuses: "name=STATUS[,exit=N][,health=H][,started]".
func set(t *Task, name string, st ContainerStatus, mods ...string) {
	c := t.Container(name)
	c.Known = st
	if st >= ContainerRunning {
		c.StartedAt = time.Unix(1000, 0)
	}
	for _, m := range mods {
		k, v, _ := strings.Cut(m, "=")
		switch k {
		case "exit":
			n := 0
			for _, r := range v {
				n = n*10 + int(r-'0')
			}
			c.ExitCode = &n
		case "health":
			c.Health = v
		case "reason":
			c.Reason = v
		case "neverstarted":
			c.StartedAt = time.Time{}
		}
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	now := time.Unix(1010, 0)
	nonEssential := func(d ecsapi.ContainerDefinition) ecsapi.ContainerDefinition {
		d.Essential = ptr(false)
		return d
	}
	withTimeout := func(d ecsapi.ContainerDefinition, s int32) ecsapi.ContainerDefinition {
		d.StartTimeout = &s
		return d
	}
	tests := []struct {
		name    string
		task    func() *Task
		want    []Transition
		stop    string // stop code, "" for none
		reason  string // substring of the stop reason
		known   TaskStatus
		wakeSet bool
	}{
		{name: "fresh task pulls every container", task: func() *Task {
			return testTask("bridge", cdef("a"), cdef("b", "a:HEALTHY"))
		}, want: []Transition{{"a", ContainerPulled}, {"b", ContainerPulled}}},
		{name: "dependent waits to be created", task: func() *Task {
			tk := testTask("bridge", cdef("a"), cdef("b", "a:START"))
			set(tk, "a", ContainerPulled)
			set(tk, "b", ContainerPulled)
			return tk
		}, want: []Transition{{"a", ContainerCreated}}},
		{name: "START resolved by running", task: func() *Task {
			tk := testTask("bridge", cdef("a"), cdef("b", "a:START"))
			set(tk, "a", ContainerRunning)
			set(tk, "b", ContainerPulled)
			return tk
		}, want: []Transition{{"b", ContainerCreated}}},
		{name: "HEALTHY waits for health", task: func() *Task {
			tk := testTask("bridge", cdef("a"), cdef("b", "a:HEALTHY"))
			set(tk, "a", ContainerRunning, "health=UNKNOWN")
			set(tk, "b", ContainerPulled)
			return tk
		}},
		{name: "HEALTHY resolved", task: func() *Task {
			tk := testTask("bridge", cdef("a"), cdef("b", "a:HEALTHY"))
			set(tk, "a", ContainerRunning, "health=HEALTHY")
			set(tk, "b", ContainerCreated)
			return tk
		}, want: []Transition{{"b", ContainerRunning}}, known: TaskCreated},
		{name: "HEALTHY timeout fails the task", task: func() *Task {
			tk := testTask("bridge", withTimeout(cdef("a"), 5), cdef("b", "a:HEALTHY"))
			set(tk, "a", ContainerRunning)
			set(tk, "b", ContainerPulled)
			return tk
		}, stop: StopTaskFailedToStart, reason: "startTimeout"},
		{name: "HEALTHY before timeout wakes at deadline", task: func() *Task {
			tk := testTask("bridge", withTimeout(cdef("a"), 60), cdef("b", "a:HEALTHY"))
			set(tk, "a", ContainerRunning)
			set(tk, "b", ContainerPulled)
			return tk
		}, wakeSet: true},
		{name: "SUCCESS resolved by exit 0", task: func() *Task {
			tk := testTask("bridge", nonEssential(cdef("init")), cdef("app", "init:SUCCESS"))
			set(tk, "init", ContainerStopped, "exit=0")
			set(tk, "app", ContainerCreated)
			return tk
		}, want: []Transition{{"app", ContainerRunning}}, known: TaskCreated},
		{name: "SUCCESS fails on exit 1", task: func() *Task {
			tk := testTask("bridge", nonEssential(cdef("init")), cdef("app", "init:SUCCESS"))
			set(tk, "init", ContainerStopped, "exit=1")
			set(tk, "app", ContainerCreated)
			return tk
		}, stop: StopTaskFailedToStart, reason: "exited with code 1", known: TaskCreated},
		{name: "COMPLETE resolved by any exit", task: func() *Task {
			tk := testTask("bridge", nonEssential(cdef("init")), cdef("app", "init:COMPLETE"))
			set(tk, "init", ContainerStopped, "exit=3")
			set(tk, "app", ContainerCreated)
			return tk
		}, want: []Transition{{"app", ContainerRunning}}, known: TaskCreated},
		{name: "dependency that never started", task: func() *Task {
			tk := testTask("bridge", nonEssential(cdef("a")), cdef("b", "a:START"))
			set(tk, "a", ContainerStopped, "reason=CannotPullContainerError: x", "neverstarted")
			set(tk, "b", ContainerPulled)
			return tk
		}, stop: StopTaskFailedToStart, reason: "without starting"},
		{name: "all running", task: func() *Task {
			tk := testTask("bridge", cdef("a"), nonEssential(cdef("b")))
			set(tk, "a", ContainerRunning)
			set(tk, "b", ContainerStopped, "exit=0")
			return tk
		}, known: TaskRunning},
		{name: "essential exit stops the task", task: func() *Task {
			tk := testTask("bridge", cdef("a"), cdef("b"))
			tk.Known = TaskRunning
			set(tk, "a", ContainerStopped, "exit=2")
			set(tk, "b", ContainerRunning)
			return tk
		}, stop: StopEssentialContainerExited, reason: ReasonEssentialContainerExited, known: TaskRunning},
		{name: "pull failure fails to start", task: func() *Task {
			tk := testTask("bridge", cdef("a"))
			set(tk, "a", ContainerStopped, "reason=CannotPullContainerError: nope")
			return tk
		}, stop: StopTaskFailedToStart, reason: "CannotPullContainerError", known: TaskStopped},
		{name: "awsvpc waits for pause", task: func() *Task {
			tk := testTask("awsvpc", cdef("a"))
			set(tk, PauseName, ContainerCreated)
			set(tk, "a", ContainerPulled)
			return tk
		}, want: []Transition{{PauseName, ContainerRunning}}},
		{name: "stop in reverse dependency order", task: func() *Task {
			tk := testTask("bridge", cdef("db"), cdef("app", "db:HEALTHY"), cdef("side"))
			tk.Desired = TaskStopped
			set(tk, "db", ContainerRunning)
			set(tk, "app", ContainerRunning)
			set(tk, "side", ContainerRunning)
			return tk
		}, want: []Transition{{"app", ContainerStopped}, {"side", ContainerStopped}}, known: TaskRunning},
		{name: "pause stops last", task: func() *Task {
			tk := testTask("awsvpc", cdef("a"))
			tk.Desired = TaskStopped
			set(tk, PauseName, ContainerRunning)
			set(tk, "a", ContainerRunning)
			return tk
		}, want: []Transition{{"a", ContainerStopped}}, known: TaskRunning},
		{name: "stop before create needs no runtime", task: func() *Task {
			tk := testTask("bridge", cdef("a"), cdef("b", "a:START"))
			tk.Desired = TaskStopped
			return tk
		}, want: []Transition{{"a", ContainerStopped}, {"b", ContainerStopped}}},
		{name: "all stopped", task: func() *Task {
			tk := testTask("bridge", cdef("a"))
			tk.Desired = TaskStopped
			set(tk, "a", ContainerStopped, "exit=0")
			return tk
		}, known: TaskStopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := next(tt.task(), now)
			if !reflect.DeepEqual(d.Transitions, tt.want) {
				t.Errorf("transitions = %v, want %v", d.Transitions, tt.want)
			}
			gotStop := ""
			if d.Stop != nil {
				gotStop = d.Stop.Code
				if !strings.Contains(d.Stop.Reason, tt.reason) {
					t.Errorf("stop reason %q, want it to contain %q", d.Stop.Reason, tt.reason)
				}
			}
			if gotStop != tt.stop {
				t.Errorf("stop = %q (%+v), want %q", gotStop, d.Stop, tt.stop)
			}
			if d.Known != tt.known {
				t.Errorf("known = %s, want %s", d.Known, tt.known)
			}
			if !d.WakeAt.IsZero() != tt.wakeSet {
				t.Errorf("wakeAt = %v, want set=%v", d.WakeAt, tt.wakeSet)
			}
		})
	}
}

func TestTaskHealth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b, side string
		want       string
	}{
		{HealthHealthy, HealthHealthy, HealthUnhealthy, HealthHealthy},
		{HealthHealthy, "", HealthHealthy, HealthUnknown},
		{HealthUnhealthy, "", HealthHealthy, HealthUnhealthy},
		{HealthUnknown, HealthHealthy, "", HealthUnknown},
	}
	for _, tt := range tests {
		side := cdef("side")
		side.Essential = ptr(false)
		tk := testTask("bridge", cdef("a"), cdef("b"), side)
		tk.Container("a").Health, tk.Container("b").Health, tk.Container("side").Health = tt.a, tt.b, tt.side
		if got := tk.Health(); got != tt.want {
			t.Errorf("health(%q,%q,%q) = %s, want %s", tt.a, tt.b, tt.side, got, tt.want)
		}
	}
}

// TestNewTaskUnsupported: a task asking for what the agent cannot do is
// failed before anything is created (the checks themselves are tested in
// internal/taskdef).
func TestNewTaskUnsupported(t *testing.T) {
	t.Parallel()
	e := &Engine{}
	e.cfg.LogDrivers = []string{"json-file"}
	withSecrets := cdef("a")
	withSecrets.Secrets = []ecsapi.Secret{{}}
	withLog := cdef("b")
	withLog.LogConfiguration = &ecsapi.LogConfiguration{LogDriver: "awslogs"}
	tk := e.newTask(testTask("bridge", withSecrets, withLog).Spec)
	want := `UnsupportedFeatureError: container a: secrets is not supported; container b: log driver "awslogs" is not available on this instance (available: json-file)`
	if tk.Desired != TaskStopped || tk.StopCode != StopTaskFailedToStart || tk.StoppedReason != want {
		t.Errorf("task desired %s stopCode %s reason %q", tk.Desired, tk.StopCode, tk.StoppedReason)
	}
	for _, c := range tk.Containers {
		if c.Desired != ContainerStopped || c.Reason != want {
			t.Errorf("container %s desired %s reason %q", c.Name, c.Desired, c.Reason)
		}
	}
	if ok := e.newTask(testTask("bridge", cdef("a")).Spec); ok.Desired != TaskRunning || ok.StoppedReason != "" {
		t.Errorf("supported task: desired %s reason %q", ok.Desired, ok.StoppedReason)
	}
}
