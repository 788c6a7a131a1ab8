package ecs

import (
	"slices"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/lazyregexp"
)

// What registration derives from a valid definition: the stored view with
// ECS's defaults, and the container instance attributes it requires.

// Capability attribute prefixes, as the ECS agent advertises them: the
// legacy prefix for the original capabilities, the short one for the rest.
const (
	capLegacy = "com.amazonaws.ecs.capability."
	capAttr   = "ecs.capability."
)

// ecrImageRE matches images hosted in an Amazon ECR private registry.
var ecrImageRE = lazyregexp.New(`^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/`)

// result renders the validated definition the way DescribeTaskDefinition
// shows it: cpu/memory as integer strings, the effective network mode, and
// the members ECS always prints (essential, cpu 0, empty lists, port
// protocol and host port, health check timings).
func (c *taskDefCheck) result() *ecsapi.TaskDefinition {
	r := &c.req
	td := &ecsapi.TaskDefinition{
		Family:                  ptr(r.Family),
		TaskRoleArn:             r.TaskRoleArn,
		ExecutionRoleArn:        r.ExecutionRoleArn,
		RequiresAttributes:      c.requiresAttributes(),
		PlacementConstraints:    nonNil(r.PlacementConstraints),
		Compatibilities:         c.compatibilities(),
		RuntimePlatform:         r.RuntimePlatform,
		RequiresCompatibilities: c.requires,
		Cpu:                     normalisedSize(c.cpu),
		Memory:                  normalisedSize(c.mem),
		InferenceAccelerators:   r.InferenceAccelerators,
		PidMode:                 r.PidMode,
		IpcMode:                 r.IpcMode,
		ProxyConfiguration:      r.ProxyConfiguration,
		EphemeralStorage:        r.EphemeralStorage,
		EnableFaultInjection:    r.EnableFaultInjection,
	}
	if c.mode != "" {
		td.NetworkMode = ptr(c.mode)
	}
	if pc := td.ProxyConfiguration; pc != nil && pc.Type == nil {
		pc.Type = ptr(ecsapi.ProxyConfigurationTypeAppmesh)
	}
	for i := range r.ContainerDefinitions {
		c.fillContainerDefaults(&r.ContainerDefinitions[i])
	}
	td.ContainerDefinitions = r.ContainerDefinitions
	for i := range r.Volumes {
		v := &r.Volumes[i]
		if v.Host == nil && v.DockerVolumeConfiguration == nil && v.EfsVolumeConfiguration == nil &&
			v.FsxWindowsFileServerVolumeConfiguration == nil && v.S3filesVolumeConfiguration == nil && !deref(v.ConfiguredAtLaunch) {
			v.Host = &ecsapi.HostVolumeProperties{} // an empty volume is a Docker-managed bind mount
		}
		if d := v.DockerVolumeConfiguration; d != nil && d.Scope == nil {
			d.Scope = ptr(ecsapi.ScopeTask)
		}
	}
	td.Volumes = nonNil(r.Volumes)
	return td
}

// fillContainerDefaults sets what ECS reports for omitted container members.
func (c *taskDefCheck) fillContainerDefaults(cd *ecsapi.ContainerDefinition) {
	if cd.Cpu == nil {
		cd.Cpu = ptr(int32(0))
	}
	if cd.Essential == nil {
		cd.Essential = ptr(true)
	}
	sameNS := c.mode == ecsapi.NetworkModeAwsvpc || c.mode == ecsapi.NetworkModeHost
	cd.PortMappings = nonNil(cd.PortMappings)
	for j := range cd.PortMappings {
		pm := &cd.PortMappings[j]
		if pm.Protocol == nil {
			pm.Protocol = ptr(ecsapi.TransportProtocolTcp)
		}
		if pm.ContainerPortRange == nil && pm.HostPort == nil {
			if sameNS {
				pm.HostPort = ptr(*pm.ContainerPort)
			} else {
				pm.HostPort = ptr(int32(0)) // dynamic host port
			}
		}
	}
	cd.Environment = nonNil(cd.Environment)
	cd.MountPoints = nonNil(cd.MountPoints)
	cd.VolumesFrom = nonNil(cd.VolumesFrom)
	cd.SystemControls = nonNil(cd.SystemControls)
	if hc := cd.HealthCheck; hc != nil {
		if hc.Interval == nil {
			hc.Interval = ptr(int32(30))
		}
		if hc.Timeout == nil {
			hc.Timeout = ptr(int32(5))
		}
		if hc.Retries == nil {
			hc.Retries = ptr(int32(3))
		}
	}
}

// requiresAttributes lists, sorted by name, the container instance
// attributes the definition needs: the agent capability behind each feature
// used, and the Docker Remote API version the feature was added in.
func (c *taskDefCheck) requiresAttributes() []ecsapi.Attribute {
	set := map[string]bool{}
	add := func(names ...string) {
		for _, n := range names {
			set[n] = true
		}
	}
	dockerAPI := func(v string) { add(capLegacy + "docker-remote-api." + v) }
	r := &c.req
	execRole := r.ExecutionRoleArn != nil
	if r.TaskRoleArn != nil {
		add(capLegacy + "task-iam-role")
		if c.mode == ecsapi.NetworkModeHost {
			add(capLegacy + "task-iam-role-network-host")
		}
	}
	if c.mode == ecsapi.NetworkModeAwsvpc {
		add(capAttr + "task-eni")
	}
	if (c.cpu > 0 || c.mem > 0) && !c.windows {
		add(capAttr + "task-cpu-mem-limit")
	}
	if c.cpu > legacyCPULimit {
		add(capAttr + "increased-task-cpu-limit")
	}
	if r.PidMode != nil || r.IpcMode != nil {
		add(capAttr + "pid-ipc-namespace-sharing")
	}
	if r.ProxyConfiguration != nil {
		add(capAttr + "aws-appmesh")
	}
	if deref(r.EnableFaultInjection) {
		add(capAttr + "fault-injection")
	}
	for _, v := range r.Volumes {
		if d := v.DockerVolumeConfiguration; d != nil {
			dockerAPI("1.25")
			driver := deref(d.Driver)
			if driver == "" {
				driver = "local"
			}
			add(capAttr + "docker-volume-driver." + driver)
		}
		if e := v.EfsVolumeConfiguration; e != nil {
			dockerAPI("1.25")
			add(capAttr + "efs")
			if e.AuthorizationConfig != nil || (e.TransitEncryption != nil && *e.TransitEncryption == ecsapi.EFSTransitEncryptionEnabled) {
				add(capAttr + "efsAuth")
			}
		}
		if v.FsxWindowsFileServerVolumeConfiguration != nil {
			add(capAttr + "fsxWindowsFileServer")
		}
	}
	for i := range r.ContainerDefinitions {
		containerAttributes(&r.ContainerDefinitions[i], execRole, add, dockerAPI)
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]ecsapi.Attribute, len(names))
	for i, n := range names {
		out[i] = ecsapi.Attribute{Name: n}
	}
	return out
}

// containerAttributes adds the attributes one container's features need.
func containerAttributes(cd *ecsapi.ContainerDefinition, execRole bool, add func(...string), dockerAPI func(string)) {
	if ecrImageRE.MatchString(deref(cd.Image)) {
		add(capLegacy + "ecr-auth")
		if execRole {
			add(capAttr + "execution-role-ecr-pull")
		}
	}
	if cd.MemoryReservation != nil {
		dockerAPI("1.21")
	}
	if deref(cd.Privileged) {
		add(capLegacy + "privileged-container")
	}
	if len(cd.DockerLabels) > 0 || len(cd.Ulimits) > 0 {
		dockerAPI("1.18")
	}
	if lc := cd.LogConfiguration; lc != nil {
		dockerAPI("1.18")
		add(capLegacy + "logging-driver." + string(lc.LogDriver))
		if lc.LogDriver == ecsapi.LogDriverAwslogs {
			dockerAPI("1.19")
			if execRole {
				add(capAttr + "execution-role-awslogs")
			}
		}
		for _, s := range lc.SecretOptions {
			if src, ok := secretSource(s.ValueFrom); ok {
				add(capAttr + "secrets." + src + ".bootstrap.log-driver")
			}
		}
	}
	if cd.HealthCheck != nil {
		dockerAPI("1.24")
		add(capAttr + "container-health-check")
	}
	if len(cd.DependsOn) > 0 || cd.StartTimeout != nil || cd.StopTimeout != nil {
		add(capAttr + "container-ordering")
	}
	for _, s := range cd.Secrets {
		if src, ok := secretSource(s.ValueFrom); ok {
			add(capAttr + "secrets." + src + ".environment-variables")
		}
	}
	if cd.RepositoryCredentials != nil {
		add(capAttr + "private-registry-authentication.secretsmanager")
	}
	if len(cd.EnvironmentFiles) > 0 {
		add(capAttr + "env-files.s3")
	}
	if fc := cd.FirelensConfiguration; fc != nil {
		add(capAttr + "firelens." + string(fc.Type))
		switch fc.Options["config-file-type"] {
		case "file":
			add(capAttr + "firelens.options.config.file")
		case "s3":
			add(capAttr + "firelens.options.config.s3")
		}
	}
	for _, pm := range cd.PortMappings {
		if pm.ContainerPortRange != nil {
			add(capAttr + "network.container-port-range")
		}
	}
	if rp := cd.RestartPolicy; rp != nil && rp.Enabled {
		add(capAttr + "container-restart-policy")
	}
	if lp := cd.LinuxParameters; lp != nil {
		if lp.InitProcessEnabled != nil {
			dockerAPI("1.25")
		}
		if lp.SharedMemorySize != nil || len(lp.Tmpfs) > 0 {
			dockerAPI("1.22")
		}
	}
	for _, o := range cd.DockerSecurityOptions {
		switch {
		case strings.HasPrefix(o, "label:"):
			add(capLegacy + "selinux")
		case strings.HasPrefix(o, "apparmor:"):
			add(capLegacy + "apparmor")
		case strings.HasPrefix(o, "credentialspec:"):
			add(capAttr + "gmsa")
		}
	}
	for _, cs := range cd.CredentialSpecs {
		if strings.HasPrefix(cs, "credentialspecdomainless:") {
			add(capAttr + "gmsa-domainless")
		} else {
			add(capAttr + "gmsa")
		}
	}
}
