package ecs

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/scheduler"
)

func inst(id string, cpu, mem int64) placementInstance {
	return placementInstance{ID: id, ARN: "arn/" + id, Status: instActive, Connected: true, Attributes: map[string]string{},
		CPU: cpu, Memory: mem, Ports: map[int32]bool{22: true}, PortsUDP: map[int32]bool{}, UsedIPs: map[netip.Addr]bool{}}
}

func TestPlace(t *testing.T) {
	t.Parallel()
	subnet := netip.MustParsePrefix("172.30.5.0/24")
	withSubnet := func(p placementInstance) placementInstance { p.Subnet = subnet; return p }
	tests := []struct {
		name      string
		snap      []placementInstance
		req       placementRequest
		want      []string // instance of each placed task
		failures  []string // reasons, in instance order
		wantFirst netip.Addr
	}{
		{name: "no strategy uses every instance that fits", snap: []placementInstance{inst("a", 1024, 1024), inst("b", 512, 1024)},
			req: placementRequest{Count: 3, Need: resources{CPU: 512, Memory: 256}}, want: []string{"a", "a", "b"}},
		{name: "memory", snap: []placementInstance{inst("a", 4096, 512)},
			req: placementRequest{Count: 3, Need: resources{Memory: 256}}, want: []string{"a", "a"}, failures: []string{reasonMemory}},
		{name: "cpu", snap: []placementInstance{inst("a", 256, 4096)},
			req: placementRequest{Count: 1, Need: resources{CPU: 512}}, failures: []string{reasonCPU}},
		{name: "static port once per instance", snap: []placementInstance{inst("a", 4096, 4096), inst("b", 4096, 4096)},
			req: placementRequest{Count: 3, Need: resources{Ports: []int32{8080}}}, want: []string{"a", "b"}, failures: []string{reasonPorts, reasonPorts}},
		{name: "agent reserved port", snap: []placementInstance{inst("a", 4096, 4096)},
			req: placementRequest{Count: 1, Need: resources{Ports: []int32{22}}}, failures: []string{reasonPorts}},
		{name: "udp ports are separate", snap: []placementInstance{inst("a", 4096, 4096)},
			req: placementRequest{Count: 1, Need: resources{PortsUDP: []int32{22}}}, want: []string{"a"}},
		{name: "disconnected agent", snap: func() []placementInstance {
			a := inst("a", 4096, 4096)
			a.Connected = false
			return []placementInstance{a, inst("b", 4096, 4096)}
		}(), req: placementRequest{Count: 1}, want: []string{"b"}},
		{name: "all disconnected", snap: func() []placementInstance {
			a := inst("a", 4096, 4096)
			a.Connected = false
			return []placementInstance{a}
		}(), req: placementRequest{Count: 1}, failures: []string{reasonAgent}},
		{name: "draining is skipped silently", snap: func() []placementInstance {
			a := inst("a", 4096, 4096)
			a.Status = instDraining
			return []placementInstance{a}
		}(), req: placementRequest{Count: 1}, failures: []string{reasonNoInstances}},
		{name: "no instances", req: placementRequest{Count: 1}, failures: []string{reasonNoInstances}},
		{name: "required attribute", snap: func() []placementInstance {
			b := inst("b", 4096, 4096)
			b.Attributes["ecs.capability.task-eni"] = ""
			return []placementInstance{inst("a", 4096, 4096), b}
		}(), req: placementRequest{Count: 1, Requires: []ecsapi.Attribute{{Name: "ecs.capability.task-eni"}}}, want: []string{"b"}},
		{name: "required attribute value", snap: func() []placementInstance {
			a := inst("a", 4096, 4096)
			a.Attributes["stack"] = "dev"
			return []placementInstance{a}
		}(), req: placementRequest{Count: 1, Requires: []ecsapi.Attribute{{Name: "stack", Value: ptr("prod")}}}, failures: []string{reasonAttribute}},
		{name: "awsvpc needs a subnet", snap: []placementInstance{inst("a", 4096, 4096)},
			req: placementRequest{Count: 1, Awsvpc: true}, failures: []string{reasonAttribute}},
		{name: "awsvpc allocates from .2", snap: []placementInstance{withSubnet(inst("a", 4096, 4096))},
			req: placementRequest{Count: 2, Awsvpc: true}, want: []string{"a", "a"}, wantFirst: netip.MustParseAddr("172.30.5.2")},
		{name: "awsvpc skips used addresses", snap: func() []placementInstance {
			a := withSubnet(inst("a", 4096, 4096))
			a.UsedIPs[netip.MustParseAddr("172.30.5.2")] = true
			return []placementInstance{a}
		}(), req: placementRequest{Count: 1, Awsvpc: true}, want: []string{"a"}, wantFirst: netip.MustParseAddr("172.30.5.3")},
		{name: "awsvpc subnet full", snap: func() []placementInstance {
			a := inst("a", 4096, 4096)
			a.Subnet = netip.MustParsePrefix("10.0.0.0/30") // .2 is the only task address
			return []placementInstance{a}
		}(), req: placementRequest{Count: 2, Awsvpc: true}, want: []string{"a"}, failures: []string{reasonENI}},
		{name: "awsvpc subnet elsewhere", snap: func() []placementInstance {
			a, b := withSubnet(inst("a", 4096, 4096)), withSubnet(inst("b", 4096, 4096))
			a.Attributes[scheduler.SubnetAttribute], b.Attributes[scheduler.SubnetAttribute] = "subnet-1", "subnet-2"
			return []placementInstance{a, b}
		}(), req: placementRequest{Count: 2, Awsvpc: true, Subnets: []string{"subnet-2"}}, want: []string{"b", "b"}},
		{name: "awsvpc no instance in the subnets", snap: func() []placementInstance {
			a := withSubnet(inst("a", 4096, 4096))
			a.Attributes[scheduler.SubnetAttribute] = "subnet-1"
			return []placementInstance{a}
		}(), req: placementRequest{Count: 1, Awsvpc: true, Subnets: []string{"subnet-9"}}, failures: []string{scheduler.ReasonLocation}},
		{name: "targets", snap: []placementInstance{inst("a", 1024, 1024), inst("b", 1024, 1024)},
			req: placementRequest{Count: 3, Need: resources{Memory: 600}, Targets: []string{"b", "b", "zzz"}}, want: []string{"b"},
			failures: []string{reasonMemory, reasonMissing}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := place(stateOf(tc.snap), tc.req)
			got, fails := p.assigned, p.failures
			var ids []string
			for _, a := range got {
				ids = append(ids, a.InstanceID)
			}
			slices.Sort(ids) // without a strategy the order is random
			if len(ids) != len(tc.want) {
				t.Fatalf("placed on %v, want %v", ids, tc.want)
			}
			for i := range ids {
				if ids[i] != tc.want[i] {
					t.Fatalf("placed on %v, want %v", ids, tc.want)
				}
			}
			var reasons []string
			explained := len(p.explain) > 0
			for _, f := range fails {
				reasons = append(reasons, f.Reason)
			}
			if explained != (len(got) < tc.req.Count) {
				t.Fatalf("explanation given: %v, with %d of %d placed (%v)", explained, len(got), tc.req.Count, fails)
			}
			if len(reasons) != len(tc.failures) {
				t.Fatalf("failures %v, want %v", reasons, tc.failures)
			}
			for i := range reasons {
				if reasons[i] != tc.failures[i] {
					t.Fatalf("failures %v, want %v", reasons, tc.failures)
				}
			}
			if tc.wantFirst.IsValid() && got[0].IPv4 != tc.wantFirst {
				t.Fatalf("first address %v, want %v", got[0].IPv4, tc.wantFirst)
			}
			if len(got) == 2 && tc.req.Awsvpc && got[0].IPv4 == got[1].IPv4 {
				t.Fatalf("two tasks got %v", got[0].IPv4)
			}
			// The snapshot is not modified.
			for _, in := range tc.snap {
				if in.UsedCPU != 0 || in.UsedMemory != 0 {
					t.Fatalf("snapshot modified: %+v", in)
				}
			}
		})
	}
}

func TestTaskNeeds(t *testing.T) {
	t.Parallel()
	bridge, host, awsvpc := ecsapi.NetworkModeBridge, ecsapi.NetworkModeHost, ecsapi.NetworkModeAwsvpc
	udp := ecsapi.TransportProtocolUdp
	def := func(mode *ecsapi.NetworkMode, cpu, mem string, cds ...ecsapi.ContainerDefinition) ecsapi.TaskDefinition {
		d := ecsapi.TaskDefinition{NetworkMode: mode, ContainerDefinitions: cds}
		if cpu != "" {
			d.Cpu = ptr(cpu)
		}
		if mem != "" {
			d.Memory = ptr(mem)
		}
		return d
	}
	cd := func(cpu, mem, res int32, pms ...ecsapi.PortMapping) ecsapi.ContainerDefinition {
		c := ecsapi.ContainerDefinition{Name: ptr("c"), Cpu: ptr(cpu), PortMappings: pms}
		if mem > 0 {
			c.Memory = ptr(mem)
		}
		if res > 0 {
			c.MemoryReservation = ptr(res)
		}
		return c
	}
	pm := func(container, hostPort int32) ecsapi.PortMapping {
		return ecsapi.PortMapping{ContainerPort: ptr(container), HostPort: ptr(hostPort)}
	}
	tests := []struct {
		name string
		def  ecsapi.TaskDefinition
		ov   *ecsapi.TaskOverride
		want resources
	}{
		{"container sums, reservation first", def(&bridge, "", "", cd(128, 512, 256), cd(64, 100, 0)), nil, resources{CPU: 192, Memory: 356}},
		{"task level wins", def(nil, "1 vCPU", "2 GB", cd(128, 512, 0)), nil, resources{CPU: 1024, Memory: 2048}},
		{"task override", def(nil, "1024", "2048", cd(0, 0, 0)), &ecsapi.TaskOverride{Cpu: ptr("512"), Memory: ptr("1GB")}, resources{CPU: 512, Memory: 1024}},
		{"container override", def(nil, "", "", cd(128, 512, 0)), &ecsapi.TaskOverride{ContainerOverrides: []ecsapi.ContainerOverride{{Name: ptr("c"), Memory: ptr(int32(64))}}}, resources{CPU: 128, Memory: 64}},
		{"bridge dynamic port reserves nothing", def(&bridge, "", "", cd(0, 10, 0, pm(80, 0), ecsapi.PortMapping{ContainerPort: ptr(int32(81))})), nil, resources{Memory: 10}},
		{"bridge static port", def(nil, "", "", cd(0, 10, 0, pm(80, 8080), ecsapi.PortMapping{ContainerPort: ptr(int32(53)), HostPort: ptr(int32(53)), Protocol: &udp})), nil,
			resources{Memory: 10, Ports: []int32{8080}, PortsUDP: []int32{53}}},
		{"host mode uses the container port", def(&host, "", "", cd(0, 10, 0, ecsapi.PortMapping{ContainerPort: ptr(int32(80))})), nil, resources{Memory: 10, Ports: []int32{80}}},
		{"awsvpc reserves no host ports", def(&awsvpc, "256", "512", cd(0, 0, 0, pm(80, 80))), nil, resources{CPU: 256, Memory: 512}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := taskNeeds(tc.def, tc.ov)
			if err != nil {
				t.Fatal(err)
			}
			if got.CPU != tc.want.CPU || got.Memory != tc.want.Memory || len(got.Ports) != len(tc.want.Ports) || len(got.PortsUDP) != len(tc.want.PortsUDP) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got.Ports {
				if got.Ports[i] != tc.want.Ports[i] {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
			}
		})
	}
	if _, err := taskNeeds(def(nil, "", "", cd(0, 1, 0, pm(80, 8080)), cd(0, 1, 0, pm(81, 8080))), nil); err == nil {
		t.Fatal("a host port mapped twice was accepted")
	}
	if _, err := parseTaskCPU("lots"); err == nil {
		t.Fatal("bad cpu accepted")
	}
}

func TestFreeAddress(t *testing.T) {
	t.Parallel()
	p := netip.MustParsePrefix("192.168.7.0/29") // .2 - .6 usable
	used := map[netip.Addr]bool{}
	var got []string
	for {
		a, ok := freeAddress(p, used)
		if !ok {
			break
		}
		used[a] = true
		got = append(got, a.String())
	}
	if len(got) != 5 || got[0] != "192.168.7.2" || got[4] != "192.168.7.6" {
		t.Fatalf("allocated %v", got)
	}
	if g := awsvpcGateway(p).String(); g != "192.168.7.1" {
		t.Fatalf("gateway %s", g)
	}
	if m := macFor(netip.MustParseAddr("172.30.5.2")); m != "02:42:ac:1e:05:02" {
		t.Fatalf("mac %s", m)
	}
}

func TestPlaceStrategiesAndConstraints(t *testing.T) {
	t.Parallel()
	mk := func(id, az, typ string) placementInstance {
		return placementInstance{ID: id, ARN: "arn:" + id, Status: instActive, Connected: true, CPU: 4096, Memory: 4096,
			Attributes: map[string]string{availabilityZoneAttr: az, "ecs.instance-type": typ},
			Ports:      map[int32]bool{}, PortsUDP: map[int32]bool{}, UsedIPs: map[netip.Addr]bool{}}
	}
	snap := []placementInstance{mk("a", "z1", "t3.small"), mk("b", "z1", "m5.large"), mk("c", "z2", "m5.large"), mk("d", "z3", "g4dn.xlarge")}
	snap[1].Groups = map[string]int{"service:web": 1}
	req := placementRequest{Count: 4, Need: resources{Memory: 100}, Group: "service:web",
		Constraints: []scheduler.Constraint{{Type: "memberOf", Expression: "attribute:ecs.instance-type != g4dn.xlarge"}, {Type: "distinctInstance"}},
		Strategies:  []scheduler.Strategy{{Type: "spread", Field: "attribute:" + availabilityZoneAttr}}}
	if err := checkPlacement(req); err != nil {
		t.Fatal(err)
	}
	p := place(stateOf(snap), req)
	got, fails := p.assigned, p.failures
	var ids []string
	for _, a := range got {
		ids = append(ids, a.InstanceID)
	}
	// z2 first (z1 has a web task), then a (b has one): d is not a member,
	// so the last two tasks fit nowhere.
	if strings.Join(ids, ",") != "c,a" {
		t.Errorf("placed on %v, want c,a", ids)
	}
	if want := "2 of 4 instances passed; memberOf removed 1, distinctInstance removed 3"; strings.Join(p.explain, "; ") != want {
		t.Errorf("explanation %q, want %q", p.explain, want)
	}
	var reasons []string
	for _, f := range fails {
		reasons = append(reasons, f.ARN+" "+f.Reason)
	}
	want := "arn:a " + scheduler.ReasonDistinctInstance + ";arn:b " + scheduler.ReasonDistinctInstance + ";arn:c " + scheduler.ReasonDistinctInstance + ";arn:d " + scheduler.ReasonMemberOf
	if strings.Join(reasons, ";") != want {
		t.Errorf("failures %v, want %v", reasons, want)
	}
	bad := req
	bad.Constraints = []scheduler.Constraint{{Type: "memberOf", Expression: "attribute:x =="}}
	if err := checkPlacement(bad); err == nil || !strings.Contains(err.Error(), "expected value at position 15") {
		t.Errorf("checkPlacement = %v", err)
	}
}

// stateOf is a placement state over snapshot (no reservations).
func stateOf(snapshot []placementInstance) placementState {
	entries := make([]*snapEntry, len(snapshot))
	for i := range snapshot {
		entries[i] = &snapEntry{pi: snapshot[i]}
	}
	return newPlacementState(entries)
}
