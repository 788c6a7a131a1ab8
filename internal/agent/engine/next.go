package engine

import (
	"fmt"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// Transition moves one container to a status; the task goroutine maps it to
// runtime calls (see actions.go).
type Transition struct {
	Container string
	To        ContainerStatus
}

// StopCause makes the task's desired status STOPPED.
type StopCause struct {
	Code, Reason string
}

// Decision is what next decided for a task at one instant.
type Decision struct {
	// Transitions may all run now, concurrently: none depends on another.
	Transitions []Transition
	// Stop, when set, stops the task (apply it, then ask again).
	Stop *StopCause
	// Known is the task status derived from its containers.
	Known TaskStatus
	// WakeAt, when set, is when the decision may change without any event
	// (a dependency's startTimeout ending).
	WakeAt time.Time
}

// next decides the next transitions of t at now. It is pure: it reads t and
// changes nothing.
func next(t *Task, now time.Time) Decision {
	d := Decision{Known: knownOf(t)}
	if t.Desired == TaskRunning {
		if cause := stopCause(t); cause != nil {
			d.Stop = cause
			return d
		}
		for _, c := range t.Containers {
			if c.Known >= c.Desired || c.Known == ContainerStopped {
				continue
			}
			to := c.Known + 1
			if to >= ContainerCreated {
				ok, err, wake := canStart(t, c, now)
				if err != nil {
					d.Stop = &StopCause{Code: StopTaskFailedToStart, Reason: err.Error()}
					d.Transitions = nil
					return d
				}
				if !wake.IsZero() && (d.WakeAt.IsZero() || wake.Before(d.WakeAt)) {
					d.WakeAt = wake
				}
				if !ok {
					continue
				}
			}
			d.Transitions = append(d.Transitions, Transition{Container: c.Name, To: to})
		}
		return d
	}
	// Desired STOPPED: stop in reverse dependency order; the pause container
	// last, since the others live in its network namespace.
	for _, c := range t.Containers {
		if c.Known == ContainerStopped {
			continue
		}
		if c.Known < ContainerCreated || canStop(t, c) {
			d.Transitions = append(d.Transitions, Transition{Container: c.Name, To: ContainerStopped})
		}
	}
	return d
}

// knownOf derives the task status: STOPPED once every container stopped,
// RUNNING once every container runs or ran, CREATED once every container
// exists. It never goes back.
func knownOf(t *Task) TaskStatus {
	allStopped, allStarted, allCreated := true, true, true
	for _, c := range t.Containers {
		if c.Known != ContainerStopped {
			allStopped = false
		}
		if c.Known < ContainerRunning {
			allStarted = false
		}
		if c.Known < ContainerCreated {
			allCreated = false
		}
	}
	k := TaskNone
	switch {
	case allStopped:
		k = TaskStopped
	case allStarted:
		k = TaskRunning
	case allCreated:
		k = TaskCreated
	}
	return max(k, t.Known)
}

// stopCause says why a task whose desired status is RUNNING must stop: an
// essential container ended (with an error before the task ran: it failed to
// start).
func stopCause(t *Task) *StopCause {
	for _, c := range t.Containers {
		if c.Known != ContainerStopped || !(c.Essential() || c.Pause) {
			continue
		}
		if c.Reason != "" && t.Known < TaskRunning {
			return &StopCause{Code: StopTaskFailedToStart, Reason: c.Reason}
		}
		return &StopCause{Code: StopEssentialContainerExited, Reason: ReasonEssentialContainerExited}
	}
	return nil
}

// canStart reports whether c's dependencies allow it to be created and
// started: its dependsOn conditions, the containers it links to or takes
// volumes from, and the pause container of an awsvpc task. A non-nil error
// means they never will. wake is when a dependency's startTimeout ends.
func canStart(t *Task, c *Container, now time.Time) (ok bool, err error, wake time.Time) {
	ok = true
	if !c.Pause {
		for _, p := range t.Containers {
			if p.Pause && p.Known < ContainerRunning {
				ok = false
			}
		}
	}
	for _, dep := range c.Def.DependsOn {
		d := t.Container(dep.ContainerName)
		if d == nil {
			return false, fmt.Errorf("TaskDependencyError: container %s depends on %s, which is not in the task", c.Name, dep.ContainerName), time.Time{}
		}
		sat, derr := satisfied(d, dep.Condition)
		if derr != nil {
			return false, fmt.Errorf("TaskDependencyError: container %s cannot start: %w", c.Name, derr), time.Time{}
		}
		if sat {
			continue
		}
		ok = false
		if dep.Condition != ecsapi.ContainerConditionStart && !d.StartedAt.IsZero() {
			if to := deref(d.Def.StartTimeout); to > 0 {
				deadline := d.StartedAt.Add(time.Duration(to) * time.Second)
				if !now.Before(deadline) {
					return false, fmt.Errorf("TaskDependencyError: container %s: dependency %s did not reach %s within its startTimeout of %ds", c.Name, d.Name, dep.Condition, to), time.Time{}
				}
				wake = deadline
			}
		}
	}
	// Docker needs a linked container running and a volumesFrom source
	// created before it creates the dependent.
	for _, l := range c.Def.Links {
		name, _, _ := cutAlias(l)
		if d := t.Container(name); d != nil && d.Known < ContainerRunning {
			ok = false
		}
	}
	for _, vf := range c.Def.VolumesFrom {
		if d := t.Container(deref(vf.SourceContainer)); d != nil && d.Known < ContainerCreated {
			ok = false
		}
	}
	return ok, nil, wake
}

// satisfied evaluates one dependsOn condition on dependency d; an error means
// it never will be.
func satisfied(d *Container, cond ecsapi.ContainerCondition) (bool, error) {
	ranAndStopped := d.Known == ContainerStopped
	neverRan := ranAndStopped && d.StartedAt.IsZero()
	if neverRan {
		return false, fmt.Errorf("dependency %s stopped without starting", d.Name)
	}
	switch cond {
	case ecsapi.ContainerConditionStart:
		return d.Known >= ContainerRunning, nil
	case ecsapi.ContainerConditionComplete:
		return ranAndStopped, nil
	case ecsapi.ContainerConditionSuccess:
		if !ranAndStopped {
			return false, nil
		}
		if d.ExitCode == nil || *d.ExitCode != 0 {
			code := -1
			if d.ExitCode != nil {
				code = *d.ExitCode
			}
			return false, fmt.Errorf("dependency %s exited with code %d; condition SUCCESS needs 0", d.Name, code)
		}
		return true, nil
	case ecsapi.ContainerConditionHealthy:
		if d.Health == HealthHealthy {
			return true, nil
		}
		if ranAndStopped {
			return false, fmt.Errorf("dependency %s stopped before it was HEALTHY", d.Name)
		}
		return false, nil
	}
	return false, fmt.Errorf("unknown dependency condition %q", cond)
}

// canStop reports whether every container that depends on c (dependsOn,
// links, volumesFrom, or the pause container's namespace) has stopped.
func canStop(t *Task, c *Container) bool {
	for _, o := range t.Containers {
		if o == c || o.Known == ContainerStopped || o.Known < ContainerCreated {
			continue
		}
		if c.Pause || dependsOn(o, c.Name) {
			return false
		}
	}
	return true
}

func dependsOn(c *Container, name string) bool {
	for _, dep := range c.Def.DependsOn {
		if dep.ContainerName == name {
			return true
		}
	}
	for _, l := range c.Def.Links {
		if n, _, _ := cutAlias(l); n == name {
			return true
		}
	}
	for _, vf := range c.Def.VolumesFrom {
		if deref(vf.SourceContainer) == name {
			return true
		}
	}
	return false
}

// cutAlias splits a link "name:alias".
func cutAlias(link string) (name, alias string, hasAlias bool) {
	for i := range len(link) {
		if link[i] == ':' {
			return link[:i], link[i+1:], true
		}
	}
	return link, link, false
}
