package docker

import (
	"context"
	"errors"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/berth-dev/berth/internal/runtime"
)

// Timeouts of the engine calls. Each bounds one call on top of the caller's
// context, so a wedged engine fails a task step instead of hanging it. The
// values follow the ECS agent's (agent/dockerclient/dockerapi), which were
// tuned on loaded hosts where the engine serialises work per container.
const (
	// pingTimeout bounds the first contact: an engine that cannot answer a
	// ping in this long is down, and New says so instead of hanging.
	pingTimeout = 10 * time.Second
	// infoTimeout bounds Info; it walks storage and plugins, so it is slow on
	// busy hosts.
	infoTimeout = 30 * time.Second
	// inspectTimeout bounds container, image, network and volume inspects.
	inspectTimeout = 30 * time.Second
	// listTimeout bounds list calls; lists scan every object of a kind.
	listTimeout = 30 * time.Second
	// createTimeout bounds container creation, which may copy image content
	// into new volumes and prepare a rootfs (the ECS agent allows 4 minutes).
	createTimeout = 4 * time.Minute
	// startTimeout bounds start: network setup, mounts and the runtime's
	// process start (the ECS agent allows 3 minutes).
	startTimeout = 3 * time.Minute
	// stopGrace is added to a stop's own timeout: after the engine sends
	// SIGKILL it still reaps the process and tears down networking.
	stopGrace = 30 * time.Second
	// killTimeout bounds sending a signal.
	killTimeout = 30 * time.Second
	// removeTimeout bounds container removal, which deletes its rootfs; on
	// fuse-overlayfs or with big writable layers that takes a while.
	removeTimeout = 5 * time.Minute
	// pullTimeout bounds one whole image pull (ECS_IMAGE_PULL_TIMEOUT's
	// default is 2 hours for multi-gigabyte images on slow links).
	pullTimeout = 2 * time.Hour
	// loadTimeout bounds loading an image archive: Berth's own images are tens
	// of MiB and load in seconds; minutes mean the engine is stuck.
	loadTimeout = 10 * time.Minute
	// imageRemoveTimeout bounds deleting an image and its layers.
	imageRemoveTimeout = 2 * time.Minute
	// networkTimeout bounds network create, remove, connect and disconnect
	// (iptables and bridge setup).
	networkTimeout = time.Minute
	// volumeTimeout bounds volume create and remove; volume plugins may talk
	// to remote storage.
	volumeTimeout = 2 * time.Minute
)

// Runtime is the runtime.Runtime on a Docker Engine.
type Runtime struct {
	cli *client.Client
}

var _ runtime.Runtime = (*Runtime)(nil)

// New connects to the Docker Engine at host ("" means $DOCKER_HOST or the
// default socket), negotiates the API version and pings it. It fails with
// runtime.ErrUnavailable when no engine answers.
func New(ctx context.Context, host string) (*Runtime, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, runtime.Errorf(runtime.ErrInvalid, "connect to docker", host, err)
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		_ = cli.Close()
		return nil, runtime.Errorf(runtime.ErrUnavailable, "connect to docker", cli.DaemonHost(), err)
	}
	cli.NegotiateAPIVersion(pctx)
	return &Runtime{cli: cli}, nil
}

// Client is the underlying Docker client, for tests and diagnostics only:
// task code goes through the Runtime methods.
func (r *Runtime) Client() *client.Client { return r.cli }

// Close releases the connection.
func (r *Runtime) Close() error { return r.cli.Close() }

// Info describes the engine and its host.
func (r *Runtime) Info(ctx context.Context) (runtime.EngineInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	in, err := r.cli.Info(ctx)
	if err != nil {
		return runtime.EngineInfo{}, classify("engine info", "", err)
	}
	return runtime.EngineInfo{
		ID:              in.ID,
		Name:            in.Name,
		ServerVersion:   in.ServerVersion,
		APIVersion:      r.cli.ClientVersion(),
		OS:              in.OSType,
		Arch:            in.Architecture,
		KernelVersion:   in.KernelVersion,
		CPUs:            in.NCPU,
		MemoryBytes:     in.MemTotal,
		StorageDriver:   in.Driver,
		CgroupDriver:    in.CgroupDriver,
		CgroupVersion:   in.CgroupVersion,
		VolumeDrivers:   in.Plugins.Volume,
		LogDrivers:      in.Plugins.Log,
		NetworkDrivers:  in.Plugins.Network,
		DefaultRuntime:  in.DefaultRuntime,
		SecurityOptions: in.SecurityOptions,
	}, nil
}

// classify wraps a Docker error in a runtime.Error with its class.
func classify(op, object string, err error) error {
	if err == nil {
		return nil
	}
	return runtime.Errorf(classOf(err), op, object, err)
}

func classOf(err error) *runtime.Class {
	switch {
	case errors.Is(err, context.Canceled):
		return nil // the caller gave up; nothing to say about the engine
	case errors.Is(err, context.DeadlineExceeded), client.IsErrConnectionFailed(err),
		cerrdefs.IsUnavailable(err), cerrdefs.IsDeadlineExceeded(err):
		return runtime.ErrUnavailable
	case cerrdefs.IsNotFound(err):
		return runtime.ErrNotFound
	case cerrdefs.IsConflict(err), cerrdefs.IsAlreadyExists(err), cerrdefs.IsFailedPrecondition(err),
		cerrdefs.IsPermissionDenied(err):
		// Docker answers 403 when the state of an object forbids the
		// operation (a subnet overlapping another network, removing a
		// built-in network): a conflict for the caller.
		return runtime.ErrConflict
	case cerrdefs.IsInvalidArgument(err):
		return runtime.ErrInvalid
	case cerrdefs.IsUnauthorized(err):
		return runtime.ErrUnauthorized
	}
	return nil
}

// labelFilter turns a runtime.Filter into Docker's filters.
func labelFilter(f runtime.Filter) filters.Args {
	args := filters.NewArgs()
	for k, v := range f.Labels {
		if v == "" {
			args.Add("label", k)
		} else {
			args.Add("label", k+"="+v)
		}
	}
	return args
}

// parseTime reads Docker's RFC 3339 times; Docker's zero time reads as zero.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

func trimName(name string) string { return strings.TrimPrefix(name, "/") }
