// Package plan is the pure part of the service controller: Reconcile takes a
// service's spec, the controller's last status, the service's tasks and the
// cluster's instances, and returns which tasks to start and stop and the next
// status. It reads no clock and makes no ids: the caller passes Now, and ids
// are derived from it. The ECS server stores Status as the service's status
// record (written by the controller only).
package plan

import "time"

// Scheduling strategies.
const (
	Replica = "REPLICA"
	Daemon  = "DAEMON"
)

// Deployment statuses and rollout states as ECS names them.
const (
	Primary  = "PRIMARY"
	Active   = "ACTIVE"
	Inactive = "INACTIVE"

	InProgress = "IN_PROGRESS"
	Completed  = "COMPLETED"
	Failed     = "FAILED"
)

// Task statuses the planner distinguishes.
const (
	TaskRunning = "RUNNING"
	TaskStopped = "STOPPED"
)

// StopCodeScheduler is the stop code of tasks the service scheduler stops.
const StopCodeScheduler = "ServiceSchedulerInitiated"

// Service is what the API wrote: the desired state.
type Service struct {
	Cluster, Name string
	Strategy      string // REPLICA or DAEMON
	Status        string // ACTIVE or DRAINING (DeleteService)
	DesiredCount  int
	// DeploymentID and TaskDefinition are the deployment the API last
	// asked for (CreateService, UpdateService with a new configuration or
	// forceNewDeployment); CreatedAt is when.
	DeploymentID        string
	TaskDefinition      string
	DeploymentCreatedAt time.Time
	MinHealthyPercent   int
	MaxPercent          int
	// StopDeploymentID and StopType are a StopServiceDeployment request
	// (ROLLBACK or ABORT) for that deployment.
	StopDeploymentID string
	StopType         string
	CircuitBreaker   bool
	Rollback         bool
	GracePeriod      time.Duration
	// PlacementStrategies are the service's placementStrategy entries, in
	// order; a REPLICA service without any uses DefaultStrategies. Scale-in
	// reads them to choose which tasks to stop.
	PlacementStrategies []PlacementStrategy
}

// PlacementStrategy is one placementStrategy entry: Type binpack (Field cpu
// or memory), spread (Field instanceId, host or attribute:<name>) or random
// (no Field).
type PlacementStrategy struct {
	Type, Field string
}

// DefaultStrategies is what ECS uses for a REPLICA service without placement
// strategies: spread across Availability Zones, then across instances. The
// ECS server places with the same default.
var DefaultStrategies = []PlacementStrategy{
	{Type: "spread", Field: "attribute:ecs.availability-zone"},
	{Type: "spread", Field: "instanceId"},
}

// Task is one task of the service (group service:<name>).
type Task struct {
	ID           string
	DeploymentID string // startedBy
	InstanceID   string
	LastStatus   string // PROVISIONING, PENDING, ACTIVATING, RUNNING, STOPPED
	// DesiredStopped is set once anyone asked the task to stop.
	DesiredStopped bool
	StopCode       string
	StopReason     string
	// HasHealthCheck: an essential container has a health check; Health is
	// the task's health status (HEALTHY, UNHEALTHY, UNKNOWN).
	HasHealthCheck bool
	Health         string
	CreatedAt      time.Time
	StartedAt      time.Time // zero until RUNNING
	// ProtectedUntil is when the task's scale-in protection
	// (UpdateTaskProtection) expires; zero when it is not protected. Until
	// then neither scale-in nor a deployment stops the task.
	ProtectedUntil time.Time
	StoppedAt      time.Time
	// CPU and Memory are what the task reserves on its instance (binpack
	// scale-in: what stopping it frees).
	CPU, Memory int64
}

// Instance is one container instance of the cluster.
type Instance struct {
	ID        string
	Status    string // ACTIVE, DRAINING, ...
	Connected bool
	// Attributes are the instance's attributes (ecs.availability-zone,
	// custom ones; "" for a name-only one), read by spread strategies. The
	// planner only reads the map, so callers may share it.
	Attributes map[string]string
	// RemainingCPU and RemainingMemory are registered minus what its
	// non-stopped tasks reserve, read by binpack strategies.
	RemainingCPU, RemainingMemory int64
}

// Deployment is one entry of service.deployments[], as the controller keeps it.
type Deployment struct {
	ID                 string    `json:"id"`
	Status             string    `json:"status"`
	TaskDefinition     string    `json:"taskDefinition"`
	DesiredCount       int       `json:"desiredCount"`
	RunningCount       int       `json:"runningCount"`
	PendingCount       int       `json:"pendingCount"`
	FailedTasks        int       `json:"failedTasks"`
	CreatedAt          time.Time `json:"createdAt"`
	UpdatedAt          time.Time `json:"updatedAt"`
	RolloutState       string    `json:"rolloutState"`
	RolloutStateReason string    `json:"rolloutStateReason,omitempty"`
	// LastHealthyAt is the last pass that saw a healthy task of this
	// deployment: failures before it no longer count (consecutive failures).
	LastHealthyAt time.Time `json:"lastHealthyAt,omitzero"`
	// RollbackOf is the API deployment whose failure this one rolls back.
	RollbackOf string `json:"rollbackOf,omitempty"`
	// FinishedAt is when it completed, failed or was replaced.
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// Event is one service event.
type Event struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	Message   string    `json:"message"`
}

// Status is the controller's record of a service: deployments (PRIMARY
// first, INACTIVE ones dropped), counts, events (newest first) and what the
// next passes need.
type Status struct {
	Deployments  []Deployment `json:"deployments"`
	RunningCount int          `json:"runningCount"`
	PendingCount int          `json:"pendingCount"`
	Events       []Event      `json:"events,omitempty"`
	// History holds the deployments that left deployments[] (newest
	// first, at most MaxHistory) for ListServiceDeployments.
	History []Deployment `json:"history,omitempty"`
	// LastCompleted is the last deployment that reached COMPLETED: the
	// circuit breaker's rollback target.
	LastCompleted *Deployment `json:"lastCompleted,omitempty"`
	// Steady is set once the steady-state event was emitted for the
	// current state; any change clears it.
	Steady bool `json:"steady,omitempty"`
	// Inactive: a DRAINING service whose tasks have all stopped.
	Inactive bool `json:"inactive,omitempty"`
	// NotBefore delays launches (the throttle for tasks that keep failing
	// to start).
	NotBefore time.Time `json:"notBefore,omitzero"`
}

// Input is everything Reconcile reads.
type Input struct {
	Now       time.Time
	Service   Service
	Status    Status
	Tasks     []Task
	Instances []Instance
}

// Start asks for Count new tasks of a deployment (on Instance when set:
// DAEMON services).
type Start struct {
	DeploymentID   string
	TaskDefinition string
	Count          int
	Instance       string
}

// Stop asks to stop a task.
type Stop struct {
	TaskID string
	Reason string
}

// Plan is what Reconcile decided.
type Plan struct {
	Start  []Start
	Stop   []Stop
	Status Status
	// Wait is how long until a pass would decide something else with no
	// change of state (grace periods, throttle); 0 means no timer needed.
	Wait time.Duration
}

// MaxHistory is how many finished deployments a service keeps.
const MaxHistory = 20

// MaxEvents is how many events a service keeps (ECS returns the latest 100).
const MaxEvents = 100

// Stop reasons.
const (
	ReasonScaleIn   = "Scaling activity initiated by (deployment %s)"
	ReasonUnhealthy = "Task failed container health checks"
	ReasonDraining  = "Container instance is draining"
	ReasonDaemon    = "Service scheduler stopped a daemon task that is no longer needed"
)
