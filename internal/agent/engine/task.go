package engine

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/taskdef"
)

// PauseName is the name of the awsvpc pause container inside a task (the ECS
// agent's name for it); it is never reported.
const PauseName = "~internal~ecs~pause"

// Task is one task as the agent knows it. Only its owner goroutine changes it
// once it runs; it is saved as JSON in the data dir after every change (see
// encodeTask: the spec as received, containers without their Def).
type Task struct {
	ARN  string              `json:"arn"`
	Spec agentproto.TaskSpec `json:"spec"`

	Known   TaskStatus `json:"known"`
	Desired TaskStatus `json:"desired"`
	// Sent is the last status the control plane acknowledged.
	Sent TaskStatus `json:"sent"`

	StopCode      string `json:"stopCode,omitempty"`
	StoppedReason string `json:"stoppedReason,omitempty"`

	Containers []*Container `json:"containers"`

	PullStartedAt      time.Time `json:"pullStartedAt,omitzero"`
	PullStoppedAt      time.Time `json:"pullStoppedAt,omitzero"`
	ExecutionStoppedAt time.Time `json:"executionStoppedAt,omitzero"`
	// SentHealth is the task health last sent over the link.
	SentHealth string `json:"sentHealth,omitempty"`
	// Cleaned is set once the stopped task's containers and task-scoped
	// volumes are removed.
	Cleaned bool `json:"cleaned,omitempty"`
}

// Container is one container of a task (or the awsvpc pause container).
type Container struct {
	Name string `json:"name"`
	// Def is the effective definition: task definition plus overrides. It
	// is not saved: decodeTask derives it from the spec again (containerDefs).
	Def   ecsapi.ContainerDefinition `json:"-"`
	Pause bool                       `json:"pause,omitempty"`

	Known   ContainerStatus `json:"known"`
	Desired ContainerStatus `json:"desired"`
	Sent    ContainerStatus `json:"sent"`

	RuntimeID string    `json:"runtimeId,omitempty"`
	ImageID   string    `json:"imageId,omitempty"`
	ExitCode  *int      `json:"exitCode,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Health    string    `json:"health,omitempty"`
	Bindings  []Binding `json:"bindings,omitempty"`
	// MetadataToken is the id in ECS_CONTAINER_METADATA_URI_V4.
	MetadataToken string `json:"metadataToken"`

	PullStartedAt time.Time `json:"pullStartedAt,omitzero"`
	PullStoppedAt time.Time `json:"pullStoppedAt,omitzero"`
	CreatedAt     time.Time `json:"createdAt,omitzero"`
	StartedAt     time.Time `json:"startedAt,omitzero"`
	FinishedAt    time.Time `json:"finishedAt,omitzero"`
}

// Binding is a published port as bound on the host.
type Binding struct {
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	Protocol      string `json:"protocol"`
	BindIP        string `json:"bindIP"`
}

// Essential reports whether the container is essential (the default).
func (c *Container) Essential() bool { return !c.Pause && (c.Def.Essential == nil || *c.Def.Essential) }

// ID is the last part of a task ARN.
func (t *Task) ID() string { return t.ARN[strings.LastIndex(t.ARN, "/")+1:] }

// Container finds a container by name.
func (t *Task) Container(name string) *Container {
	for _, c := range t.Containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// NetworkMode is the task definition's network mode (bridge by default, as
// on EC2).
func (t *Task) NetworkMode() string { return networkMode(&t.Spec) }

func networkMode(spec *agentproto.TaskSpec) string {
	if m := spec.Definition.NetworkMode; m != nil && *m != "" {
		return string(*m)
	}
	return "bridge"
}

// Family and Revision of the task definition.
func (t *Task) Family() string { return deref(t.Spec.Definition.Family) }

// Revision of the task definition.
func (t *Task) Revision() int {
	if r := t.Spec.Definition.Revision; r != nil {
		return int(*r)
	}
	return 0
}

// Health is the task health from its essential containers: any UNHEALTHY
// wins, then any UNKNOWN, else HEALTHY.
func (t *Task) Health() string {
	h := HealthHealthy
	for _, c := range t.Containers {
		if !c.Essential() {
			continue
		}
		switch c.health() {
		case HealthUnhealthy:
			return HealthUnhealthy
		case HealthUnknown:
			h = HealthUnknown
		}
	}
	return h
}

func (c *Container) health() string {
	if c.Health == "" {
		return HealthUnknown
	}
	return c.Health
}

// NewTask builds a task from its spec: overrides applied, one container per
// definition (plus the pause container for awsvpc), desired status from the
// spec. It does not validate; see Unsupported.
func NewTask(spec agentproto.TaskSpec) *Task {
	t := &Task{ARN: spec.TaskARN, Spec: spec, Desired: desiredOf(spec)}
	for _, def := range containerDefs(&spec) {
		c := &Container{Name: deref(def.Name), Def: def, Desired: ContainerRunning}
		if c.Name == PauseName {
			c.Pause = true
		} else {
			c.MetadataToken = newToken()
		}
		t.Containers = append(t.Containers, c)
	}
	if t.Desired == TaskStopped {
		for _, c := range t.Containers {
			c.Desired = ContainerStopped
		}
	}
	return t
}

// containerDefs are the effective definitions of a spec's containers, in
// start order: the pause container's first (awsvpc only), then each of the
// task definition with the overrides applied.
func containerDefs(spec *agentproto.TaskSpec) []ecsapi.ContainerDefinition {
	var defs []ecsapi.ContainerDefinition
	if networkMode(spec) == "awsvpc" {
		defs = append(defs, ecsapi.ContainerDefinition{Name: ptr(PauseName), Image: ptr(PauseImage)})
	}
	for _, def := range spec.Definition.ContainerDefinitions {
		defs = append(defs, taskdef.ApplyOverride(def, spec.Overrides))
	}
	return defs
}

func desiredOf(spec agentproto.TaskSpec) TaskStatus {
	if spec.DesiredStatus == "STOPPED" {
		return TaskStopped
	}
	return TaskRunning
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }
