package ecs

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/internal/taskdef"
)

// RegisterTaskDefinition validation beyond the model. validateTaskDefinition
// is a pure function of the request: it decides, in the order ECS reports
// them, whether the definition is acceptable, and computes everything
// registration derives from it (normalised cpu/memory, defaults, network
// mode, compatibilities, requiresAttributes). The handler adds identity
// (ARN, revision, status, times). Refusals are ClientException, as ECS
// answers for task definition content; ECS's own wording is kept where it is
// known ("Fargate only supports network mode 'awsvpc'.", "No Fargate
// configuration exists for given values: ...").

const (
	// maxTaskDefBytes is ECS's task definition size quota (64 KiB; docs
	// before 2023 said 32 KiB), measured on the request JSON without tags.
	maxTaskDefBytes         = 64 << 10
	maxContainersPerTaskDef = 10
	maxTaskDefConstraints   = 10
	// Task cpu range for EC2/EXTERNAL (128 units = 0.125 vCPU to 192 vCPU).
	minTaskCPU = 128
	maxTaskCPU = 196608
	// minMemoryMiB: Docker 20.10+ reserves 6 MiB per container, so ECS asks
	// for at least that much.
	minMemoryMiB = 6
	// maxMemoryMiB bounds parsed memory so sums stay far from overflow.
	maxMemoryMiB = 1 << 30
	// legacyCPULimit is the old 10 vCPU task limit; above it a container
	// instance must advertise increased-task-cpu-limit.
	legacyCPULimit = 10240
)

// taskDefNameRE is the family and container name rule.
var taskDefNameRE = lazyregexp.New(`^[A-Za-z0-9_-]{1,255}$`)

// taskDefCheck is one registration being validated: a private copy of the
// request plus what validation has learned so far.
type taskDefCheck struct {
	req      ecsapi.RegisterTaskDefinitionRequest
	mode     ecsapi.NetworkMode // effective; "" for Windows' default (nat) mode
	cpu, mem int                // task level; 0 when unset
	windows  bool
	byName   map[string]*ecsapi.ContainerDefinition
	volumes  map[string]*ecsapi.Volume
	requires []ecsapi.Compatibility
	// portNames maps each port mapping name to the container declaring it.
	portNames map[string]string
}

// validateTaskDefinition checks a registration and returns the task
// definition ECS would store, without identity fields. It never modifies in.
func validateTaskDefinition(in *ecsapi.RegisterTaskDefinitionRequest) (*ecsapi.TaskDefinition, error) {
	c, err := newTaskDefCheck(in)
	if err != nil {
		return nil, err
	}
	steps := []func() error{
		c.checkContainerIdentity,
		c.checkTaskLevel,
		c.checkRequiredCompatibilities,
		c.checkContainers,
		c.checkVolumes,
		c.checkDependencies,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return c.result(), nil
}

// newTaskDefCheck deep-copies the request (so defaults can be filled in
// place) and applies the checks that need no parsing.
func newTaskDefCheck(in *ecsapi.RegisterTaskDefinitionRequest) (*taskDefCheck, error) {
	if !taskDefNameRE.MatchString(in.Family) {
		return nil, clientErr("Family contains invalid characters or is too long: %q. Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.", in.Family)
	}
	switch n := len(in.ContainerDefinitions); {
	case n == 0:
		return nil, clientErr("Container list cannot be empty.")
	case n > maxContainersPerTaskDef:
		return nil, clientErr("Too many containers: a task definition can have at most %d container definitions, %d were given.", maxContainersPerTaskDef, n)
	}
	untagged := *in
	untagged.Tags = nil
	raw, err := json.Marshal(&untagged)
	if err != nil {
		return nil, clientErr("The task definition cannot be encoded: %v.", err)
	}
	if len(raw) > maxTaskDefBytes {
		return nil, clientErr("The task definition is %d bytes; the maximum size is %d bytes.", len(raw), maxTaskDefBytes)
	}
	c := &taskDefCheck{
		byName: map[string]*ecsapi.ContainerDefinition{}, volumes: map[string]*ecsapi.Volume{},
		portNames: map[string]string{},
	}
	if err := json.Unmarshal(raw, &c.req); err != nil {
		return nil, clientErr("The task definition cannot be decoded: %v.", err)
	}
	return c, nil
}

// checkContainerIdentity checks names and images, which every later check
// relies on to name containers.
func (c *taskDefCheck) checkContainerIdentity() error {
	for i := range c.req.ContainerDefinitions {
		cd := &c.req.ContainerDefinitions[i]
		name := deref(cd.Name)
		switch {
		case name == "":
			return clientErr("Container.name should not be null or empty.")
		case !taskDefNameRE.MatchString(name):
			return clientErr("Container name %q is invalid: up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed.", name)
		case c.byName[name] != nil:
			return clientErr("Duplicate container name %q: container names must be unique within a task definition.", name)
		}
		c.byName[name] = cd
		img := deref(cd.Image)
		if strings.TrimSpace(img) == "" {
			return clientErr("Container.image should not be null or empty.")
		}
		if strings.ContainsAny(img, " \t\r\n") || len(img) > 255 {
			return clientErr("Invalid image %q for container '%s': up to 255 characters without whitespace are allowed.", img, name)
		}
	}
	return nil
}

// checkTaskLevel checks the members outside containerDefinitions.
func (c *taskDefCheck) checkTaskLevel() error {
	r := &c.req
	if rp := r.RuntimePlatform; rp != nil {
		if f := rp.OperatingSystemFamily; f != nil {
			if !slices.Contains(f.Values(), *f) {
				return clientErr("Invalid operatingSystemFamily %q.", *f)
			}
			c.windows = strings.HasPrefix(string(*f), "WINDOWS")
		}
		if a := rp.CpuArchitecture; a != nil {
			if !slices.Contains(a.Values(), *a) {
				return clientErr("Invalid cpuArchitecture %q.", *a)
			}
			if c.windows && *a == ecsapi.CPUArchitectureArm64 {
				return clientErr("Windows containers support only the X86_64 cpuArchitecture.")
			}
		}
	}
	switch {
	case r.NetworkMode != nil:
		if !slices.Contains(r.NetworkMode.Values(), *r.NetworkMode) {
			return clientErr("Invalid networkMode %q: valid values are bridge, host, awsvpc and none.", *r.NetworkMode)
		}
		c.mode = *r.NetworkMode
	case !c.windows:
		c.mode = ecsapi.NetworkModeBridge
	}
	for _, rc := range r.RequiresCompatibilities {
		if !slices.Contains(rc.Values(), rc) {
			return clientErr("Invalid requiresCompatibilities value %q: valid values are EC2, FARGATE, EXTERNAL and MANAGED_INSTANCES.", rc)
		}
		if !slices.Contains(c.requires, rc) {
			c.requires = append(c.requires, rc)
		}
	}
	var err error
	if r.Cpu != nil {
		if c.cpu, err = parseTaskDefCPU(*r.Cpu); err != nil {
			return err
		}
	}
	if r.Memory != nil {
		if c.mem, err = parseTaskDefMemory(*r.Memory); err != nil {
			return err
		}
	}
	if r.PidMode != nil && !slices.Contains(r.PidMode.Values(), *r.PidMode) {
		return clientErr("Invalid pidMode %q: valid values are host and task.", *r.PidMode)
	}
	if r.IpcMode != nil && !slices.Contains(r.IpcMode.Values(), *r.IpcMode) {
		return clientErr("Invalid ipcMode %q: valid values are host, task and none.", *r.IpcMode)
	}
	if c.windows && (r.PidMode != nil || r.IpcMode != nil) {
		return clientErr("pidMode and ipcMode are not supported for Windows containers.")
	}
	if es := r.EphemeralStorage; es != nil && (es.SizeInGiB < 21 || es.SizeInGiB > 200) {
		return clientErr("Invalid ephemeralStorage sizeInGiB %d: the value must be between 21 and 200 GiB.", es.SizeInGiB)
	}
	if err := checkRoleARN("taskRoleArn", r.TaskRoleArn); err != nil {
		return err
	}
	if err := checkRoleARN("executionRoleArn", r.ExecutionRoleArn); err != nil {
		return err
	}
	if n := len(r.PlacementConstraints); n > maxTaskDefConstraints {
		return clientErr("Too many placement constraints: a task definition can have at most %d, %d were given.", maxTaskDefConstraints, n)
	}
	for _, pc := range r.PlacementConstraints {
		if pc.Type == nil || *pc.Type != ecsapi.TaskDefinitionPlacementConstraintTypeMemberOf {
			return clientErr("Invalid placement constraint type %q: task definitions support only memberOf constraints.", deref(pc.Type))
		}
		if strings.TrimSpace(deref(pc.Expression)) == "" {
			return clientErr("A memberOf placement constraint requires an expression.")
		}
	}
	if pc := r.ProxyConfiguration; pc != nil {
		if pc.Type != nil && *pc.Type != ecsapi.ProxyConfigurationTypeAppmesh {
			return clientErr("Invalid proxyConfiguration type %q: the only supported value is APPMESH.", *pc.Type)
		}
		if c.byName[pc.ContainerName] == nil {
			return clientErr("The proxyConfiguration containerName '%s' does not match any container in the task definition.", pc.ContainerName)
		}
	}
	return nil
}

// roleNameRE is IAM's role name rule.
var roleNameRE = lazyregexp.New(`^[\w+=,.@-]{1,64}$`)

// checkRoleARN accepts an IAM role ARN or a bare role name, as ECS does.
func checkRoleARN(member string, v *string) error {
	if v == nil {
		return nil
	}
	s := *v
	if !strings.HasPrefix(s, "arn:") {
		if roleNameRE.MatchString(s) {
			return nil
		}
		return clientErr("Role is not valid: %s %q is neither an IAM role ARN nor a role name.", member, s)
	}
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || !strings.HasPrefix(f[1], "aws") || f[2] != "iam" || f[3] != "" || f[4] == "" ||
		!strings.HasPrefix(f[5], "role/") || len(f[5]) == len("role/") {
		return clientErr("Role is not valid: %s %q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>).", member, s)
	}
	return nil
}

// parseTaskDefCPU reads task cpu in CPU units ("1024") or vCPUs ("1 vCPU",
// "0.25 vcpu") and returns CPU units within ECS's task limits; fractional
// units are refused.
func parseTaskDefCPU(s string) (int, error) {
	n, err := taskdef.ParseCPU(s)
	if err != nil || n < minTaskCPU || n > maxTaskCPU {
		return 0, clientErr("Invalid 'cpu' setting for task. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.")
	}
	return n, nil
}

// parseTaskDefMemory reads task memory in MiB ("512", "512 MiB") or GB ("2GB",
// "0.5 GB") and returns MiB within ECS's task limits.
func parseTaskDefMemory(s string) (int, error) {
	n, err := taskdef.ParseMemory(s)
	if err != nil || n < minMemoryMiB || n > maxMemoryMiB {
		return 0, clientErr("Invalid 'memory' setting for task. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.")
	}
	return n, nil
}

// fargateSizes lists, per Fargate task cpu, the allowed memory (MiB) as a
// range with a step (the table of ECS-SEMANTICS §3.18).
var fargateSizes = map[int]struct{ min, max, step int }{
	256:   {512, 2048, 512}, // plus the 512/1024/2048 filter below
	512:   {1024, 4096, 1024},
	1024:  {2048, 8192, 1024},
	2048:  {4096, 16384, 1024},
	4096:  {8192, 30720, 1024},
	8192:  {16384, 61440, 4096},
	16384: {32768, 122880, 8192},
}

// fargateSizeOK reports whether cpu/memory is a Fargate task size; Windows
// on Fargate offers only 1, 2 and 4 vCPU.
func fargateSizeOK(cpu, mem int, windows bool) bool {
	r, ok := fargateSizes[cpu]
	if !ok || mem < r.min || mem > r.max || (mem-r.min)%r.step != 0 {
		return false
	}
	if cpu == 256 && mem == 1536 {
		return false // 256 CPU takes 512 MiB, 1 GB or 2 GB only
	}
	if windows && (cpu < 1024 || cpu > 4096) {
		return false
	}
	return true
}

// checkRequiredCompatibilities refuses a definition that does not validate
// against a launch type it asks for.
func (c *taskDefCheck) checkRequiredCompatibilities() error {
	for _, rc := range c.requires {
		if err := c.compatibilityProblem(rc); err != nil {
			return err
		}
	}
	return nil
}

// compatibilityProblem returns why the definition cannot run on launch type
// rc, or nil.
func (c *taskDefCheck) compatibilityProblem(rc ecsapi.Compatibility) error {
	switch rc {
	case ecsapi.CompatibilityFargate:
		return c.fargateProblem()
	case ecsapi.CompatibilityExternal:
		return c.externalProblem()
	case ecsapi.CompatibilityManagedInstances:
		if c.windows {
			return clientErr("Tasks using the MANAGED_INSTANCES launch type do not support Windows containers.")
		}
	}
	return nil
}

// fargateProblem returns the first Fargate restriction the definition breaks.
func (c *taskDefCheck) fargateProblem() error {
	r := &c.req
	no := func(what string, args ...any) error {
		return clientErr("Tasks using the Fargate launch type do not support "+what+".", args...)
	}
	switch {
	case c.mode != ecsapi.NetworkModeAwsvpc:
		return clientErr("Fargate only supports network mode 'awsvpc'.")
	case c.cpu == 0:
		return clientErr("Fargate requires that 'cpu' be defined at the task level.")
	case c.mem == 0:
		return clientErr("Fargate requires that 'memory' be defined at the task level.")
	case !fargateSizeOK(c.cpu, c.mem, c.windows):
		return clientErr("No Fargate configuration exists for given values: %d CPU, %d memory. See the Amazon ECS documentation for the valid values.", c.cpu, c.mem)
	case r.IpcMode != nil:
		return no("ipcMode")
	case r.PidMode != nil && *r.PidMode != ecsapi.PidModeTask:
		return no("pidMode '%s'", *r.PidMode)
	case len(r.PlacementConstraints) > 0:
		return no("task placement constraints")
	case len(r.InferenceAccelerators) > 0:
		return no("inferenceAccelerators")
	}
	for _, v := range r.Volumes {
		switch {
		case v.DockerVolumeConfiguration != nil:
			return no("dockerVolumeConfiguration volumes (volume '%s')", deref(v.Name))
		case v.Host != nil && v.Host.SourcePath != nil:
			return no("host volumes with a sourcePath (volume '%s')", deref(v.Name))
		case v.FsxWindowsFileServerVolumeConfiguration != nil && !c.windows:
			return no("fsxWindowsFileServerVolumeConfiguration volumes on Linux (volume '%s')", deref(v.Name))
		}
	}
	for i := range r.ContainerDefinitions {
		cd := &r.ContainerDefinitions[i]
		name := deref(cd.Name)
		if deref(cd.Privileged) {
			return no("privileged containers (container '%s')", name)
		}
		if len(cd.DockerSecurityOptions) > 0 {
			return no("dockerSecurityOptions (container '%s')", name)
		}
		if lp := cd.LinuxParameters; lp != nil {
			switch {
			case len(lp.Devices) > 0:
				return no("linuxParameters.devices (container '%s')", name)
			case lp.SharedMemorySize != nil:
				return no("linuxParameters.sharedMemorySize (container '%s')", name)
			case len(lp.Tmpfs) > 0:
				return no("linuxParameters.tmpfs (container '%s')", name)
			case lp.MaxSwap != nil || lp.Swappiness != nil:
				return no("linuxParameters.maxSwap or swappiness (container '%s')", name)
			}
			if lp.Capabilities != nil {
				for _, add := range lp.Capabilities.Add {
					if add != "SYS_PTRACE" {
						return no("adding the kernel capability %s: only SYS_PTRACE can be added (container '%s')", add, name)
					}
				}
			}
		}
		for _, rr := range cd.ResourceRequirements {
			if rr.Type == ecsapi.ResourceTypeGpu {
				return no("GPU resource requirements (container '%s')", name)
			}
		}
		if lc := cd.LogConfiguration; lc != nil {
			switch lc.LogDriver {
			case ecsapi.LogDriverAwslogs:
				if r.ExecutionRoleArn == nil {
					return clientErr("Fargate requires task definition to have execution role ARN to support log driver awslogs.")
				}
			case ecsapi.LogDriverSplunk, ecsapi.LogDriverAwsfirelens:
			default:
				return no("the %s log driver: use awslogs, splunk or awsfirelens (container '%s')", lc.LogDriver, name)
			}
		}
		for _, t := range []struct {
			member string
			v      *int32
		}{{"startTimeout", cd.StartTimeout}, {"stopTimeout", cd.StopTimeout}} {
			if t.v != nil && (*t.v < 2 || *t.v > 120) {
				return clientErr("Invalid %s %d for container '%s': on Fargate the valid values are 2-120 seconds.", t.member, *t.v, name)
			}
		}
	}
	return nil
}

// externalProblem returns the first ECS Anywhere (EXTERNAL) restriction the
// definition breaks: external instances have no ENIs, EFS, FSx, App Mesh,
// Elastic Inference or fault injection.
func (c *taskDefCheck) externalProblem() error {
	r := &c.req
	no := func(what string, args ...any) error {
		return clientErr("Tasks using the EXTERNAL launch type do not support "+what+".", args...)
	}
	switch {
	case c.mode == ecsapi.NetworkModeAwsvpc:
		return no("network mode 'awsvpc'")
	case r.ProxyConfiguration != nil:
		return no("proxyConfiguration")
	case len(r.InferenceAccelerators) > 0:
		return no("inferenceAccelerators")
	case deref(r.EnableFaultInjection):
		return no("fault injection")
	}
	for _, v := range r.Volumes {
		if v.EfsVolumeConfiguration != nil || v.FsxWindowsFileServerVolumeConfiguration != nil || v.S3filesVolumeConfiguration != nil {
			return no("EFS, FSx or S3 Files volumes (volume '%s')", deref(v.Name))
		}
	}
	return nil
}

// compatibilities lists the launch types the definition validated against,
// in the order ECS prints them: EC2 always, plus EXTERNAL and FARGATE when
// the definition fits them, plus MANAGED_INSTANCES when asked for.
func (c *taskDefCheck) compatibilities() []ecsapi.Compatibility {
	var out []ecsapi.Compatibility
	if c.externalProblem() == nil {
		out = append(out, ecsapi.CompatibilityExternal)
	}
	out = append(out, ecsapi.CompatibilityEc2)
	if c.fargateProblem() == nil {
		out = append(out, ecsapi.CompatibilityFargate)
	}
	if slices.Contains(c.requires, ecsapi.CompatibilityManagedInstances) {
		out = append(out, ecsapi.CompatibilityManagedInstances)
	}
	return out
}

// checkDependencies checks dependsOn targets and conditions, then refuses
// cycles through dependsOn, links and volumesFrom (each an ordering edge:
// the agent starts a link or volumesFrom source first too).
func (c *taskDefCheck) checkDependencies() error {
	edges := map[string][]string{}
	for i := range c.req.ContainerDefinitions {
		cd := &c.req.ContainerDefinitions[i]
		name := *cd.Name
		for _, d := range cd.DependsOn {
			target := c.byName[d.ContainerName]
			switch {
			case target == nil:
				return clientErr("Cannot depend on container '%s' because it does not exist.", d.ContainerName)
			case d.ContainerName == name:
				return clientErr("Container '%s' cannot depend on itself.", name)
			case !slices.Contains(d.Condition.Values(), d.Condition):
				return clientErr("Invalid dependency condition %q for container '%s': valid values are START, COMPLETE, SUCCESS and HEALTHY.", d.Condition, name)
			case (d.Condition == ecsapi.ContainerConditionComplete || d.Condition == ecsapi.ContainerConditionSuccess) && essential(target):
				return clientErr("A dependency container with SUCCESS or COMPLETE condition cannot be an essential container: container '%s' depends on essential container '%s' with condition %s.", name, d.ContainerName, d.Condition)
			case d.Condition == ecsapi.ContainerConditionHealthy && target.HealthCheck == nil:
				return clientErr("Container '%s' depends on container '%s' with condition HEALTHY, but '%s' has no healthCheck.", name, d.ContainerName, d.ContainerName)
			}
			edges[name] = append(edges[name], d.ContainerName)
		}
		for _, l := range cd.Links {
			target, _, _ := strings.Cut(l, ":")
			edges[name] = append(edges[name], target)
		}
		for _, vf := range cd.VolumesFrom {
			edges[name] = append(edges[name], deref(vf.SourceContainer))
		}
	}
	if cycle := findCycle(c.req.ContainerDefinitions, edges); cycle != nil {
		return clientErr("Circular container dependency: %s.", strings.Join(cycle, " -> "))
	}
	return nil
}

// findCycle returns a dependency cycle as a path that starts and ends with
// the same container, or nil. Containers are visited in definition order so
// the answer is deterministic.
func findCycle(defs []ecsapi.ContainerDefinition, edges map[string][]string) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(n string) []string
	visit = func(n string) []string {
		state[n] = onPath
		path = append(path, n)
		for _, m := range edges[n] {
			switch state[m] {
			case onPath:
				start := slices.Index(path, m)
				return append(slices.Clone(path[start:]), m)
			case unseen:
				if cyc := visit(m); cyc != nil {
					return cyc
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for i := range defs {
		if n := deref(defs[i].Name); state[n] == unseen {
			if cyc := visit(n); cyc != nil {
				return cyc
			}
		}
	}
	return nil
}

// essential reports the container's essential flag (default true).
func essential(cd *ecsapi.ContainerDefinition) bool { return cd.Essential == nil || *cd.Essential }

// normalisedSize renders a parsed task cpu/memory value as ECS stores it.
func normalisedSize(v int) *string {
	if v == 0 {
		return nil
	}
	return ptr(strconv.Itoa(v))
}
