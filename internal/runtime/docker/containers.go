package docker

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/versions"

	"github.com/berth-dev/berth/internal/runtime"
)

// CreateContainer creates a container from spec. It never pulls: a missing
// image is runtime.ErrImageNotFound, and the task engine decides what to pull.
func (r *Runtime) CreateContainer(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	ds, err := toDocker(spec)
	if err != nil {
		return "", runtime.Errorf(runtime.ErrInvalid, "create container", spec.Name, err)
	}
	if ds.net != nil && versions.LessThan(r.cli.ClientVersion(), "1.44") {
		// An endpoint's own MAC needs API 1.44; before, the container's
		// config carries it (toDocker sets both).
		for _, ep := range ds.net.EndpointsConfig {
			ep.MacAddress = ""
		}
	}
	ctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	resp, err := r.cli.ContainerCreate(ctx, ds.config, ds.host, ds.net, nil, spec.Name)
	if err == nil {
		return resp.ID, nil
	}
	class := classOf(err)
	if class == runtime.ErrNotFound {
		// A 404 on create is about the image or about a network; only an
		// image inspect tells which.
		if _, ierr := r.InspectImage(ctx, spec.Image); errors.Is(ierr, runtime.ErrImageNotFound) {
			class = runtime.ErrImageNotFound
		}
	}
	return "", runtime.Errorf(class, "create container", spec.Name, err)
}

// StartContainer starts a created container.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return classify("start container", id, r.cli.ContainerStart(ctx, id, container.StartOptions{}))
}

// StopContainer stops a container: stop signal, timeout, SIGKILL.
func (r *Runtime) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	var opts container.StopOptions
	callTimeout := stopGrace
	if timeout >= 0 {
		secs := int(math.Ceil(timeout.Seconds()))
		opts.Timeout = &secs
		callTimeout += time.Duration(secs) * time.Second
	} else {
		// The container's own stop timeout applies, which this call does
		// not know: allow the longest one ECS accepts (Fargate's 120 s)
		// with room to spare.
		callTimeout += 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return classify("stop container", id, r.cli.ContainerStop(ctx, id, opts))
}

// KillContainer sends a signal.
func (r *Runtime) KillContainer(ctx context.Context, id, signal string) error {
	if signal == "" {
		signal = "KILL"
	}
	ctx, cancel := context.WithTimeout(ctx, killTimeout)
	defer cancel()
	return classify("kill container", id, r.cli.ContainerKill(ctx, id, signal))
}

// RemoveContainer deletes a container.
func (r *Runtime) RemoveContainer(ctx context.Context, id string, opts runtime.RemoveOptions) error {
	ctx, cancel := context.WithTimeout(ctx, removeTimeout)
	defer cancel()
	return classify("remove container", id, r.cli.ContainerRemove(ctx, id, container.RemoveOptions{
		Force: opts.Force, RemoveVolumes: opts.RemoveVolumes,
	}))
}

// InspectContainer describes a container.
func (r *Runtime) InspectContainer(ctx context.Context, id string) (runtime.ContainerInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	in, err := r.cli.ContainerInspect(ctx, id)
	if err != nil {
		return runtime.ContainerInfo{}, classify("inspect container", id, err)
	}
	return fromInspect(in), nil
}

// ListContainers lists containers, stopped ones included, oldest first.
func (r *Runtime) ListContainers(ctx context.Context, f runtime.Filter) ([]runtime.ContainerSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	list, err := r.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilter(f)})
	if err != nil {
		return nil, classify("list containers", "", err)
	}
	// Docker lists newest first, ordered by its nanosecond creation times
	// (Created here has whole seconds only): reversing gives oldest first.
	out := make([]runtime.ContainerSummary, 0, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		c := list[i]
		s := runtime.ContainerSummary{
			ID: c.ID, Image: c.Image, Labels: c.Labels,
			State: runtime.ParseContainerState(string(c.State)), Created: time.Unix(c.Created, 0),
		}
		if len(c.Names) > 0 {
			s.Name = trimName(c.Names[0])
		}
		out = append(out, s)
	}
	return out, nil
}

// WaitContainer waits until the container is not running. Its only bound is
// ctx: a task may run for months.
func (r *Runtime) WaitContainer(ctx context.Context, id string) (runtime.ExitStatus, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	respc, errc := r.cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case resp := <-respc:
		st := runtime.ExitStatus{ExitCode: int(resp.StatusCode)}
		if resp.Error != nil {
			st.Error = resp.Error.Message
		}
		return st, nil
	case err := <-errc:
		return runtime.ExitStatus{}, classify("wait container", id, err)
	}
}
