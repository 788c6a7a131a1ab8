package engine

import "encoding/json"

// ContainerStatus is a container's status in lifecycle order, so progress is
// known < desired.
type ContainerStatus int

// Container statuses (the ECS agent's, minus the ones Berth never needs).
const (
	ContainerNone ContainerStatus = iota
	ContainerPulled
	ContainerCreated
	ContainerRunning
	ContainerStopped
)

var containerStatusNames = [...]string{"NONE", "PULLED", "CREATED", "RUNNING", "STOPPED"}

func (s ContainerStatus) String() string {
	if s < 0 || int(s) >= len(containerStatusNames) {
		return "NONE"
	}
	return containerStatusNames[s]
}

// Backend is the status the control plane knows: PENDING until RUNNING.
func (s ContainerStatus) Backend() string {
	switch s {
	case ContainerRunning:
		return "RUNNING"
	case ContainerStopped:
		return "STOPPED"
	}
	return "PENDING"
}

// MarshalJSON writes the name, so saved state stays readable.
func (s ContainerStatus) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a name written by MarshalJSON.
func (s *ContainerStatus) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	for i, n := range containerStatusNames {
		if n == name {
			*s = ContainerStatus(i)
			return nil
		}
	}
	*s = ContainerNone
	return nil
}

// TaskStatus is a task's status in lifecycle order.
type TaskStatus int

// Task statuses.
const (
	TaskNone TaskStatus = iota
	TaskCreated
	TaskRunning
	TaskStopped
)

var taskStatusNames = [...]string{"NONE", "CREATED", "RUNNING", "STOPPED"}

func (s TaskStatus) String() string {
	if s < 0 || int(s) >= len(taskStatusNames) {
		return "NONE"
	}
	return taskStatusNames[s]
}

// Backend is the status the control plane knows: PENDING until RUNNING.
func (s TaskStatus) Backend() string {
	switch s {
	case TaskRunning:
		return "RUNNING"
	case TaskStopped:
		return "STOPPED"
	}
	return "PENDING"
}

// MarshalJSON writes the name.
func (s TaskStatus) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a name written by MarshalJSON.
func (s *TaskStatus) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	for i, n := range taskStatusNames {
		if n == name {
			*s = TaskStatus(i)
			return nil
		}
	}
	*s = TaskNone
	return nil
}

// Health statuses as ECS names them.
const (
	HealthUnknown   = "UNKNOWN"
	HealthHealthy   = "HEALTHY"
	HealthUnhealthy = "UNHEALTHY"
)

// Stop codes (ECS TaskStopCode) the agent sets.
const (
	StopTaskFailedToStart          = "TaskFailedToStart"
	StopEssentialContainerExited   = "EssentialContainerExited"
	ReasonEssentialContainerExited = "Essential container in task exited"
)
