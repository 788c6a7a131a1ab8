package engine

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/taskdef"
)

// PauseImage is the awsvpc pause container's image (made by internal/images).
const PauseImage = "berth.local/pause:latest"

// Labels on every container, network and volume the agent makes. The
// com.amazonaws.ecs.* ones are the ECS agent's; LabelAgent scopes everything
// to one agent so several agents can share a Docker engine.
const (
	LabelAgent         = "berth.agent"
	LabelInstance      = "berth.container-instance"
	LabelCluster       = "com.amazonaws.ecs.cluster"
	LabelContainerName = "com.amazonaws.ecs.container-name"
	LabelTaskARN       = "com.amazonaws.ecs.task-arn"
	LabelFamily        = "com.amazonaws.ecs.task-definition-family"
	LabelRevision      = "com.amazonaws.ecs.task-definition-version"
)

// Health check defaults of ECS (seconds).
const (
	defaultHealthInterval = 30
	defaultHealthTimeout  = 5
	defaultHealthRetries  = 3
)

// Env is what building a container spec needs from the agent.
type Env struct {
	AgentID     string
	InstanceARN string
	Region      string
	StopTimeout time.Duration
	// MetadataURL is the base URL of the metadata endpoint as seen from a
	// container in the given network mode (".../v4" is appended).
	MetadataURL func(networkMode string) string
	// Network is the agent's bridge network for awsvpc tasks.
	Network string
	// Registry, when set, serves ECR-form image references from Berth's
	// registry (pull credentials and the local reference).
	Registry Registry
	// Cgroups, when set, makes a cgroup per task with task-level limits
	// (cgroup.go); otherwise each container is capped at them.
	Cgroups *Cgroups
}

// Registry maps image references to Berth's registry and signs pulls from
// it. The agent implements it with internal/registry/ecrauth.
type Registry interface {
	// Resolve maps an ECR-form reference to the registry's own; ok is false
	// for images the registry does not serve.
	Resolve(image string) (ref string, ok bool)
	// Auth returns pull credentials, cached; Invalidate drops them after the
	// registry refused them.
	Auth(ctx context.Context) (*runtime.RegistryAuth, error)
	Invalidate()
}

// imageRef is the reference the runtime uses for a task definition's image.
func (env Env) imageRef(image string) (string, bool) {
	if env.Registry == nil {
		return image, false
	}
	return env.Registry.Resolve(image)
}

// dockerSafe drops the characters Docker refuses in container and volume
// names (it allows [a-zA-Z0-9_.-]).
func dockerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return -1
	}, s)
}

// containerName is the deterministic Docker name of a task's container: the
// engine refuses a second container of that name, so a task is never started
// twice, whatever the agent forgot.
func containerName(t *Task, c *Container) string {
	n := c.Name
	if c.Pause {
		n = "internalecspause"
	}
	return dockerSafe(fmt.Sprintf("ecs-%s-%d-%s-%s", t.Family(), t.Revision(), n, t.ID()))
}

// volumeName is the Docker volume of a task-scoped volume.
func volumeName(t *Task, vol string) string {
	return dockerSafe(fmt.Sprintf("ecs-%s-%d-%s-%s", t.Family(), t.Revision(), vol, t.ID()))
}

// taskLabels are the labels identifying t's objects.
func taskLabels(t *Task, env Env) map[string]string {
	return map[string]string{
		LabelAgent: env.AgentID, LabelInstance: env.InstanceARN, LabelCluster: t.Spec.ClusterARN,
		LabelTaskARN: t.ARN, LabelFamily: t.Family(), LabelRevision: strconv.Itoa(t.Revision()),
	}
}

// buildSpec translates container c of t into a runtime spec. pauseID is the
// awsvpc pause container's id; volumes maps task volume names to the mount
// to use. It is pure.
func buildSpec(t *Task, c *Container, env Env, pauseID string) (runtime.ContainerSpec, error) {
	d := c.Def
	labels := maps.Clone(d.DockerLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, taskLabels(t, env))
	labels[LabelContainerName] = c.Name
	spec := runtime.ContainerSpec{
		Name: containerName(t, c), Image: imageRefOnly(env, deref(d.Image)), Labels: labels,
		Entrypoint: d.EntryPoint, Command: d.Command,
		User: deref(d.User), WorkingDir: deref(d.WorkingDirectory), Hostname: deref(d.Hostname),
		Privileged: deref(d.Privileged), ReadonlyRootfs: deref(d.ReadonlyRootFilesystem),
		DNS: d.DnsServers, DNSSearch: d.DnsSearchDomains, SecurityOpt: d.DockerSecurityOptions,
		Tty: deref(d.PseudoTerminal), OpenStdin: deref(d.Interactive),
	}
	stop := env.StopTimeout
	if d.StopTimeout != nil {
		stop = time.Duration(*d.StopTimeout) * time.Second
	}
	spec.StopTimeout = &stop
	mode := t.NetworkMode()
	if c.Pause {
		spec.NetworkMode = env.Network
		if t.Spec.Network != nil {
			spec.IPv4Address = t.Spec.Network.IPv4
			spec.MACAddress = t.Spec.Network.MAC
		}
		spec.Labels[LabelContainerName] = PauseName
		return spec, nil
	}

	// Environment: the definition's, then what the agent injects.
	spec.Env = map[string]string{}
	for _, kv := range d.Environment {
		spec.Env[deref(kv.Name)] = deref(kv.Value)
	}
	// A container in network mode none has only a loopback interface: no
	// address of the endpoint is reachable from it, so, as the ECS agent does
	// not offer the endpoint to such tasks, it gets no URI rather than a
	// dead one.
	if env.MetadataURL != nil && mode != "none" {
		spec.Env["ECS_CONTAINER_METADATA_URI_V4"] = env.MetadataURL(mode) + "/v4/" + c.MetadataToken
	}
	if env.Region != "" {
		spec.Env["AWS_DEFAULT_REGION"] = env.Region
		spec.Env["AWS_REGION"] = env.Region
	}
	spec.Env["AWS_EXECUTION_ENV"] = "AWS_ECS_EC2"

	// Resources. ECS gives a container without cpu the minimum weight.
	spec.CPUShares = max(int64(deref(d.Cpu)), 2)
	taskCPU, taskMem := t.Limits()
	if taskCPU > 0 {
		// Task-level cpu caps the task; each container is held under it.
		spec.NanoCPUs = int64(taskCPU) * 1e9 / 1024
	}
	if d.Memory != nil {
		spec.MemoryBytes = int64(*d.Memory) << 20
	} else if taskMem > 0 {
		spec.MemoryBytes = int64(taskMem) << 20
	}
	if d.MemoryReservation != nil {
		spec.MemoryReservationBytes = int64(*d.MemoryReservation) << 20
	}
	for _, u := range d.Ulimits {
		spec.Ulimits = append(spec.Ulimits, runtime.Ulimit{Name: string(u.Name), Soft: int64(u.SoftLimit), Hard: int64(u.HardLimit)})
	}
	if lp := d.LinuxParameters; lp != nil {
		spec.Init = deref(lp.InitProcessEnabled)
		if lp.Capabilities != nil {
			spec.CapAdd, spec.CapDrop = lp.Capabilities.Add, lp.Capabilities.Drop
		}
		if lp.SharedMemorySize != nil {
			spec.ShmSizeBytes = int64(*lp.SharedMemorySize) << 20
		}
		for _, tf := range lp.Tmpfs {
			opts := append([]string{fmt.Sprintf("size=%dm", tf.Size)}, tf.MountOptions...)
			spec.Mounts = append(spec.Mounts, runtime.Mount{Type: runtime.MountTmpfs, Target: tf.ContainerPath, Options: opts})
		}
		if lp.MaxSwap != nil {
			if spec.MemoryBytes == 0 {
				return spec, fmt.Errorf("linuxParameters.maxSwap needs a memory limit")
			}
			spec.MemorySwapBytes = spec.MemoryBytes + int64(*lp.MaxSwap)<<20
		}
		if lp.Swappiness != nil {
			s := int64(*lp.Swappiness)
			spec.MemorySwappiness = &s
		}
	}
	if len(d.SystemControls) > 0 {
		spec.Sysctls = map[string]string{}
		for _, sc := range d.SystemControls {
			spec.Sysctls[deref(sc.Namespace)] = deref(sc.Value)
		}
	}
	if pm := t.Spec.Definition.PidMode; pm != nil {
		spec.PidMode = string(*pm)
	}
	if im := t.Spec.Definition.IpcMode; im != nil {
		spec.IpcMode = string(*im)
	}
	if lc := d.LogConfiguration; lc != nil {
		spec.LogDriver, spec.LogOptions = string(lc.LogDriver), lc.Options
	}
	if hc := d.HealthCheck; hc != nil {
		spec.HealthCheck = &runtime.HealthCheck{
			Test:        hc.Command,
			Interval:    seconds(hc.Interval, defaultHealthInterval),
			Timeout:     seconds(hc.Timeout, defaultHealthTimeout),
			Retries:     int(orDefault(hc.Retries, defaultHealthRetries)),
			StartPeriod: seconds(hc.StartPeriod, 0),
		}
	}
	for _, h := range d.ExtraHosts {
		spec.ExtraHosts = append(spec.ExtraHosts, runtime.HostEntry{Hostname: h.Hostname, IP: h.IpAddress})
	}

	// Network.
	switch mode {
	case "host":
		spec.NetworkMode = runtime.NetworkHost
	case "none":
		spec.NetworkMode = runtime.NetworkNone
	case "awsvpc":
		spec.NetworkMode = runtime.ContainerNetwork(pauseID)
	default:
		spec.NetworkMode = runtime.NetworkBridge
		for _, l := range d.Links {
			name, alias, _ := cutAlias(l)
			if o := t.Container(name); o != nil {
				spec.Links = append(spec.Links, containerName(t, o)+":"+alias)
			}
		}
		for _, pm := range d.PortMappings {
			// IPv4 only: Docker allocates ephemeral IPv4 and IPv6 ports
			// separately, so with both a host port can lead to one task on
			// IPv4 and to another on IPv6 (and its userland proxy).
			spec.Ports = append(spec.Ports, runtime.PortMapping{
				ContainerPort: uint16(deref(pm.ContainerPort)), HostPort: uint16(deref(pm.HostPort)),
				Protocol: protocol(pm.Protocol), HostIP: "0.0.0.0",
			})
		}
	}

	// Volumes.
	for _, mp := range d.MountPoints {
		m, err := mountFor(t, deref(mp.SourceVolume), env)
		if err != nil {
			return spec, err
		}
		m.Target, m.ReadOnly = deref(mp.ContainerPath), deref(mp.ReadOnly)
		spec.Mounts = append(spec.Mounts, m)
	}
	for _, vf := range d.VolumesFrom {
		src := t.Container(deref(vf.SourceContainer))
		if src == nil {
			return spec, fmt.Errorf("volumesFrom: no container %s", deref(vf.SourceContainer))
		}
		ref := containerName(t, src)
		if deref(vf.ReadOnly) {
			ref += ":ro"
		}
		spec.VolumesFrom = append(spec.VolumesFrom, ref)
	}
	return spec, nil
}

// mountFor is the mount of task volume name: a bind mount for host.sourcePath,
// a task-scoped Docker volume for an empty host volume or a task-scoped
// dockerVolumeConfiguration, the named volume itself for a shared one.
func mountFor(t *Task, name string, env Env) (runtime.Mount, error) {
	for _, v := range t.Spec.Definition.Volumes {
		if deref(v.Name) != name {
			continue
		}
		if v.Host != nil && deref(v.Host.SourcePath) != "" {
			return runtime.Mount{Type: runtime.MountBind, Source: *v.Host.SourcePath}, nil
		}
		m := runtime.Mount{Type: runtime.MountVolume, Source: volumeName(t, name), VolumeLabels: taskLabels(t, env)}
		if dv := v.DockerVolumeConfiguration; dv != nil {
			m.VolumeDriver, m.VolumeOptions = deref(dv.Driver), dv.DriverOpts
			maps.Copy(m.VolumeLabels, dv.Labels)
			if dv.Scope != nil && *dv.Scope == ecsapi.ScopeShared {
				m.Source, m.VolumeLabels = name, dv.Labels
			}
		}
		return m, nil
	}
	return runtime.Mount{}, fmt.Errorf("mount point source volume %q is not a volume of the task", name)
}

func protocol(p *ecsapi.TransportProtocol) string {
	if p != nil && *p == ecsapi.TransportProtocolUdp {
		return runtime.UDP
	}
	return runtime.TCP
}

func seconds(v *int32, def int32) time.Duration {
	return time.Duration(orDefault(v, def)) * time.Second
}

func orDefault(v *int32, def int32) int32 {
	if v == nil {
		return def
	}
	return *v
}

// Limits are the task-level cpu (units) and memory (MiB) limits: the
// control plane's values after overrides, else the task definition's.
func (t *Task) Limits() (cpu, memMiB int) {
	cs, ms := t.Spec.CPU, t.Spec.Memory
	if cs == "" {
		cs = deref(t.Spec.Definition.Cpu)
	}
	if ms == "" {
		ms = deref(t.Spec.Definition.Memory)
	}
	// Unsupported refused the task if either is unreadable, so an error
	// here cannot drop a limit of a running task.
	cpu, _ = taskdef.ParseCPU(cs)
	memMiB, _ = taskdef.ParseMemory(ms)
	return cpu, memMiB
}

func imageRefOnly(env Env, image string) string {
	ref, _ := env.imageRef(image)
	return ref
}
