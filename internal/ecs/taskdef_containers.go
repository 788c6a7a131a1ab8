package ecs

import (
	"slices"
	"strconv"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/lazyregexp"
)

// Container-level checks of RegisterTaskDefinition (see taskdef_validate.go).

const (
	maxPortRangesPerContainer = 100
	maxEnvFilesPerContainer   = 10
	maxIgnoredExitCodes       = 50
)

var (
	// portNameRE: Service Connect port names, lowercase, not starting with '-'.
	portNameRE  = lazyregexp.New(`^[a-z0-9_][a-z0-9_-]{0,63}$`)
	portRangeRE = lazyregexp.New(`^(\d{1,5})-(\d{1,5})$`)
	// ssmNameRE: an SSM parameter name, optionally a /path/name hierarchy.
	ssmNameRE = lazyregexp.New(`^/?[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$`)
	// asmNameRE: a Secrets Manager secret name.
	asmNameRE = lazyregexp.New(`^[A-Za-z0-9/_+=.@-]+$`)
)

// hostSpan is a range of host ports one container holds for a protocol.
type hostSpan struct {
	lo, hi    int
	proto     ecsapi.TransportProtocol
	container string
}

// checkContainers checks every container definition, then the task-wide
// sums, the essential rule, FireLens wiring and the execution role that
// secrets need.
func (c *taskDefCheck) checkContainers() error {
	var (
		sumCPU, sumMem int64
		essentials     int
		firelens       string
		firelensUser   string
		usesSecrets    bool
		hosts          []hostSpan
	)
	for i := range c.req.ContainerDefinitions {
		cd := &c.req.ContainerDefinitions[i]
		name := *cd.Name
		checks := []func(*ecsapi.ContainerDefinition) error{
			c.checkContainerResources, c.checkContainerNetwork, checkHealthCheck,
			c.checkLogConfiguration, checkContainerMisc, c.checkLinuxParameters,
		}
		for _, check := range checks {
			if err := check(cd); err != nil {
				return err
			}
		}
		spans, err := c.checkPortMappings(cd)
		if err != nil {
			return err
		}
		for _, s := range spans {
			for _, h := range hosts {
				if h.proto == s.proto && s.lo <= h.hi && h.lo <= s.hi {
					return clientErr("Host port %d/%s is mapped by both container '%s' and container '%s'.", max(s.lo, h.lo), s.proto, h.container, name)
				}
			}
		}
		hosts = append(hosts, spans...)
		for _, s := range cd.Secrets {
			if s.Name == "" {
				return clientErr("Invalid secret for container '%s': the secret name should not be empty.", name)
			}
			if _, ok := secretSource(s.ValueFrom); !ok {
				return clientErr("Invalid secret %q for container '%s': valueFrom %q is not an SSM parameter name or ARN or a Secrets Manager secret ARN.", s.Name, name, s.ValueFrom)
			}
			usesSecrets = true
		}
		if lc := cd.LogConfiguration; lc != nil {
			usesSecrets = usesSecrets || len(lc.SecretOptions) > 0
			if lc.LogDriver == ecsapi.LogDriverAwsfirelens && firelensUser == "" {
				firelensUser = name
			}
		}
		if cd.FirelensConfiguration != nil {
			if firelens != "" {
				return clientErr("Only one container in a task definition can have a firelensConfiguration; containers '%s' and '%s' both do.", firelens, name)
			}
			firelens = name
		}
		sumCPU += int64(deref(cd.Cpu))
		if cd.MemoryReservation != nil {
			sumMem += int64(*cd.MemoryReservation)
		} else {
			sumMem += int64(deref(cd.Memory))
		}
		if essential(cd) {
			essentials++
		}
	}
	switch {
	case c.cpu > 0 && sumCPU > int64(c.cpu):
		return clientErr("Invalid 'cpu' setting for task: the container cpu values add up to %d units, more than the task cpu of %d units.", sumCPU, c.cpu)
	case c.mem > 0 && sumMem > int64(c.mem):
		return clientErr("Invalid 'memory' setting for task: the containers reserve %d MiB in total, more than the task memory of %d MiB.", sumMem, c.mem)
	case essentials == 0:
		return clientErr("Task definition must have at least one essential container.")
	case firelensUser != "" && firelens == "":
		return clientErr("Container '%s' uses the awsfirelens log driver, but no container in the task definition has a firelensConfiguration.", firelensUser)
	case usesSecrets && c.req.ExecutionRoleArn == nil:
		return clientErr("When you are specifying container secrets, you must also specify a value for 'executionRoleArn'.")
	}
	return nil
}

// checkContainerResources checks container cpu and memory against each other
// and against the task level.
func (c *taskDefCheck) checkContainerResources(cd *ecsapi.ContainerDefinition) error {
	name := *cd.Name
	m, mr := cd.Memory, cd.MemoryReservation
	switch {
	case cd.Cpu != nil && (*cd.Cpu < 0 || *cd.Cpu > maxTaskCPU):
		return clientErr("Invalid 'cpu' setting for container '%s': %d is outside 0-%d.", name, *cd.Cpu, maxTaskCPU)
	case m != nil && *m < minMemoryMiB:
		return clientErr("Invalid 'memory' setting for container '%s': the minimum is %d MiB, %d was given.", name, minMemoryMiB, *m)
	case mr != nil && *mr < minMemoryMiB:
		return clientErr("Invalid 'memoryReservation' setting for container '%s': the minimum is %d MiB, %d was given.", name, minMemoryMiB, *mr)
	case m != nil && mr != nil && *m <= *mr:
		return clientErr("Invalid 'memory' setting for container '%s': memory (%d MiB) must be greater than memoryReservation (%d MiB).", name, *m, *mr)
	case c.mem == 0 && m == nil && mr == nil:
		return clientErr("Invalid setting for container '%s'. At least one of 'memory' or 'memoryReservation' must be specified.", name)
	case c.mem > 0 && m != nil && int(*m) > c.mem:
		return clientErr("Invalid 'memory' setting for container '%s': %d MiB is more than the task memory of %d MiB.", name, *m, c.mem)
	}
	return nil
}

// checkContainerNetwork applies the network mode's container rules.
func (c *taskDefCheck) checkContainerNetwork(cd *ecsapi.ContainerDefinition) error {
	name := *cd.Name
	if len(cd.Links) > 0 && c.mode != ecsapi.NetworkModeBridge {
		return clientErr("Links are not supported when networkMode=%s (container '%s'): links need the bridge network mode.", c.modeName(), name)
	}
	for _, l := range cd.Links {
		target, alias, hasAlias := strings.Cut(l, ":")
		switch {
		case target == name:
			return clientErr("Container '%s' cannot link to itself.", name)
		case c.byName[target] == nil:
			return clientErr("Container '%s' links to container '%s', which does not exist in the task definition.", name, target)
		case hasAlias && !taskDefNameRE.MatchString(alias):
			return clientErr("Invalid link %q for container '%s': the alias may have up to 255 letters, numbers, underscores, and hyphens.", l, name)
		}
	}
	if c.mode == ecsapi.NetworkModeAwsvpc {
		if cd.Hostname != nil {
			return clientErr("hostname is not supported on container when networkMode=awsvpc.")
		}
		if len(cd.ExtraHosts) > 0 {
			return clientErr("extraHosts is not supported on container when networkMode=awsvpc.")
		}
	}
	return nil
}

func (c *taskDefCheck) modeName() string {
	if c.mode == "" {
		return "default"
	}
	return string(c.mode)
}

// checkPortMappings checks one container's port mappings and returns the
// static host ports it holds (for the task-wide duplicate check).
func (c *taskDefCheck) checkPortMappings(cd *ecsapi.ContainerDefinition) ([]hostSpan, error) {
	name := *cd.Name
	if len(cd.PortMappings) > 0 && c.mode == ecsapi.NetworkModeNone {
		return nil, clientErr("Port mappings are not supported when networkMode=none (container '%s').", name)
	}
	sameNS := c.mode == ecsapi.NetworkModeAwsvpc || c.mode == ecsapi.NetworkModeHost
	var own, hosts []hostSpan
	ranges := 0
	for j := range cd.PortMappings {
		pm := &cd.PortMappings[j]
		proto := ecsapi.TransportProtocolTcp
		if pm.Protocol != nil {
			if !slices.Contains(pm.Protocol.Values(), *pm.Protocol) {
				return nil, clientErr("Invalid protocol %q in a port mapping of container '%s': valid values are tcp and udp.", *pm.Protocol, name)
			}
			proto = *pm.Protocol
		}
		if pm.AppProtocol != nil && !slices.Contains(pm.AppProtocol.Values(), *pm.AppProtocol) {
			return nil, clientErr("Invalid appProtocol %q in a port mapping of container '%s': valid values are http, http2 and grpc.", *pm.AppProtocol, name)
		}
		if pm.Name != nil {
			if !portNameRE.MatchString(*pm.Name) {
				return nil, clientErr("Invalid port mapping name %q for container '%s': up to 64 lowercase letters, numbers, underscores and hyphens, not starting with a hyphen.", *pm.Name, name)
			}
			if other, dup := c.portNames[*pm.Name]; dup {
				return nil, clientErr("Duplicate port mapping name %q (containers '%s' and '%s'): port mapping names must be unique within a task definition.", *pm.Name, other, name)
			}
			c.portNames[*pm.Name] = name
		}
		var lo, hi int
		if pm.ContainerPortRange != nil {
			if c.mode != ecsapi.NetworkModeBridge && c.mode != ecsapi.NetworkModeAwsvpc {
				return nil, clientErr("Invalid 'containerPortRange' setting for container '%s': port ranges need the bridge or awsvpc network mode.", name)
			}
			if pm.ContainerPort != nil || pm.HostPort != nil {
				return nil, clientErr("Invalid port mapping for container '%s': containerPortRange cannot be combined with containerPort or hostPort.", name)
			}
			var ok bool
			if lo, hi, ok = parsePortRange(*pm.ContainerPortRange); !ok {
				return nil, clientErr("Invalid 'containerPortRange' setting %q for container '%s': use first-last with 1 <= first < last <= 65535.", *pm.ContainerPortRange, name)
			}
			if ranges++; ranges > maxPortRangesPerContainer {
				return nil, clientErr("Container '%s' has more than %d port ranges.", name, maxPortRangesPerContainer)
			}
		} else {
			cp := pm.ContainerPort
			if cp == nil || *cp < 1 || *cp > 65535 {
				return nil, clientErr("Invalid 'containerPort' setting for container '%s'.", name)
			}
			lo, hi = int(*cp), int(*cp)
			if hp := pm.HostPort; hp != nil {
				if *hp < 0 || *hp > 65535 {
					return nil, clientErr("Invalid 'hostPort' setting for container '%s'.", name)
				}
				if sameNS && *hp != *cp {
					return nil, clientErr("When networkMode=%s, the host ports and container ports in port mappings must match.", c.mode)
				}
				if !sameNS && *hp > 0 {
					hosts = append(hosts, hostSpan{int(*hp), int(*hp), proto, name})
				}
			}
		}
		for _, s := range own {
			if s.proto == proto && lo <= s.hi && s.lo <= hi {
				return nil, clientErr("Container '%s' maps port %d/%s more than once: a port can be included in only one port mapping per container.", name, max(lo, s.lo), proto)
			}
		}
		own = append(own, hostSpan{lo, hi, proto, name})
	}
	if sameNS {
		return own, nil // the container's ports are the task's (or host's) ports
	}
	for i, h := range hosts {
		for _, g := range hosts[:i] {
			if g.proto == h.proto && g.lo == h.lo {
				return nil, clientErr("Container '%s' maps host port %d/%s more than once.", name, h.lo, h.proto)
			}
		}
	}
	return hosts, nil
}

// parsePortRange reads "first-last".
func parsePortRange(s string) (int, int, bool) {
	m := portRangeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	lo, _ := strconv.Atoi(m[1])
	hi, _ := strconv.Atoi(m[2])
	return lo, hi, lo >= 1 && lo < hi && hi <= 65535
}

// checkHealthCheck applies ECS's health check command and bounds.
func checkHealthCheck(cd *ecsapi.ContainerDefinition) error {
	hc := cd.HealthCheck
	if hc == nil {
		return nil
	}
	name := *cd.Name
	if len(hc.Command) == 0 {
		return clientErr("Invalid healthCheck for container '%s': command should not be empty.", name)
	}
	switch hc.Command[0] {
	case "CMD", "CMD-SHELL":
		if strings.TrimSpace(strings.Join(hc.Command[1:], "")) == "" {
			return clientErr("Invalid healthCheck for container '%s': %s needs a command to run.", name, hc.Command[0])
		}
	case "NONE":
	default:
		return clientErr("Invalid healthCheck for container '%s': the command must start with CMD, CMD-SHELL or NONE, not %q.", name, hc.Command[0])
	}
	for _, b := range []struct {
		member  string
		v       *int32
		min, mx int32
	}{
		{"interval", hc.Interval, 5, 300},
		{"timeout", hc.Timeout, 2, 60},
		{"retries", hc.Retries, 1, 10},
		{"startPeriod", hc.StartPeriod, 0, 300},
	} {
		if b.v != nil && (*b.v < b.min || *b.v > b.mx) {
			return clientErr("Invalid healthCheck %s %d for container '%s': the value must be between %d and %d.", b.member, *b.v, name, b.min, b.mx)
		}
	}
	return nil
}

// checkLogConfiguration checks the log driver and the options ECS and the
// drivers require.
func (c *taskDefCheck) checkLogConfiguration(cd *ecsapi.ContainerDefinition) error {
	lc := cd.LogConfiguration
	if lc == nil {
		return nil
	}
	name := *cd.Name
	if !slices.Contains(lc.LogDriver.Values(), lc.LogDriver) {
		return clientErr("Invalid logDriver %q for container '%s'.", lc.LogDriver, name)
	}
	if lc.LogDriver == ecsapi.LogDriverAwslogs {
		o := lc.Options
		if strings.TrimSpace(o["awslogs-group"]) == "" {
			return clientErr("The awslogs log driver requires the 'awslogs-group' option (container '%s').", name)
		}
		if v, ok := o["awslogs-create-group"]; ok && v != "true" && v != "false" {
			return clientErr("Invalid awslogs-create-group %q for container '%s': use true or false.", v, name)
		}
		if v, ok := o["mode"]; ok && v != "blocking" && v != "non-blocking" {
			return clientErr("Invalid log mode %q for container '%s': use blocking or non-blocking.", v, name)
		}
		if o["awslogs-datetime-format"] != "" && o["awslogs-multiline-pattern"] != "" {
			return clientErr("awslogs-datetime-format and awslogs-multiline-pattern cannot both be set (container '%s').", name)
		}
	}
	for _, s := range lc.SecretOptions {
		if s.Name == "" {
			return clientErr("Invalid log secretOption for container '%s': the name should not be empty.", name)
		}
		if _, ok := secretSource(s.ValueFrom); !ok {
			return clientErr("Invalid log secretOption %q for container '%s': valueFrom %q is not an SSM parameter name or ARN or a Secrets Manager secret ARN.", s.Name, name, s.ValueFrom)
		}
	}
	if fc := cd.FirelensConfiguration; fc != nil && !slices.Contains(fc.Type.Values(), fc.Type) {
		return clientErr("Invalid firelensConfiguration type %q for container '%s': valid values are fluentd and fluentbit.", fc.Type, name)
	}
	return nil
}

// secretSource tells where a secret's valueFrom points: "ssm" (a parameter
// name or ARN) or "asm" (a Secrets Manager ARN, optionally followed by
// :json-key:version-stage:version-id, stage and id being exclusive).
func secretSource(v string) (string, bool) {
	if !strings.HasPrefix(v, "arn:") {
		return "ssm", len(v) <= 2048 && ssmNameRE.MatchString(v)
	}
	f := strings.SplitN(v, ":", 6)
	if len(f) != 6 || !strings.HasPrefix(f[1], "aws") || f[3] == "" || f[4] == "" {
		return "", false
	}
	switch f[2] {
	case "ssm":
		name, ok := strings.CutPrefix(f[5], "parameter")
		return "ssm", ok && ssmNameRE.MatchString(name) && strings.HasPrefix(name, "/")
	case "secretsmanager":
		rest, ok := strings.CutPrefix(f[5], "secret:")
		if !ok {
			return "", false
		}
		p := strings.Split(rest, ":")
		if !asmNameRE.MatchString(p[0]) || (len(p) != 1 && len(p) != 4) {
			return "", false
		}
		if len(p) == 4 && p[2] != "" && p[3] != "" {
			return "", false // version stage and version id are exclusive
		}
		return "asm", true
	}
	return "", false
}

// checkContainerMisc checks the remaining container members.
func checkContainerMisc(cd *ecsapi.ContainerDefinition) error {
	name := *cd.Name
	if n := len(cd.EnvironmentFiles); n > maxEnvFilesPerContainer {
		return clientErr("Container '%s' has %d environmentFiles; at most %d are allowed.", name, n, maxEnvFilesPerContainer)
	}
	for _, ef := range cd.EnvironmentFiles {
		if ef.Type != ecsapi.EnvironmentFileTypeS3 {
			return clientErr("Invalid environmentFile type %q for container '%s': the only valid value is s3.", ef.Type, name)
		}
		if !validS3ObjectARN(ef.Value) {
			return clientErr("Invalid arn syntax: environmentFile %q of container '%s' is not an S3 object ARN.", ef.Value, name)
		}
		if !strings.HasSuffix(ef.Value, ".env") {
			return clientErr("Invalid environmentFile %q for container '%s': the file must have a .env extension.", ef.Value, name)
		}
	}
	if rc := cd.RepositoryCredentials; rc != nil {
		p := rc.CredentialsParameter
		ok := asmNameRE.MatchString(p)
		if strings.HasPrefix(p, "arn:") {
			src, valid := secretSource(p)
			ok = valid && src == "asm"
		}
		if !ok {
			return clientErr("Invalid repositoryCredentials for container '%s': credentialsParameter %q is not a Secrets Manager secret ARN or name.", name, p)
		}
	}
	seen := map[ecsapi.UlimitName]bool{}
	for _, u := range cd.Ulimits {
		switch {
		case !slices.Contains(u.Name.Values(), u.Name):
			return clientErr("Invalid ulimit name %q for container '%s'.", u.Name, name)
		case seen[u.Name]:
			return clientErr("Duplicate ulimit %q for container '%s'.", u.Name, name)
		case u.HardLimit >= 0 && u.SoftLimit > u.HardLimit:
			return clientErr("Invalid ulimit %q for container '%s': softLimit %d is more than hardLimit %d.", u.Name, name, u.SoftLimit, u.HardLimit)
		}
		seen[u.Name] = true
	}
	if rp := cd.RestartPolicy; rp != nil {
		if len(rp.IgnoredExitCodes) > maxIgnoredExitCodes {
			return clientErr("Invalid restartPolicy for container '%s': at most %d ignoredExitCodes are allowed.", name, maxIgnoredExitCodes)
		}
		if p := rp.RestartAttemptPeriod; p != nil && (*p < 60 || *p > 1800) {
			return clientErr("Invalid restartPolicy for container '%s': restartAttemptPeriod must be between 60 and 1800 seconds.", name)
		}
	}
	if t := cd.StartTimeout; t != nil && *t < 0 {
		return clientErr("Invalid startTimeout %d for container '%s'.", *t, name)
	}
	if t := cd.StopTimeout; t != nil && *t < 0 {
		return clientErr("Invalid stopTimeout %d for container '%s'.", *t, name)
	}
	counted := map[ecsapi.ResourceType]bool{}
	for _, rr := range cd.ResourceRequirements {
		if !slices.Contains(rr.Type.Values(), rr.Type) {
			return clientErr("Invalid resourceRequirements type %q for container '%s'.", rr.Type, name)
		}
		if counted[rr.Type] {
			return clientErr("Container '%s' lists the %s resource requirement more than once.", name, rr.Type)
		}
		counted[rr.Type] = true
		if rr.Type != ecsapi.ResourceTypeInferenceAccelerator {
			if n, err := strconv.Atoi(rr.Value); err != nil || n < 1 {
				return clientErr("Invalid %s resource requirement %q for container '%s': the value must be a positive integer.", rr.Type, rr.Value, name)
			}
		}
	}
	for _, sc := range cd.SystemControls {
		if strings.TrimSpace(deref(sc.Namespace)) == "" {
			return clientErr("Invalid systemControls for container '%s': namespace should not be empty.", name)
		}
	}
	return nil
}

// validS3ObjectARN reports whether v is arn:<partition>:s3:::<bucket>/<key>.
func validS3ObjectARN(v string) bool {
	rest, ok := strings.CutPrefix(v, "arn:")
	if !ok {
		return false
	}
	partition, rest, _ := strings.Cut(rest, ":")
	rest, ok = strings.CutPrefix(rest, "s3:::")
	bucket, key, _ := strings.Cut(rest, "/")
	return ok && strings.HasPrefix(partition, "aws") && bucket != "" && key != ""
}

// checkLinuxParameters checks Linux-only settings.
func (c *taskDefCheck) checkLinuxParameters(cd *ecsapi.ContainerDefinition) error {
	name := *cd.Name
	if c.windows {
		switch {
		case cd.LinuxParameters != nil:
			return clientErr("linuxParameters is not supported for Windows containers (container '%s').", name)
		case deref(cd.Privileged):
			return clientErr("Privileged containers are not supported for Windows containers (container '%s').", name)
		}
	}
	lp := cd.LinuxParameters
	if lp == nil {
		return nil
	}
	switch {
	case lp.SharedMemorySize != nil && *lp.SharedMemorySize < 1:
		return clientErr("Invalid linuxParameters.sharedMemorySize %d for container '%s'.", *lp.SharedMemorySize, name)
	case lp.MaxSwap != nil && *lp.MaxSwap < 0:
		return clientErr("Invalid linuxParameters.maxSwap %d for container '%s': use 0 or a positive number of MiB.", *lp.MaxSwap, name)
	case lp.Swappiness != nil && (*lp.Swappiness < 0 || *lp.Swappiness > 100):
		return clientErr("Invalid linuxParameters.swappiness %d for container '%s': the value must be between 0 and 100.", *lp.Swappiness, name)
	}
	for _, t := range lp.Tmpfs {
		if t.ContainerPath == "" || t.Size < 1 {
			return clientErr("Invalid tmpfs mount for container '%s': containerPath and a positive size are required.", name)
		}
	}
	for _, d := range lp.Devices {
		if d.HostPath == "" {
			return clientErr("Invalid device for container '%s': hostPath should not be empty.", name)
		}
	}
	return nil
}

// checkVolumes checks the task's volumes and then every mount point and
// volumesFrom reference.
func (c *taskDefCheck) checkVolumes() error {
	for i := range c.req.Volumes {
		v := &c.req.Volumes[i]
		name := deref(v.Name)
		switch {
		case name == "":
			return clientErr("Volume name should not be null or empty.")
		case !taskDefNameRE.MatchString(name):
			return clientErr("Invalid volume name %q: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.", name)
		case c.volumes[name] != nil:
			return clientErr("Duplicate volume name %q: volume names must be unique within a task definition.", name)
		}
		c.volumes[name] = v
		kinds := 0
		for _, set := range []bool{v.Host != nil, v.DockerVolumeConfiguration != nil, v.EfsVolumeConfiguration != nil,
			v.FsxWindowsFileServerVolumeConfiguration != nil, v.S3filesVolumeConfiguration != nil, deref(v.ConfiguredAtLaunch)} {
			if set {
				kinds++
			}
		}
		if kinds > 1 {
			return clientErr("Volume '%s' can have only one of host, dockerVolumeConfiguration, efsVolumeConfiguration, fsxWindowsFileServerVolumeConfiguration, s3filesVolumeConfiguration and configuredAtLaunch.", name)
		}
		if err := checkVolumeConfig(name, v); err != nil {
			return err
		}
	}
	for i := range c.req.ContainerDefinitions {
		cd := &c.req.ContainerDefinitions[i]
		name := *cd.Name
		paths := map[string]bool{}
		for _, mp := range cd.MountPoints {
			src, path := deref(mp.SourceVolume), deref(mp.ContainerPath)
			switch {
			case src == "":
				return clientErr("Invalid mount point for container '%s': sourceVolume should not be empty.", name)
			case c.volumes[src] == nil:
				return clientErr("Invalid mount point for container '%s': volume '%s' is not defined in the task definition.", name, src)
			case strings.TrimSpace(path) == "":
				return clientErr("Invalid mount point for container '%s': containerPath should not be empty.", name)
			case paths[path]:
				return clientErr("Invalid mount points for container '%s': %s is mounted more than once.", name, path)
			}
			paths[path] = true
		}
		for _, vf := range cd.VolumesFrom {
			src := deref(vf.SourceContainer)
			switch {
			case src == name:
				return clientErr("Container '%s' cannot mount volumes from itself.", name)
			case c.byName[src] == nil:
				return clientErr("Container '%s' has volumesFrom container '%s', which does not exist in the task definition.", name, src)
			}
		}
	}
	return nil
}

// checkVolumeConfig applies the rules of Docker and EFS volume settings.
func checkVolumeConfig(name string, v *ecsapi.Volume) error {
	if d := v.DockerVolumeConfiguration; d != nil {
		if d.Scope != nil && !slices.Contains(d.Scope.Values(), *d.Scope) {
			return clientErr("Invalid scope %q for volume '%s': valid values are task and shared.", *d.Scope, name)
		}
		if deref(d.Autoprovision) && (d.Scope == nil || *d.Scope != ecsapi.ScopeShared) {
			return clientErr("Invalid volume '%s': autoprovision can be set only when the scope is shared.", name)
		}
	}
	if e := v.EfsVolumeConfiguration; e != nil {
		enc := e.TransitEncryption != nil && *e.TransitEncryption == ecsapi.EFSTransitEncryptionEnabled
		switch {
		case e.FileSystemId == "":
			return clientErr("Invalid volume '%s': efsVolumeConfiguration.fileSystemId should not be empty.", name)
		case e.TransitEncryption != nil && !slices.Contains(e.TransitEncryption.Values(), *e.TransitEncryption):
			return clientErr("Invalid transitEncryption %q for volume '%s': use ENABLED or DISABLED.", *e.TransitEncryption, name)
		case e.TransitEncryptionPort != nil && (*e.TransitEncryptionPort < 1 || *e.TransitEncryptionPort > 65535):
			return clientErr("Invalid transitEncryptionPort %d for volume '%s'.", *e.TransitEncryptionPort, name)
		case e.RootDirectory != nil && len(*e.RootDirectory) > 255:
			return clientErr("Invalid rootDirectory for volume '%s': at most 255 characters are allowed.", name)
		}
		if a := e.AuthorizationConfig; a != nil {
			if a.Iam != nil && !slices.Contains(a.Iam.Values(), *a.Iam) {
				return clientErr("Invalid authorizationConfig.iam %q for volume '%s': use ENABLED or DISABLED.", *a.Iam, name)
			}
			if a.AccessPointId != nil {
				if e.RootDirectory != nil && *e.RootDirectory != "/" {
					return clientErr("Invalid volume '%s': when an access point is used, rootDirectory must be omitted or set to /.", name)
				}
				if !enc {
					return clientErr("Invalid volume '%s': transitEncryption must be ENABLED when an access point is used.", name)
				}
			}
			if a.Iam != nil && *a.Iam == ecsapi.EFSAuthorizationConfigIAMEnabled && !enc {
				return clientErr("Invalid volume '%s': transitEncryption must be ENABLED when IAM authorization is used.", name)
			}
		}
	}
	return nil
}
