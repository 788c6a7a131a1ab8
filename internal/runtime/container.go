package runtime

import "time"

// Network modes understood by ContainerSpec.NetworkMode besides a network name
// and "container:<id>".
const (
	NetworkBridge = "bridge"
	NetworkHost   = "host"
	NetworkNone   = "none"
)

// ContainerNetwork returns the network mode that joins the network namespace
// of container id (the awsvpc pause container).
func ContainerNetwork(id string) string { return "container:" + id }

// ContainerSpec is everything needed to create one container. Zero values
// mean "engine default" unless a field says otherwise.
type ContainerSpec struct {
	Name       string
	Image      string
	Entrypoint []string // nil keeps the image's
	Command    []string // nil keeps the image's
	Env        map[string]string
	Labels     map[string]string
	User       string
	WorkingDir string
	Hostname   string

	// CPUShares is the relative CPU weight (ECS cpu units); 0 = engine default.
	CPUShares int64
	// NanoCPUs is a hard CPU limit in 1e-9 CPUs (task-level cpu on FARGATE).
	NanoCPUs int64
	// MemoryBytes is the hard limit (ECS memory), MemoryReservationBytes the
	// soft one (ECS memoryReservation).
	MemoryBytes            int64
	MemoryReservationBytes int64
	// MemorySwapBytes is memory+swap (-1 unlimited); MemorySwappiness 0..100.
	MemorySwapBytes  int64
	MemorySwappiness *int64
	CgroupParent     string
	Ulimits          []Ulimit
	ShmSizeBytes     int64

	// NetworkMode is NetworkBridge (default), NetworkHost, NetworkNone,
	// ContainerNetwork(id), or the name of a network made with CreateNetwork.
	NetworkMode string
	// IPv4Address fixes the address on a named network.
	IPv4Address string
	// MACAddress fixes the interface's MAC on a named network.
	MACAddress string
	// NetworkAliases are DNS names on a named network.
	NetworkAliases []string
	// Ports are published to the host (bridge and named networks only).
	Ports      []PortMapping
	Links      []string // "container:alias", bridge only
	ExtraHosts []HostEntry
	DNS        []string
	DNSSearch  []string
	DNSOptions []string

	Mounts      []Mount
	VolumesFrom []string // "container[:ro]"

	Init           bool
	Privileged     bool
	ReadonlyRootfs bool
	CapAdd         []string
	CapDrop        []string
	SecurityOpt    []string
	Sysctls        map[string]string
	PidMode        string // "host", "container:<id>"
	IpcMode        string // "host", "shareable", "container:<id>"
	Tty            bool
	OpenStdin      bool

	HealthCheck *HealthCheck
	// StopSignal replaces SIGTERM for stops; StopTimeout (when non-nil) is the
	// container's default wait before SIGKILL.
	StopSignal  string
	StopTimeout *time.Duration

	// LogDriver and LogOptions select the engine's log driver ("" = default).
	LogDriver  string
	LogOptions map[string]string
}

// Protocols of a PortMapping.
const (
	TCP = "tcp"
	UDP = "udp"
)

// PortMapping publishes ContainerPort on the host. HostPort 0 asks for an
// ephemeral port; the one given is in ContainerInfo.Ports after start.
type PortMapping struct {
	ContainerPort uint16
	HostPort      uint16
	Protocol      string // TCP (default) or UDP
	HostIP        string // "" = all addresses
}

// Mount types.
const (
	MountBind   = "bind"
	MountVolume = "volume"
	MountTmpfs  = "tmpfs"
)

// Mount is one filesystem mount. A bind mount's Source is a host path (created
// when missing, as ECS host volumes are); a volume mount's Source is a volume
// name (created with VolumeDriver/VolumeOptions/VolumeLabels when missing; ""
// means an anonymous volume); a tmpfs has no Source and takes Options such as
// "size=64m", "mode=1777", "noexec".
type Mount struct {
	Type     string
	Source   string
	Target   string
	ReadOnly bool
	Options  []string // tmpfs only

	VolumeDriver  string
	VolumeOptions map[string]string
	VolumeLabels  map[string]string
}

// Ulimit is one resource limit ("nofile", "nproc", ...).
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// HostEntry is an /etc/hosts line added to the container.
type HostEntry struct {
	Hostname string
	IP       string
}

// HealthCheck is a container health check. Test is ["CMD", args...] or
// ["CMD-SHELL", command] as in ECS; ["NONE"] disables the image's check.
// Zero durations and Retries use the engine defaults.
type HealthCheck struct {
	Test        []string
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// ContainerState is the engine's state of a container, in lifecycle order.
type ContainerState int

// Container states.
const (
	StateUnknown ContainerState = iota
	StateCreated
	StateRunning
	StatePaused
	StateRestarting
	StateRemoving
	StateExited
	StateDead
)

var stateNames = [...]string{"unknown", "created", "running", "paused", "restarting", "removing", "exited", "dead"}

func (s ContainerState) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return stateNames[0]
	}
	return stateNames[s]
}

// ParseContainerState maps an engine state name to a ContainerState.
func ParseContainerState(s string) ContainerState {
	for i, n := range stateNames {
		if n == s {
			return ContainerState(i)
		}
	}
	return StateUnknown
}

// Stopped reports whether the container has ended (or never ran and ended).
func (s ContainerState) Stopped() bool { return s == StateExited || s == StateDead }

// HealthStatus is a container's health check result.
type HealthStatus int

// Health statuses. HealthNone means the container has no health check.
const (
	HealthNone HealthStatus = iota
	HealthStarting
	HealthHealthy
	HealthUnhealthy
)

var healthNames = [...]string{"none", "starting", "healthy", "unhealthy"}

func (h HealthStatus) String() string {
	if h < 0 || int(h) >= len(healthNames) {
		return healthNames[0]
	}
	return healthNames[h]
}

// ParseHealthStatus maps an engine health name to a HealthStatus.
func ParseHealthStatus(s string) HealthStatus {
	for i, n := range healthNames {
		if n == s {
			return HealthStatus(i)
		}
	}
	return HealthNone
}

// ContainerInfo is a container's state as the engine reports it.
type ContainerInfo struct {
	ID          string
	Name        string // without the leading "/"
	Image       string // as given at create
	ImageID     string
	Labels      map[string]string
	State       ContainerState
	Pid         int
	ExitCode    int
	OOMKilled   bool
	Error       string // why it could not start, when it could not
	CreatedAt   time.Time
	StartedAt   time.Time // zero until started
	FinishedAt  time.Time // zero until stopped
	Health      Health
	Restarts    int
	Tty         bool // output is one raw stream, not stdout and stderr
	NetworkMode string
	Ports       []PortBinding
	Networks    []NetworkAttachment
	Mounts      []MountPoint
}

// Health is the health check state of a container.
type Health struct {
	Status        HealthStatus
	FailingStreak int
	// LastOutput and LastExitCode are from the most recent check.
	LastOutput   string
	LastExitCode int
	LastCheckAt  time.Time
}

// PortBinding is a published port as bound on the host.
type PortBinding struct {
	ContainerPort uint16
	Protocol      string
	HostIP        string
	HostPort      uint16
}

// NetworkAttachment is a container's endpoint on one network.
type NetworkAttachment struct {
	Network     string // network name
	NetworkID   string
	IPv4Address string
	PrefixLen   int
	Gateway     string
	MACAddress  string
	Aliases     []string
}

// MountPoint is a mount as the engine made it.
type MountPoint struct {
	Type        string
	Name        string // volume name
	Source      string // host path
	Destination string
	ReadOnly    bool
}

// ContainerSummary is a line of ListContainers.
type ContainerSummary struct {
	ID      string
	Name    string
	Image   string
	Labels  map[string]string
	State   ContainerState
	Created time.Time
}

// EventType is a container lifecycle event.
type EventType int

// Event types, named after what happened to the container.
const (
	EventOther EventType = iota
	EventCreated
	EventStarted
	EventDied // ExitCode is set
	EventOOM
	EventKilled // Signal is set
	EventStopped
	EventHealth // Health is set
	EventDestroyed
	EventPaused
	EventUnpaused
)

var eventNames = [...]string{"other", "create", "start", "die", "oom", "kill", "stop", "health_status", "destroy", "pause", "unpause"}

func (e EventType) String() string {
	if e < 0 || int(e) >= len(eventNames) {
		return eventNames[0]
	}
	return eventNames[e]
}

// Event is something that happened to a container.
type Event struct {
	Type        EventType
	ContainerID string
	Name        string
	Image       string
	Labels      map[string]string
	Time        time.Time
	ExitCode    int          // EventDied
	Signal      string       // EventKilled
	Health      HealthStatus // EventHealth
	// Action is the engine's own name for the event ("exec_start: ...").
	Action string
}
