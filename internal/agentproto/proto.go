// Package agentproto is the wire protocol of the link between an agent and
// the control plane (Berth's equivalent of ECS's ACS): JSON messages on one
// WebSocket per container instance. It holds message types only; the server
// side lives in internal/ecs, the client side in internal/agent.
//
// The link carries desired state down (the instance's task set, with a
// sequence number the agent acknowledges) and liveness both ways. Observed
// state goes up through the public agent operations SubmitTaskStateChange and
// SubmitContainerStateChange, like the real ECS agent; only what those
// operations cannot carry (container health) goes up the link.
//
// It must not import any other Berth package except the generated ECS types.
package agentproto

import (
	"encoding/json"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// Path is the HTTP path of the link on the edge listener. DiscoverPollEndpoint
// returns the endpoint URL; the agent connects to <endpoint>+Path with a
// SigV4-signed (service "ecs") GET upgrade request carrying the query
// parameters below.
const Path = "/_berth/agent/v1/link"

// Query parameters of the upgrade request.
const (
	QueryCluster           = "cluster"           // cluster name
	QueryContainerInstance = "containerInstance" // container instance ARN
	QueryAgentVersion      = "agentVersion"
	// QueryLastSeq is the last payload sequence number the agent applied, so
	// the server can tell a restarted agent from a reconnecting one.
	QueryLastSeq = "lastSeq"
)

// HeartbeatInterval is how often each side sends a heartbeat; a side that
// hears nothing for MissedHeartbeats intervals drops the connection (and the
// server marks the instance agentConnected=false).
const (
	HeartbeatInterval = 10 * time.Second
	MissedHeartbeats  = 3
)

// Message types.
const (
	TypePayload   = "payload"   // server -> agent: the desired task set
	TypeAck       = "ack"       // agent -> server: payload applied (Seq)
	TypeHeartbeat = "heartbeat" // both ways
	TypeHealth    = "health"    // agent -> server: container health changed
	TypeError     = "error"     // server -> agent: the link is refused (then closed)
)

// Envelope is every message on the link; Type says which member is set.
type Envelope struct {
	Type      string          `json:"type"`
	Payload   *Payload        `json:"payload,omitempty"`
	Ack       *Ack            `json:"ack,omitempty"`
	Heartbeat *Heartbeat      `json:"heartbeat,omitempty"`
	Health    *HealthReport   `json:"health,omitempty"`
	Error     *Error          `json:"error,omitempty"`
	Extra     json.RawMessage `json:"extra,omitempty"`
}

// EncodedEnvelope is an Envelope carrying an EncodedPayload: what the
// server sends, the same bytes on the wire as an Envelope with a Payload.
type EncodedEnvelope struct {
	Type    string          `json:"type"`
	Payload *EncodedPayload `json:"payload,omitempty"`
}

// EncodedPayload is a Payload whose tasks are already encoded (a JSON
// array of TaskSpec): the server keeps each task's encoding between
// payloads instead of encoding every task again.
type EncodedPayload struct {
	Seq                  int64           `json:"seq"`
	Tasks                json.RawMessage `json:"tasks"`
	ContainerInstanceARN string          `json:"containerInstanceArn,omitempty"`
}

// Payload is the complete desired task set of one container instance at a
// point in time: every task assigned to it whose desired status is RUNNING,
// and every task whose desired status is STOPPED but which the control plane
// has not yet seen stopped. It is level-triggered: a task missing from the
// payload that the agent still runs must be stopped.
type Payload struct {
	// Seq increases with every payload sent to this instance. A new
	// connection continues after the lastSeq the agent sent when connecting.
	Seq   int64      `json:"seq"`
	Tasks []TaskSpec `json:"tasks"`
	// ContainerInstanceARN names the instance the payload is for (added
	// after the first version; may be empty).
	ContainerInstanceARN string `json:"containerInstanceArn,omitempty"`
}

// Ack acknowledges the payload with sequence number Seq.
type Ack struct {
	Seq int64 `json:"seq"`
}

// Heartbeat carries the sender's clock (for skew diagnostics).
type Heartbeat struct {
	SentAt time.Time `json:"sentAt"`
}

// Error tells the agent why the server refuses the link (e.g. the instance
// was deregistered), so it can log an actionable message.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes the server sends before closing the link.
const (
	// ErrInstanceNotFound: the container instance is not registered (it was
	// deregistered, or the cluster is gone); the agent must register again.
	ErrInstanceNotFound = "ContainerInstanceNotFound"
	// ErrReplaced: a newer connection of the same instance took over.
	ErrReplaced = "ConnectionReplaced"
	// ErrShuttingDown: the server is stopping; reconnect (to any server).
	ErrShuttingDown = "ServerShuttingDown"
)

// AttributeAwsvpcSubnet is the custom container instance attribute in which
// an agent that supports awsvpc announces the CIDR of its task network (e.g.
// "172.30.5.0/24", gateway .1). The control plane allocates each awsvpc
// task's address from it.
const AttributeAwsvpcSubnet = "berth.awsvpc-subnet"

// TaskSpec is one task as the agent must run it.
type TaskSpec struct {
	TaskARN       string `json:"taskArn"`
	ClusterARN    string `json:"clusterArn"`
	DesiredStatus string `json:"desiredStatus"` // RUNNING or STOPPED
	// Version increases whenever the control plane changes the spec (e.g.
	// desired status), so the agent can ignore stale repeats.
	Version int64 `json:"version"`
	// Definition is the registered task definition (ARN, family, revision,
	// network mode, containers, volumes, cpu/memory, ...).
	Definition ecsapi.TaskDefinition `json:"definition"`
	// Overrides as given to RunTask/StartTask.
	Overrides *ecsapi.TaskOverride `json:"overrides,omitempty"`
	// StoppedReason explains a desired STOPPED (StopTask reason).
	StoppedReason string `json:"stoppedReason,omitempty"`
	// Network is set for awsvpc tasks: the address the control plane
	// allocated for the task's ENI-equivalent.
	Network *TaskNetwork `json:"network,omitempty"`
	// CreatedAt is when RunTask accepted the task.
	CreatedAt time.Time `json:"createdAt"`

	// The members below were added after the first version; an agent must
	// cope with them being empty.

	// ContainerARNs maps each container name of Definition to the container
	// ARN the control plane assigned (the task metadata endpoint shows it).
	ContainerARNs map[string]string `json:"containerArns,omitempty"`
	// AvailabilityZone, LaunchType ("EC2"), Group and StartedBy are as
	// DescribeTasks shows them (the task metadata endpoint shows some).
	AvailabilityZone string `json:"availabilityZone,omitempty"`
	LaunchType       string `json:"launchType,omitempty"`
	Group            string `json:"group,omitempty"`
	StartedBy        string `json:"startedBy,omitempty"`
	// CPU and Memory are the task-level limits after overrides, as strings
	// in CPU units and MiB ("" when the task has none).
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`

	// Raw is the JSON the spec was decoded from (a copy), so the agent can
	// save the spec without encoding it again. Encoding never writes it.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the spec and keeps a copy of b in Raw.
func (s *TaskSpec) UnmarshalJSON(b []byte) error {
	type plain TaskSpec // without this method
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*s = TaskSpec(p)
	s.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// TaskNetwork is an awsvpc task's attachment.
type TaskNetwork struct {
	AttachmentID string `json:"attachmentId"`
	// IPv4 is the task's private address; Subnet (CIDR) and Gateway describe
	// the Berth-managed bridge network it lives on.
	IPv4    string `json:"ipv4"`
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
	// MAC is the address the control plane chose for the interface
	// (02:42 followed by the IPv4 bytes, Docker's classic scheme); the agent
	// gives it to the task's network endpoint, so it holds on engines that
	// pick MACs otherwise.
	MAC string `json:"mac,omitempty"`
}

// HealthReport is the health of a task's containers (HEALTHY, UNHEALTHY,
// UNKNOWN) as Docker reports it.
type HealthReport struct {
	TaskARN    string            `json:"taskArn"`
	Containers map[string]string `json:"containers"`
	// Task is the task-level health derived by the agent from its essential
	// containers.
	Task string `json:"task"`
}
