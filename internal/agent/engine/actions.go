package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/agent/config"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/runtime"
)

// Timeouts of single runtime calls made by a task goroutine. Pulls may take
// long on slow registries; the others are local engine calls.
const (
	pullTimeout    = 10 * time.Minute
	createTimeout  = 4 * time.Minute // ECS_CONTAINER_CREATE_TIMEOUT's default
	startTimeout   = 3 * time.Minute // ECS_CONTAINER_START_TIMEOUT's default
	inspectTimeout = 30 * time.Second
	// stopGrace is added to a container's stop timeout for the call itself.
	stopGrace     = 30 * time.Second
	removeTimeout = time.Minute
)

// perform runs the transitions concurrently (next only returns independent
// ones) and records their results in t. It reports whether one must be
// retried later (a stop the runtime refused).
func (r *runner) perform(ctx context.Context, t *Task, trs []Transition) (retry bool) {
	var (
		wg sync.WaitGroup
		mu sync.Mutex // guards t while the transitions run
	)
	for _, tr := range trs {
		c := t.Container(tr.Container)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !r.transition(ctx, t, c, tr.To, &mu) {
				mu.Lock()
				retry = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return retry
}

// transition moves c to status to; it returns false when the move must be
// retried.
func (r *runner) transition(ctx context.Context, t *Task, c *Container, to ContainerStatus, mu *sync.Mutex) bool {
	switch to {
	case ContainerPulled:
		r.pull(ctx, t, c, mu)
	case ContainerCreated:
		r.create(ctx, t, c, mu)
	case ContainerRunning:
		r.start(ctx, t, c, mu)
	case ContainerStopped:
		return r.stop(ctx, t, c, mu)
	}
	return true
}

// fail ends a container that could not reach its next status: reason is
// "<ErrorName>: <message>" as the ECS agent reports it.
func fail(c *Container, reason string) {
	c.Known, c.Reason = ContainerStopped, trim(reason)
	if c.FinishedAt.IsZero() {
		c.FinishedAt = time.Now()
	}
}

// trim keeps a reason within ECS's 1024 characters.
func trim(s string) string {
	if len(s) > 1024 {
		return s[:1021] + "..."
	}
	return s
}

func (r *runner) pull(ctx context.Context, t *Task, c *Container, mu *sync.Mutex) {
	image := deref(c.Def.Image)
	start := time.Now()
	err := r.fetchImage(ctx, image)
	end := time.Now()
	mu.Lock()
	defer mu.Unlock()
	c.PullStartedAt, c.PullStoppedAt = start, end
	if t.PullStartedAt.IsZero() || start.Before(t.PullStartedAt) {
		t.PullStartedAt = start
	}
	if end.After(t.PullStoppedAt) {
		t.PullStoppedAt = end
	}
	if err != nil {
		r.log.Warn("pull failed", "container", c.Name, "image", image, "err", err)
		fail(c, "CannotPullContainerError: "+err.Error())
		return
	}
	c.Known = ContainerPulled
}

// fetchImage makes image available locally as ECS_IMAGE_PULL_BEHAVIOR says.
// berth.local images are made in-process and are never pulled.
func (r *runner) fetchImage(ctx context.Context, image string) error {
	rt := r.e.cfg.Runtime
	cached := func() bool {
		ictx, cancel := context.WithTimeout(ctx, inspectTimeout)
		defer cancel()
		_, err := rt.InspectImage(ictx, image)
		return err == nil
	}
	image, fromRegistry := r.e.cfg.Env.imageRef(image)
	pullOnce := func() error {
		var auth *runtime.RegistryAuth
		if fromRegistry {
			var err error
			if auth, err = r.e.cfg.Env.Registry.Auth(ctx); err != nil {
				return fmt.Errorf("getting pull credentials for %s: %w", image, err)
			}
		}
		pctx, cancel := context.WithTimeout(ctx, pullTimeout)
		defer cancel()
		return rt.PullImage(pctx, image, auth)
	}
	pull := func() error {
		err := pullOnce()
		if fromRegistry && errors.Is(err, runtime.ErrUnauthorized) {
			// The cached token expired or the registry's key changed.
			r.e.cfg.Env.Registry.Invalidate()
			err = pullOnce()
		}
		return err
	}
	if strings.HasPrefix(image, "berth.local/") {
		if cached() {
			return nil
		}
		return fmt.Errorf("image %s is not loaded in the container runtime (berth.local images are built in-process, never pulled)", image)
	}
	switch r.e.cfg.PullBehavior {
	case config.PullOnce, config.PullPreferCached:
		if cached() {
			return nil
		}
		return pull()
	case config.PullAlways:
		return pull()
	default:
		err := pull()
		if err != nil && cached() {
			r.log.Info("pull failed; using the cached image", "image", image, "err", err)
			return nil
		}
		return err
	}
}

func (r *runner) create(ctx context.Context, t *Task, c *Container, mu *sync.Mutex) {
	mu.Lock()
	pauseID := ""
	for _, p := range t.Containers {
		if p.Pause {
			pauseID = p.RuntimeID
		}
	}
	spec, err := buildSpec(t, c, r.e.cfg.Env, pauseID)
	mu.Unlock()
	if err == nil {
		err = r.checkSharedVolumes(ctx, t, c)
	}
	if err != nil {
		mu.Lock()
		fail(c, "CannotCreateContainerError: "+err.Error())
		mu.Unlock()
		return
	}
	if cg := r.e.cfg.Env.Cgroups; cg != nil {
		if cpu, mem := t.Limits(); cpu > 0 || mem > 0 {
			// The task's limits bound its containers together.
			if parent, err := cg.Ensure(t.ID(), cpu, mem); err != nil {
				r.log.Warn("task cgroup: capping each container at the task's limits instead", "err", err)
			} else {
				spec.CgroupParent = parent
			}
		}
	}
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	id, err := r.e.cfg.Runtime.CreateContainer(cctx, spec)
	cancel()
	if errors.Is(err, runtime.ErrConflict) {
		// The name is taken: this task's container already exists (made
		// before a restart that lost the record). Adopt it, never make a
		// second one.
		mu.Lock()
		adopted := r.adopt(ctx, t, c)
		mu.Unlock()
		if adopted {
			return
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		r.log.Warn("create failed", "container", c.Name, "err", err)
		fail(c, "CannotCreateContainerError: "+errorName("create the container", err))
		return
	}
	c.RuntimeID, c.Known, c.CreatedAt = id, ContainerCreated, time.Now()
	r.e.track(r, id)
}

// checkSharedVolumes fails a container whose shared, non-autoprovisioned
// volume does not exist (ECS does not create those).
func (r *runner) checkSharedVolumes(ctx context.Context, t *Task, c *Container) error {
	for _, mp := range c.Def.MountPoints {
		for _, v := range t.Spec.Definition.Volumes {
			dv := v.DockerVolumeConfiguration
			if deref(v.Name) != deref(mp.SourceVolume) || dv == nil || dv.Scope == nil || *dv.Scope != ecsapi.ScopeShared || deref(dv.Autoprovision) {
				continue
			}
			ictx, cancel := context.WithTimeout(ctx, inspectTimeout)
			_, err := r.e.cfg.Runtime.InspectVolume(ictx, deref(v.Name))
			cancel()
			if err != nil {
				return fmt.Errorf("shared volume %s: %w (autoprovision is false, so it must exist)", deref(v.Name), err)
			}
		}
	}
	return nil
}

// adopt finds c's container by label and takes it over; it reports whether
// one was found. The caller holds the task.
func (r *runner) adopt(ctx context.Context, t *Task, c *Container) bool {
	lctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	name := c.Name
	list, err := r.e.cfg.Runtime.ListContainers(lctx, runtime.Filter{Labels: map[string]string{
		LabelAgent: r.e.cfg.Env.AgentID, LabelTaskARN: t.ARN, LabelContainerName: name}})
	if err != nil || len(list) == 0 {
		return false
	}
	c.RuntimeID = list[0].ID
	if c.Known < ContainerCreated {
		c.Known = ContainerCreated
	}
	r.e.track(r, c.RuntimeID)
	r.log.Info("adopted existing container", "container", name, "id", c.RuntimeID)
	r.refresh(ctx, t, c)
	return true
}

func (r *runner) start(ctx context.Context, t *Task, c *Container, mu *sync.Mutex) {
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	err := r.e.cfg.Runtime.StartContainer(sctx, c.RuntimeID)
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		r.log.Warn("start failed", "container", c.Name, "err", err)
		fail(c, "CannotStartContainerError: "+errorName("transition to running", err))
		return
	}
	c.Known = ContainerRunning
	if c.StartedAt.IsZero() {
		c.StartedAt = time.Now()
	}
	r.refresh(ctx, t, c)
}

// stop stops c with its stop timeout; it returns false when the runtime
// refused and the stop must be retried.
func (r *runner) stop(ctx context.Context, t *Task, c *Container, mu *sync.Mutex) bool {
	if c.Known < ContainerCreated || c.RuntimeID == "" {
		mu.Lock()
		c.Known = ContainerStopped
		mu.Unlock()
		return true
	}
	timeout := r.e.cfg.Env.StopTimeout
	if c.Def.StopTimeout != nil {
		timeout = time.Duration(*c.Def.StopTimeout) * time.Second
	}
	sctx, cancel := context.WithTimeout(ctx, timeout+stopGrace)
	err := r.e.cfg.Runtime.StopContainer(sctx, c.RuntimeID, timeout)
	cancel()
	mu.Lock()
	defer mu.Unlock()
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		r.log.Warn("stop failed; will retry", "container", c.Name, "err", err)
		return false
	}
	r.refresh(ctx, t, c)
	if c.Known != ContainerStopped {
		// Docker says it stopped; the inspect did not (yet): trust the stop.
		c.Known = ContainerStopped
		if c.FinishedAt.IsZero() {
			c.FinishedAt = time.Now()
		}
	}
	return true
}

// refresh reads c's state from the runtime; it reports whether c changed.
// The caller holds the task.
func (r *runner) refresh(ctx context.Context, t *Task, c *Container) bool {
	ictx, cancel := context.WithTimeout(ctx, inspectTimeout)
	info, err := r.e.cfg.Runtime.InspectContainer(ictx, c.RuntimeID)
	cancel()
	if errors.Is(err, runtime.ErrNotFound) {
		if c.Known == ContainerStopped {
			return false
		}
		fail(c, "ContainerVanishedError: the container was removed outside the agent")
		return true
	}
	if err != nil {
		r.log.Warn("inspect failed", "container", c.Name, "err", err)
		return false
	}
	before := *c
	c.ImageID = info.ImageID
	if !info.StartedAt.IsZero() && c.StartedAt.IsZero() {
		c.StartedAt = info.StartedAt
	}
	switch {
	case info.State == runtime.StateRunning || info.State == runtime.StatePaused || info.State == runtime.StateRestarting:
		if c.Known < ContainerRunning {
			c.Known = ContainerRunning
		}
		c.Bindings = bindings(t, info)
		if info.Health.Status != runtime.HealthNone {
			c.Health = healthName(info.Health.Status)
		}
	case info.State.Stopped() || (info.State == runtime.StateCreated && !info.FinishedAt.IsZero()):
		code := info.ExitCode
		c.Known, c.ExitCode = ContainerStopped, &code
		c.FinishedAt = info.FinishedAt
		if info.OOMKilled {
			c.Reason = "OutOfMemoryError: Container killed due to memory usage"
		} else if info.Error != "" && c.Reason == "" {
			c.Reason = trim("CannotStartContainerError: " + info.Error)
		}
		if c.StartedAt.IsZero() && info.StartedAt.IsZero() && c.Reason == "" {
			c.Reason = "CannotStartContainerError: the container never started"
		}
	case info.State == runtime.StateCreated:
		if c.Known < ContainerCreated {
			c.Known = ContainerCreated
		}
	}
	return c.Known != before.Known || c.Health != before.Health || len(c.Bindings) != len(before.Bindings) ||
		(c.ExitCode == nil) != (before.ExitCode == nil)
}

// bindings are the host ports of a container: published ports in bridge
// mode, the container ports themselves in host mode.
func bindings(t *Task, info runtime.ContainerInfo) []Binding {
	var out []Binding
	switch t.NetworkMode() {
	case "bridge":
		for _, p := range info.Ports {
			// Docker binds IPv4 and IPv6 separately; ECS reports the IPv4
			// binding (the IPv6 one has the same port).
			if p.HostPort == 0 || strings.Contains(p.HostIP, ":") {
				continue
			}
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			out = append(out, Binding{ContainerPort: int(p.ContainerPort), HostPort: int(p.HostPort), Protocol: p.Protocol, BindIP: ip})
		}
	case "host":
		for _, c := range t.Containers {
			if c.RuntimeID != info.ID {
				continue
			}
			for _, pm := range c.Def.PortMappings {
				cp := int(deref(pm.ContainerPort))
				out = append(out, Binding{ContainerPort: cp, HostPort: cp, Protocol: protocol(pm.Protocol), BindIP: "0.0.0.0"})
			}
		}
	}
	return out
}

// cleanup removes a stopped task's containers and task-scoped volumes once
// the cleanup wait passed, then forgets the task. Images stay.
func (r *runner) cleanup(ctx context.Context, t *Task) {
	rt := r.e.cfg.Runtime
	for i := len(t.Containers) - 1; i >= 0; i-- {
		c := t.Containers[i]
		if c.RuntimeID == "" {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, removeTimeout)
		err := rt.RemoveContainer(rctx, c.RuntimeID, runtime.RemoveOptions{Force: true, RemoveVolumes: true})
		cancel()
		if err != nil && !errors.Is(err, runtime.ErrNotFound) {
			r.log.Warn("removing container failed", "container", c.Name, "err", err)
		}
	}
	lctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	vols, err := rt.ListVolumes(lctx, runtime.Filter{Labels: map[string]string{LabelAgent: r.e.cfg.Env.AgentID, LabelTaskARN: t.ARN}})
	cancel()
	if err == nil {
		for _, v := range vols {
			rctx, cancel := context.WithTimeout(ctx, removeTimeout)
			if err := rt.RemoveVolume(rctx, v.Name, false); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				r.log.Warn("removing task volume failed", "volume", v.Name, "err", err)
			}
			cancel()
		}
	}
	if cg := r.e.cfg.Env.Cgroups; cg != nil {
		if err := cg.Remove(t.ID()); err != nil {
			r.log.Warn("removing the task cgroup failed", "err", err)
		}
	}
	t.Cleaned = true
	if err := r.e.forget(t); err != nil {
		r.log.Warn("forgetting task failed", "err", err)
	}
	r.e.done(r, t)
	r.log.Info("task cleaned up")
}
