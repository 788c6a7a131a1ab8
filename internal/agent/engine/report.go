package engine

import (
	"context"
	"time"
)

// Reporter sends state changes to the control plane (SubmitTaskStateChange
// and SubmitContainerStateChange). A nil error means the control plane took
// the change; the engine then marks it sent and never sends it again.
type Reporter interface {
	SubmitTaskStateChange(ctx context.Context, r TaskReport) error
	SubmitContainerStateChange(ctx context.Context, r ContainerReport) error
}

// TaskReport is one SubmitTaskStateChange.
type TaskReport struct {
	ClusterARN, TaskARN string
	Status              string // PENDING, RUNNING, STOPPED
	Reason              string
	Containers          []ContainerReport
	PullStartedAt       time.Time
	PullStoppedAt       time.Time
	ExecutionStoppedAt  time.Time
}

// ContainerReport is one container's change (alone, a
// SubmitContainerStateChange).
type ContainerReport struct {
	ClusterARN, TaskARN string
	Name                string
	RuntimeID           string
	ImageDigest         string
	Status              string // RUNNING, STOPPED
	ExitCode            *int
	Reason              string
	Bindings            []Binding
}

// report is what one report goroutine sends, and what it marks sent.
type report struct {
	task       *TaskReport
	containers []ContainerReport
	marks      sentMarks
}

// sentMarks are the statuses a report carried, applied to the task once the
// control plane took it.
type sentMarks struct {
	task       TaskStatus
	containers map[string]ContainerStatus
}

func (m sentMarks) apply(t *Task) {
	if m.task > t.Sent {
		t.Sent = m.task
	}
	for _, c := range t.Containers {
		if s, ok := m.containers[c.Name]; ok && s > c.Sent {
			c.Sent = s
		}
	}
}

// buildReport compares known with sent and says what to send, if anything:
// a task report when the task's backend status changed (carrying every
// changed container), else one container report per changed container.
// Backend statuses only: PENDING sub-states are not reported.
func buildReport(t *Task) (report, bool) {
	rep := report{marks: sentMarks{task: t.Sent, containers: map[string]ContainerStatus{}}}
	var changed []ContainerReport
	for _, c := range t.Containers {
		if c.Pause || !reportable(c.Known) || c.Known.Backend() == c.Sent.Backend() {
			continue
		}
		changed = append(changed, containerReport(t, c))
		rep.marks.containers[c.Name] = c.Known
	}
	if reportableTask(t.Known) && t.Known.Backend() != t.Sent.Backend() {
		rep.task = &TaskReport{
			ClusterARN: t.Spec.ClusterARN, TaskARN: t.ARN, Status: t.Known.Backend(), Containers: changed,
			PullStartedAt: t.PullStartedAt, PullStoppedAt: t.PullStoppedAt,
		}
		if t.Known == TaskStopped {
			rep.task.Reason = t.StoppedReason
			rep.task.ExecutionStoppedAt = t.ExecutionStoppedAt
		}
		rep.marks.task = t.Known
		return rep, true
	}
	if len(changed) == 0 {
		return report{}, false
	}
	rep.containers = changed
	return rep, true
}

func reportable(s ContainerStatus) bool { return s == ContainerRunning || s == ContainerStopped }

func reportableTask(s TaskStatus) bool { return s == TaskRunning || s == TaskStopped }

func containerReport(t *Task, c *Container) ContainerReport {
	cr := ContainerReport{ClusterARN: t.Spec.ClusterARN, TaskARN: t.ARN, Name: c.Name, RuntimeID: c.RuntimeID,
		ImageDigest: c.ImageID, Status: c.Known.Backend(), Reason: c.Reason, Bindings: c.Bindings}
	if c.Known == ContainerStopped {
		cr.ExitCode = c.ExitCode
	}
	return cr
}

// send delivers a report; a task report carries its containers.
func (e *Engine) send(ctx context.Context, rep report) error {
	if e.cfg.Reporter == nil {
		return nil
	}
	if rep.task != nil {
		return e.cfg.Reporter.SubmitTaskStateChange(ctx, *rep.task)
	}
	for _, c := range rep.containers {
		if err := e.cfg.Reporter.SubmitContainerStateChange(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
