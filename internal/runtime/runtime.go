package runtime

import (
	"context"
	"io"
	"time"
)

// Runtime runs containers for the agent. Every method takes a context; an
// implementation bounds each call with its own timeout as well, so a wedged
// engine never wedges a task goroutine. Errors are *Error values with a Class.
type Runtime interface {
	// Info describes the engine and the host it runs on.
	Info(ctx context.Context) (EngineInfo, error)

	// PullImage fetches ref from its registry. It fails with ErrImageNotFound
	// when the registry lacks it, ErrUnauthorized when it refuses auth, and
	// ErrPull or ErrUnavailable otherwise. auth may be nil.
	PullImage(ctx context.Context, ref string, auth *RegistryAuth) error
	// InspectImage describes a local image; ErrImageNotFound when absent.
	InspectImage(ctx context.Context, ref string) (ImageInfo, error)
	// LoadImage loads a `docker save`-format archive (see internal/images).
	LoadImage(ctx context.Context, archive io.Reader) error
	// RemoveImage untags and deletes a local image.
	RemoveImage(ctx context.Context, ref string, force bool) error

	// CreateContainer creates (but does not start) a container and returns its
	// id. ErrImageNotFound when the image is not local (it never pulls),
	// ErrConflict when the name is taken.
	CreateContainer(ctx context.Context, spec ContainerSpec) (string, error)
	// StartContainer starts a created container; starting a running one is a
	// no-op.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends the stop signal, waits up to timeout, then SIGKILL.
	// Stopping a stopped container is a no-op. A negative timeout uses the
	// container's own stop timeout.
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	// KillContainer sends signal ("" = SIGKILL); ErrConflict when not running.
	KillContainer(ctx context.Context, id, signal string) error
	// RemoveContainer deletes a container; ErrConflict when it runs and force
	// is false. Removing a missing container returns ErrNotFound.
	RemoveContainer(ctx context.Context, id string, opts RemoveOptions) error
	// InspectContainer returns a container's spec-derived facts and state.
	InspectContainer(ctx context.Context, id string) (ContainerInfo, error)
	// ListContainers lists containers (running and stopped) that carry every
	// label in f.Labels.
	ListContainers(ctx context.Context, f Filter) ([]ContainerSummary, error)
	// WaitContainer blocks until the container is not running and returns its
	// exit status; it returns at once for a stopped container and for one
	// that was created but never started (exit code 0). Its only bound is ctx.
	WaitContainer(ctx context.Context, id string) (ExitStatus, error)
	// Events streams container lifecycle and health events for containers
	// with every label in f.Labels, from now until ctx ends. The event
	// channel is closed after an error is sent; callers re-list and
	// re-subscribe (events missed during a gap are not replayed).
	Events(ctx context.Context, f Filter) (<-chan Event, <-chan error)

	// CreateNetwork creates a bridge network; ErrConflict when the name is
	// taken or the subnet overlaps another network.
	CreateNetwork(ctx context.Context, spec NetworkSpec) (NetworkInfo, error)
	// InspectNetwork describes a network by name or id.
	InspectNetwork(ctx context.Context, nameOrID string) (NetworkInfo, error)
	// ListNetworks lists networks carrying every label in f.Labels.
	ListNetworks(ctx context.Context, f Filter) ([]NetworkInfo, error)
	// RemoveNetwork deletes a network; ErrConflict while containers use it.
	RemoveNetwork(ctx context.Context, nameOrID string) error
	// ConnectNetwork attaches a container to a network (with a fixed IP when
	// ep.IPv4Address is set).
	ConnectNetwork(ctx context.Context, network, container string, ep Endpoint) error
	// DisconnectNetwork detaches a container from a network.
	DisconnectNetwork(ctx context.Context, network, container string, force bool) error

	// CreateVolume creates a named volume. Creating an existing volume with
	// the same driver returns it (Docker's semantics: shared volumes).
	CreateVolume(ctx context.Context, spec VolumeSpec) (VolumeInfo, error)
	// InspectVolume describes a volume.
	InspectVolume(ctx context.Context, name string) (VolumeInfo, error)
	// ListVolumes lists volumes carrying every label in f.Labels.
	ListVolumes(ctx context.Context, f Filter) ([]VolumeInfo, error)
	// RemoveVolume deletes a volume; ErrConflict while a container uses it.
	RemoveVolume(ctx context.Context, name string, force bool) error

	// Close releases the connection to the engine.
	Close() error
}

// Filter selects objects by labels: an object matches when it carries every
// key with the given value; an empty value matches any value of the key.
type Filter struct {
	Labels map[string]string
}

// RemoveOptions says how to remove a container.
type RemoveOptions struct {
	Force         bool // kill it first when running
	RemoveVolumes bool // also remove its anonymous volumes
}

// RegistryAuth is a registry credential for one pull (ECR tokens, private
// registry secrets).
type RegistryAuth struct {
	Username, Password string
	ServerAddress      string
}

// EngineInfo describes the engine and its host: registered resources and
// capabilities of a container instance come from here.
type EngineInfo struct {
	ID              string
	Name            string // the host name
	ServerVersion   string // "20.10.24"
	APIVersion      string // negotiated, "1.41"
	OS, Arch        string // "linux", "amd64"/"x86_64" as the engine says
	KernelVersion   string
	CPUs            int
	MemoryBytes     int64
	StorageDriver   string
	CgroupDriver    string
	CgroupVersion   string
	VolumeDrivers   []string
	LogDrivers      []string
	NetworkDrivers  []string
	DefaultRuntime  string
	SecurityOptions []string
}

// ImageInfo describes a local image.
type ImageInfo struct {
	ID           string // "sha256:..."
	RepoTags     []string
	RepoDigests  []string
	Created      time.Time
	Size         int64
	Labels       map[string]string
	Entrypoint   []string
	Cmd          []string
	Env          []string
	ExposedPorts []string // "8080/tcp"
	User         string
	WorkingDir   string
	OS, Arch     string
}

// ExitStatus is how a container ended.
type ExitStatus struct {
	ExitCode int
	// Error is the engine's reason when the container could not run at all.
	Error string
}
