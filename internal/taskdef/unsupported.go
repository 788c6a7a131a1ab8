package taskdef

import (
	"fmt"
	"slices"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// Unsupported lists what in a task definition (and its overrides) Berth
// cannot honour yet, one clear sentence each ("container app: secrets is not
// supported"); a task with any is refused, never run with the field ignored.
// RunTask and StartTask refuse it before anything is written, and the agent
// fails it before anything is created (for a task the control plane accepted
// before it knew better, or an instance whose drivers changed).
//
// logDrivers are the log drivers the instance offers; nil skips the log
// driver check (the control plane passes nil: it matches the instance's
// drivers through requiresAttributes at placement), while an empty non-nil
// list means no driver is available.
func Unsupported(def ecsapi.TaskDefinition, o *ecsapi.TaskOverride, logDrivers []string) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	mode := "bridge"
	if def.NetworkMode != nil && *def.NetworkMode != "" {
		mode = string(*def.NetworkMode)
	}
	switch mode {
	case "bridge", "host", "none", "awsvpc":
	default:
		add("network mode %q is not supported", mode)
	}
	if def.PidMode != nil && *def.PidMode != "host" {
		add("pidMode %q is not supported (only host)", *def.PidMode)
	}
	if def.IpcMode != nil && *def.IpcMode != "host" && *def.IpcMode != "none" {
		add("ipcMode %q is not supported (only host and none)", *def.IpcMode)
	}
	if def.ProxyConfiguration != nil {
		add("proxyConfiguration is not supported")
	}
	if len(def.InferenceAccelerators) > 0 {
		add("inferenceAccelerators are not supported")
	}
	if def.EphemeralStorage != nil {
		add("ephemeralStorage is not supported")
	}
	// The override, when given, is the task's value; the agent enforces it as
	// the task's cgroup limit, so one it cannot read must not be dropped.
	cpu, mem := deref(def.Cpu), deref(def.Memory)
	if o != nil && o.Cpu != nil {
		cpu = *o.Cpu
	}
	if o != nil && o.Memory != nil {
		mem = *o.Memory
	}
	if _, err := ParseCPU(cpu); err != nil {
		add("task cpu: %v", err)
	}
	if _, err := ParseMemory(mem); err != nil {
		add("task memory: %v", err)
	}
	if o != nil {
		if o.EphemeralStorage != nil {
			add("ephemeralStorage overrides are not supported")
		}
		if len(o.InferenceAcceleratorOverrides) > 0 {
			add("inferenceAcceleratorOverrides are not supported")
		}
	}
	names := map[string]bool{}
	for _, v := range def.Volumes {
		n := deref(v.Name)
		names[n] = true
		switch {
		case v.EfsVolumeConfiguration != nil:
			add("volume %s: efsVolumeConfiguration is not supported", n)
		case v.FsxWindowsFileServerVolumeConfiguration != nil:
			add("volume %s: fsxWindowsFileServerVolumeConfiguration is not supported", n)
		case v.S3filesVolumeConfiguration != nil:
			add("volume %s: s3filesVolumeConfiguration is not supported", n)
		case deref(v.ConfiguredAtLaunch):
			add("volume %s: configuredAtLaunch volumes are not supported", n)
		case v.Host != nil && v.DockerVolumeConfiguration != nil:
			add("volume %s: host and dockerVolumeConfiguration are exclusive", n)
		}
		if dv := v.DockerVolumeConfiguration; dv != nil && deref(dv.Autoprovision) && dv.Scope != nil && *dv.Scope == ecsapi.ScopeTask {
			add("volume %s: autoprovision is only valid for shared scope", n)
		}
	}
	containers := map[string]bool{}
	for _, c := range def.ContainerDefinitions {
		containers[deref(c.Name)] = true
	}
	for _, c0 := range def.ContainerDefinitions {
		c := ApplyOverride(c0, o)
		n := deref(c.Name)
		field := func(name string, set bool) {
			if set {
				add("container %s: %s is not supported", n, name)
			}
		}
		field("repositoryCredentials", c.RepositoryCredentials != nil)
		field("restartPolicy", c.RestartPolicy != nil && c.RestartPolicy.Enabled)
		field("environmentFiles", len(c.EnvironmentFiles) > 0)
		field("secrets", len(c.Secrets) > 0)
		field("firelensConfiguration", c.FirelensConfiguration != nil)
		field("resourceRequirements (GPU, InferenceAccelerator)", len(c.ResourceRequirements) > 0)
		field("credentialSpecs", len(c.CredentialSpecs) > 0)
		field("disableNetworking", deref(c.DisableNetworking))
		if lp := c.LinuxParameters; lp != nil {
			field("linuxParameters.devices", len(lp.Devices) > 0)
		}
		if lc := c.LogConfiguration; lc != nil {
			if logDrivers != nil && !slices.Contains(logDrivers, string(lc.LogDriver)) {
				add("container %s: log driver %q is not available on this instance (available: %s)", n, lc.LogDriver, strings.Join(logDrivers, ", "))
			}
			field("logConfiguration.secretOptions", len(lc.SecretOptions) > 0)
		}
		for _, pm := range c.PortMappings {
			if pm.ContainerPortRange != nil {
				add("container %s: containerPortRange is not supported", n)
			} else if pm.ContainerPort == nil {
				add("container %s: a port mapping has no containerPort", n)
			}
			if mode == "awsvpc" || mode == "host" {
				if pm.HostPort != nil && *pm.HostPort != 0 && pm.ContainerPort != nil && *pm.HostPort != *pm.ContainerPort {
					add("container %s: in %s mode hostPort must equal containerPort", n, mode)
				}
			}
		}
		if mode != "bridge" {
			field("links (bridge mode only)", len(c.Links) > 0)
		}
		if mode == "awsvpc" || mode == "host" {
			field("hostname in "+mode+" mode", c.Hostname != nil)
		}
		if mode == "awsvpc" {
			field("dnsServers in awsvpc mode", len(c.DnsServers) > 0)
			field("dnsSearchDomains in awsvpc mode", len(c.DnsSearchDomains) > 0)
			field("extraHosts in awsvpc mode", len(c.ExtraHosts) > 0)
		}
		for _, mp := range c.MountPoints {
			if !names[deref(mp.SourceVolume)] {
				add("container %s: mount point source volume %q is not a volume of the task", n, deref(mp.SourceVolume))
			}
		}
		for _, vf := range c.VolumesFrom {
			if !containers[deref(vf.SourceContainer)] {
				add("container %s: volumesFrom source container %q is not in the task", n, deref(vf.SourceContainer))
			}
		}
		for _, dep := range c.DependsOn {
			if !containers[dep.ContainerName] {
				add("container %s: dependsOn container %q is not in the task", n, dep.ContainerName)
			}
			if dep.Condition == ecsapi.ContainerConditionHealthy && findDef(def, dep.ContainerName).HealthCheck == nil {
				add("container %s: dependsOn %s HEALTHY needs a healthCheck on %s", n, dep.ContainerName, dep.ContainerName)
			}
		}
	}
	if len(def.ContainerDefinitions) > 0 && !anyEssential(def) {
		add("the task has no essential container")
	}
	if cyclic(def) {
		add("dependsOn has a cycle")
	}
	return out
}

func findDef(def ecsapi.TaskDefinition, name string) ecsapi.ContainerDefinition {
	for _, c := range def.ContainerDefinitions {
		if deref(c.Name) == name {
			return c
		}
	}
	return ecsapi.ContainerDefinition{}
}

func anyEssential(def ecsapi.TaskDefinition) bool {
	for _, c := range def.ContainerDefinitions {
		if c.Essential == nil || *c.Essential {
			return true
		}
	}
	return false
}

// cyclic reports whether the dependsOn graph has a cycle (which would leave
// the task pending forever).
func cyclic(def ecsapi.TaskDefinition) bool {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var visit func(n string) bool
	visit = func(n string) bool {
		switch color[n] {
		case grey:
			return true
		case black:
			return false
		}
		color[n] = grey
		for _, dep := range findDef(def, n).DependsOn {
			if visit(dep.ContainerName) {
				return true
			}
		}
		color[n] = black
		return false
	}
	for _, c := range def.ContainerDefinitions {
		if visit(deref(c.Name)) {
			return true
		}
	}
	return false
}
