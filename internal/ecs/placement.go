package ecs

import (
	"fmt"
	"iter"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/scheduler"
)

// Placement: a pure function over a snapshot of the cluster's container
// instances, translated to internal/scheduler (filters, placement
// constraints and strategies). This file keeps what only the control plane
// knows: awsvpc addresses and the mapping of failures to ECS's wire reasons.

// Placement failure reasons as ECS reports them in failures[].
const (
	reasonAgent     = scheduler.ReasonAgent
	reasonAttribute = scheduler.ReasonAttribute
	reasonCPU       = scheduler.ReasonCPU
	reasonMemory    = scheduler.ReasonMemory
	reasonPorts     = scheduler.ReasonPorts
	reasonPortsUDP  = scheduler.ReasonPortsUDP
	reasonENI       = scheduler.ReasonENI
	reasonMissing   = scheduler.ReasonMissing
	reasonInactive  = scheduler.ReasonInactive
	reasonDraining  = scheduler.ReasonDraining
	// reasonNoInstances is ECS's message for a cluster without instances.
	reasonNoInstances = "No Container Instances were found in your cluster."
)

// resources is what one task reserves on its instance.
type resources struct {
	CPU      int64   `json:"cpu,omitempty"`
	Memory   int64   `json:"memory,omitempty"`
	Ports    []int32 `json:"ports,omitempty"`    // static TCP host ports
	PortsUDP []int32 `json:"portsUdp,omitempty"` // static UDP host ports
}

// placementInstance is one container instance as placement sees it: its
// registered capacity and what non-stopped tasks already use.
type placementInstance struct {
	ID, ARN    string
	Status     string // ACTIVE, DRAINING, ...
	Connected  bool
	Attributes map[string]string // name -> value ("" for a name-only attribute)
	CPU        int64             // registered
	Memory     int64             // registered
	UsedCPU    int64
	UsedMemory int64
	// Ports and PortsUDP are the unavailable host ports: the ones the agent
	// reserved at registration and the static ports of running tasks.
	Ports    map[int32]bool
	PortsUDP map[int32]bool
	// Subnet is the awsvpc task network (invalid when the instance has
	// none); UsedIPs are the addresses of its non-stopped awsvpc tasks.
	Subnet  netip.Prefix
	UsedIPs map[netip.Addr]bool
	// What memberOf expressions and spread strategies read.
	EC2InstanceID    string
	AgentVersion     string
	RegisteredAt     time.Time
	CapacityProvider string
	Groups           map[string]int // task group -> non-stopped tasks
	RunningTasks     int
}

// placementRequest is count identical tasks to place.
type placementRequest struct {
	Count    int
	Need     resources
	Requires []ecsapi.Attribute
	Awsvpc   bool
	Subnets  []string // awsvpcConfiguration.subnets: instances of other subnets are refused (LOCATION)
	// Targets, when set (StartTask), names the instance of each task
	// (len(Targets) == Count); otherwise any instance may take any task.
	Targets []string
	// Group is the task group spread and distinctInstance count.
	Group       string
	Constraints []scheduler.Constraint
	Strategies  []scheduler.Strategy
	Seed        uint64
	// CapacityProvider, when set, limits the placement to that provider's
	// instances (placeProviders).
	CapacityProvider string
}

// assignment is where one task goes.
type assignment struct {
	InstanceID string
	IPv4       netip.Addr // awsvpc tasks only
}

// placementFailure is one rejected instance (ARN empty for cluster-wide
// reasons).
type placementFailure struct {
	ARN, Reason, Detail string
}

// placed is the outcome of a placement: where the tasks go, why instances
// refused, and, when tasks were left unplaced, the scheduler's explanation
// ("0 of 3 instances passed; memory removed 3") for callers, service
// events and logs.
type placed struct {
	assigned []assignment
	failures []placementFailure
	explain  []string
}

// schedulerRequest is req as the scheduler takes it.
func schedulerRequest(req placementRequest) scheduler.Request {
	sreq := scheduler.Request{
		Count: req.Count, CPU: req.Need.CPU, Memory: req.Need.Memory,
		Ports: req.Need.Ports, PortsUDP: req.Need.PortsUDP, Awsvpc: req.Awsvpc, Subnets: req.Subnets,
		Group: req.Group, Constraints: req.Constraints, Strategies: req.Strategies,
		Targets: req.Targets, Seed: req.Seed, CapacityProvider: req.CapacityProvider,
	}
	if len(sreq.Strategies) == 0 {
		sreq.Strategies = defaultStrategy
	}
	for _, a := range req.Requires {
		sreq.Requires = append(sreq.Requires, scheduler.Attribute{Name: a.Name, Value: a.Value})
	}
	return sreq
}

// defaultStrategy is ECS's placement strategy for RunTask without one:
// "distribute tasks randomly".
var defaultStrategy = []scheduler.Strategy{{Type: "random"}}

// place assigns up to req.Count tasks with the scheduler: by the request's
// strategies, at random among the instances that fit when it has none
// (ECS's default for RunTask), reserving as it goes so one request never
// over-commits an instance. Tasks that fit nowhere are left out; failures
// says why each instance refused. ps is not modified. The request's
// strategies and constraints must be valid (checkPlacement).
func place(ps placementState, req placementRequest) placed {
	res, err := ps.sched.Place(schedulerRequest(req))
	if err != nil {
		// Validated before placement; a request that slips through places
		// nothing rather than ignoring its rules.
		return placed{failures: []placementFailure{{Reason: reasonAttribute, Detail: err.Error()}}}
	}
	usedIPs := map[string]map[netip.Addr]bool{}
	out := make([]assignment, 0, len(res.Placements))
	for _, id := range res.Placements {
		a := assignment{InstanceID: id}
		if req.Awsvpc {
			in := ps.entries[id].pi
			if usedIPs[id] == nil {
				usedIPs[id] = cloneSet(in.UsedIPs)
			}
			ip, _ := freeAddress(in.Subnet, usedIPs[id])
			usedIPs[id][ip] = true
			a.IPv4 = ip
		}
		out = append(out, a)
	}
	var failures []placementFailure
	for _, f := range res.Failures {
		pf := placementFailure{ARN: f.ARN, Reason: f.Reason, Detail: f.Detail}
		if f.Filter == scheduler.FilterAwsvpc {
			pf.Detail = awsvpcSubnetAttr
		}
		if f.Filter == scheduler.FilterStatus || f.Filter == scheduler.FilterCPU || f.Filter == scheduler.FilterMemory ||
			f.Filter == scheduler.FilterAgent || f.Filter == scheduler.FilterENI {
			pf.Detail = ""
		}
		failures = append(failures, pf)
	}
	if len(res.Placements) < req.Count && req.Targets == nil && len(failures) == 0 {
		failures = append(failures, placementFailure{Reason: reasonNoInstances})
	}
	p := placed{assigned: out, failures: failures}
	if len(res.Placements) < req.Count {
		p.explain = []string{res.Explanation(ps.sched.Len())}
	}
	return p
}

// checkPlacement validates placement constraints and strategies as ECS
// does, the task definition's constraints included.
func checkPlacement(req placementRequest) error {
	err := scheduler.Validate(scheduler.Request{Constraints: req.Constraints, Strategies: req.Strategies})
	if err != nil {
		return invalidParam("%s", err.Error())
	}
	return nil
}

// freeAddressCount counts up to limit free addresses of subnet: the ones
// freeAddress would hand out one after another.
func freeAddressCount(subnet netip.Prefix, used map[netip.Addr]bool, limit int) int {
	n := 0
	for range freeAddresses(subnet, used) {
		if n++; n == limit {
			break
		}
	}
	return n
}

// awsvpcSlotCap bounds the awsvpc addresses counted per instance for the
// scheduler (AwsvpcSlots): one placement never gives an instance more
// tasks than this.
const awsvpcSlotCap = 1024

// schedInstance is a placement instance as the scheduler sees it.
func schedInstance(in placementInstance) scheduler.Instance {
	slots := -1
	if in.Subnet.IsValid() {
		slots = freeAddressCount(in.Subnet, in.UsedIPs, awsvpcSlotCap)
	}
	return scheduler.Instance{
		ID: in.ID, ARN: in.ARN, Status: in.Status, Connected: in.Connected,
		Attributes: in.Attributes, EC2InstanceID: in.EC2InstanceID, AgentVersion: in.AgentVersion,
		RegisteredAt: in.RegisteredAt, CapacityProvider: in.CapacityProvider,
		CPU: in.CPU, Memory: in.Memory, UsedCPU: in.UsedCPU, UsedMemory: in.UsedMemory,
		Ports: in.Ports, PortsUDP: in.PortsUDP, AwsvpcSlots: slots,
		Groups: in.Groups, RunningTasks: in.RunningTasks,
	}
}

func cloneSet[K comparable](m map[K]bool) map[K]bool {
	out := make(map[K]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// freeAddress returns the lowest address of subnet that is not the network
// address, the gateway (.1), the broadcast address or in used.
func freeAddress(subnet netip.Prefix, used map[netip.Addr]bool) (netip.Addr, bool) {
	for a := range freeAddresses(subnet, used) {
		return a, true
	}
	return netip.Addr{}, false
}

// freeAddresses yields the task addresses of subnet not in used, lowest
// first: not the network address, the gateway (.1) or the broadcast address.
func freeAddresses(subnet netip.Prefix, used map[netip.Addr]bool) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		subnet = subnet.Masked()
		if !subnet.Addr().Is4() || subnet.Bits() > 30 {
			return
		}
		// Large subnets: looking at the first 64k addresses is plenty.
		for a, n := awsvpcGateway(subnet).Next(), 0; subnet.Contains(a) && n < 1<<16; a, n = a.Next(), n+1 {
			if !subnet.Contains(a.Next()) {
				return // a is the broadcast address
			}
			if !used[a] && !yield(a) {
				return
			}
		}
	}
}

// awsvpcGateway is the task network's gateway: the subnet's first address.
func awsvpcGateway(subnet netip.Prefix) netip.Addr { return subnet.Masked().Addr().Next() }

// macFor is the MAC address of an awsvpc task interface: 02:42 and the four
// IPv4 bytes, Docker's classic scheme, so the address is stable and unique
// within the subnet.
func macFor(ip netip.Addr) string {
	b := ip.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

// taskNeeds computes what a task of def with overrides reserves on an
// instance: task-level cpu/memory when set (after overrides), else the sum
// of the containers' (memoryReservation before memory); static host ports in
// host and bridge network modes.
func taskNeeds(def ecsapi.TaskDefinition, ov *ecsapi.TaskOverride) (resources, error) {
	var need resources
	cpuStr, memStr := deref(def.Cpu), deref(def.Memory)
	if ov != nil && ov.Cpu != nil {
		cpuStr = *ov.Cpu
	}
	if ov != nil && ov.Memory != nil {
		memStr = *ov.Memory
	}
	var sumCPU, sumMem int64
	for _, c := range def.ContainerDefinitions {
		co := containerOverride(ov, deref(c.Name))
		cpu, mem, res := deref(c.Cpu), deref(c.Memory), deref(c.MemoryReservation)
		if co != nil {
			if co.Cpu != nil {
				cpu = *co.Cpu
			}
			if co.Memory != nil {
				mem = *co.Memory
			}
			if co.MemoryReservation != nil {
				res = *co.MemoryReservation
			}
		}
		sumCPU += int64(cpu)
		if res > 0 {
			sumMem += int64(res)
		} else {
			sumMem += int64(mem)
		}
	}
	need.CPU, need.Memory = sumCPU, sumMem
	if cpuStr != "" {
		v, err := parseTaskCPU(cpuStr)
		if err != nil {
			return resources{}, err
		}
		need.CPU = v
	}
	if memStr != "" {
		v, err := parseTaskMemory(memStr)
		if err != nil {
			return resources{}, err
		}
		need.Memory = v
	}
	mode := networkMode(def)
	if mode != ecsapi.NetworkModeBridge && mode != ecsapi.NetworkModeHost {
		return need, nil
	}
	seen := map[string]bool{}
	for _, c := range def.ContainerDefinitions {
		for _, pm := range c.PortMappings {
			if pm.ContainerPortRange != nil {
				continue // ranges map to ephemeral host ports
			}
			host := deref(pm.HostPort)
			if mode == ecsapi.NetworkModeHost && host == 0 {
				host = deref(pm.ContainerPort)
			}
			if host == 0 {
				continue // dynamic: the agent picks an ephemeral port
			}
			udp := pm.Protocol != nil && *pm.Protocol == ecsapi.TransportProtocolUdp
			k := fmt.Sprintf("%v/%d", udp, host)
			if seen[k] {
				return resources{}, invalidParam("Host port %d is mapped more than once in task definition %s.", host, deref(def.TaskDefinitionArn))
			}
			seen[k] = true
			if udp {
				need.PortsUDP = append(need.PortsUDP, host)
			} else {
				need.Ports = append(need.Ports, host)
			}
		}
	}
	slices.Sort(need.Ports)
	slices.Sort(need.PortsUDP)
	return need, nil
}

// networkMode is the definition's network mode; Linux's default is bridge.
func networkMode(def ecsapi.TaskDefinition) ecsapi.NetworkMode {
	if def.NetworkMode == nil || *def.NetworkMode == "" {
		return ecsapi.NetworkModeBridge
	}
	return *def.NetworkMode
}

func containerOverride(ov *ecsapi.TaskOverride, name string) *ecsapi.ContainerOverride {
	if ov == nil {
		return nil
	}
	for i := range ov.ContainerOverrides {
		if deref(ov.ContainerOverrides[i].Name) == name {
			return &ov.ContainerOverrides[i]
		}
	}
	return nil
}

// parseTaskCPU reads a task-level cpu: CPU units ("1024") or vCPUs ("1 vCPU",
// "0.5 vcpu").
func parseTaskCPU(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if v, ok := strings.CutSuffix(t, "vcpu"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 {
			return 0, invalidParam("Invalid cpu %q: use CPU units (1024) or vCPUs (1 vCPU).", s)
		}
		return int64(math.Round(f * 1024)), nil
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, invalidParam("Invalid cpu %q: use CPU units (1024) or vCPUs (1 vCPU).", s)
	}
	return n, nil
}

// parseTaskMemory reads a task-level memory: MiB ("512") or GB ("1 GB", "2gb").
func parseTaskMemory(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if v, ok := strings.CutSuffix(t, "gb"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 {
			return 0, invalidParam("Invalid memory %q: use MiB (512) or GB (1 GB).", s)
		}
		return int64(math.Round(f * 1024)), nil
	}
	if v, ok := strings.CutSuffix(t, "mb"); ok {
		t = strings.TrimSpace(v)
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, invalidParam("Invalid memory %q: use MiB (512) or GB (1 GB).", s)
	}
	return n, nil
}
