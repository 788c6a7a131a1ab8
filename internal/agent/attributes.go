package agent

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/runtime"
)

// Attribute prefixes of the ECS agent's capabilities.
const (
	capOld = "com.amazonaws.ecs.capability."
	capNew = "ecs.capability."
)

// SubnetAttribute carries the CIDR of the agent's bridge network for awsvpc
// tasks; the control plane allocates task addresses inside it.
const SubnetAttribute = "berth.awsvpc-subnet"

// maxDockerAPI is the newest Docker remote API version the agent advertises;
// the ECS agent lists every version from 1.17 up to what the engine speaks.
const maxDockerAPI = 44

// Registration is what RegisterContainerInstance sends.
type Registration struct {
	Attributes map[string]string
	// Integer resources (CPU, MEMORY) and string sets (PORTS, PORTS_UDP).
	CPU, Memory     int
	Ports, PortsUDP []string
}

// buildRegistration derives the attributes and resources of the instance
// from the config and the engine; it is pure.
func buildRegistration(cfg config.Config, info runtime.EngineInfo, subnet string, agentPorts []int) Registration {
	r := Registration{Attributes: map[string]string{}}
	cpu := cfg.CPU
	if cpu == 0 {
		cpu = max(info.CPUs, 1) * 1024
	}
	mem := cfg.Memory
	if mem == 0 {
		mem = int(info.MemoryBytes >> 20)
	}
	r.CPU, r.Memory = cpu, max(mem-cfg.ReservedMemory, 0)
	ports := slices.Clone(cfg.ReservedPorts)
	for _, p := range agentPorts {
		if p > 0 && !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	for _, p := range ports {
		r.Ports = append(r.Ports, strconv.Itoa(p))
	}
	for _, p := range cfg.ReservedPortsUDP {
		r.PortsUDP = append(r.PortsUDP, strconv.Itoa(p))
	}

	a := r.Attributes
	maps.Copy(a, cfg.Attributes)
	a["ecs.os-type"] = "linux"
	a["ecs.os-family"] = "LINUX"
	a["ecs.cpu-architecture"] = cpuArch(info.Arch)
	a["ecs.instance-type"] = cfg.InstanceType
	if cfg.AvailabilityZone != "" {
		a["ecs.availability-zone"] = cfg.AvailabilityZone
	}
	if subnet != "" {
		a[SubnetAttribute] = subnet
	}
	for v := 17; v <= min(apiMinor(info.APIVersion), maxDockerAPI); v++ {
		a[fmt.Sprintf("%sdocker-remote-api.1.%d", capOld, v)] = ""
	}
	for _, d := range cfg.LoggingDrivers {
		if d == "none" || d == "json-file" || slices.Contains(info.LogDrivers, d) {
			a[capOld+"logging-driver."+d] = ""
		}
	}
	a[capOld+"privileged-container"] = ""
	// ECR-form images resolve to Berth's registry, pulled with a token the
	// agent gets from GetAuthorizationToken (internal/registry/ecrauth).
	a[capOld+"ecr-auth"] = ""
	for _, c := range []string{"container-health-check", "task-eni", "container-ordering", "task-cpu-mem-limit"} {
		a[capNew+c] = ""
	}
	for _, d := range info.VolumeDrivers {
		a[capNew+"docker-volume-driver."+d] = ""
	}
	if len(info.VolumeDrivers) == 0 {
		a[capNew+"docker-volume-driver.local"] = ""
	}
	return r
}

// cpuArch names the architecture as ECS does (x86_64, arm64).
func cpuArch(engineArch string) string {
	switch engineArch {
	case "amd64", "x86_64", "":
		return "x86_64"
	case "aarch64", "arm64":
		return "arm64"
	}
	return engineArch
}

// apiMinor reads "1.41" as 41 (0 when unknown).
func apiMinor(v string) int {
	_, minor, ok := strings.Cut(v, ".")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(minor)
	return n
}
