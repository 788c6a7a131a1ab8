package scheduler

import (
	"errors"
	"strings"
	"testing"
)

func TestFilters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Instance)
		req    Request
		filter Filter
		reason string
		detail string
	}{
		{"inactive", func(in *Instance) { in.Status = "INACTIVE" }, Request{}, FilterStatus, ReasonInactive, ""},
		{"agent", func(in *Instance) { in.Connected = false }, Request{}, FilterAgent, ReasonAgent, ""},
		{"provider", func(in *Instance) { in.CapacityProvider = "cp-a" }, Request{CapacityProvider: "cp-b"}, FilterCapacityProvider, ReasonCapacityProvider, "cp-a"},
		{"attribute missing", nil, Request{Requires: []Attribute{{Name: "com.amazonaws.ecs.capability.docker-remote-api.1.99"}}}, FilterAttributes, ReasonAttribute, "com.amazonaws.ecs.capability.docker-remote-api.1.99"},
		{"attribute value", nil, Request{Requires: []Attribute{{Name: "ecs.os-type", Value: ptr("windows")}}}, FilterAttributes, ReasonAttribute, "ecs.os-type"},
		{"memberOf", nil, Request{Constraints: []Constraint{{Type: "memberOf", Expression: "attribute:ecs.instance-type =~ g4.*"}}}, FilterMemberOf, ReasonMemberOf, "attribute:ecs.instance-type =~ 'g4.*'"},
		{"memberOf dynamic", func(in *Instance) { in.RunningTasks = 3 }, Request{Constraints: []Constraint{{Type: "memberOf", Expression: "runningTasksCount < 3"}}}, FilterMemberOf, ReasonMemberOf, "runningTasksCount < '3'"},
		{"cpu", func(in *Instance) { in.UsedCPU = 4000 }, Request{CPU: 100}, FilterCPU, ReasonCPU, ""},
		{"memory", func(in *Instance) { in.UsedMemory = 8000 }, Request{Memory: 256}, FilterMemory, ReasonMemory, ""},
		{"ports", func(in *Instance) { in.Ports[80] = true }, Request{Ports: []int32{8080, 80}}, FilterPorts, ReasonPorts, "80"},
		{"reserved port", nil, Request{Ports: []int32{22}}, FilterPorts, ReasonPorts, "22"},
		{"udp", func(in *Instance) { in.PortsUDP = map[int32]bool{53: true} }, Request{PortsUDP: []int32{53}}, FilterPortsUDP, ReasonPortsUDP, "53"},
		{"awsvpc network", nil, Request{Awsvpc: true}, FilterAwsvpc, ReasonAttribute, AwsvpcNetworkAttribute},
		{"eni", func(in *Instance) { in.AwsvpcSlots = 0 }, Request{Awsvpc: true}, FilterENI, ReasonENI, ""},
		{"location", func(in *Instance) { in.AwsvpcSlots, in.Attributes[SubnetAttribute] = 5, "subnet-a" },
			Request{Awsvpc: true, Subnets: []string{"subnet-b", "subnet-c"}}, FilterLocation, ReasonLocation, "subnet-a"},
		{"distinctInstance", func(in *Instance) { in.Groups = map[string]int{"family:web": 1} }, Request{Group: "family:web", Constraints: []Constraint{{Type: "distinctInstance"}}}, FilterDistinctInstance, ReasonDistinctInstance, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			insts := cluster(1, nil)
			if tt.mutate != nil {
				tt.mutate(&insts[0])
			}
			s := NewSnapshot(insts)
			req := tt.req
			req.Count = 1
			res := mustPlace(t, s, req)
			if len(res.Placements) != 0 {
				t.Fatalf("placed on %v, want a rejection", res.Placements)
			}
			want := Rejection{InstanceID: "i0000", ARN: insts[0].ARN, Filter: tt.filter, Reason: tt.reason, Detail: tt.detail}
			if len(res.Failures) != 1 || res.Failures[0] != want {
				t.Errorf("failures = %+v, want [%+v]", res.Failures, want)
			}
			if len(res.Explain) != 1 || res.Explain[0] != (Step{tt.filter, 1}) {
				t.Errorf("explain = %+v", res.Explain)
			}
			// Without the obstacle the task fits.
			if tt.mutate != nil && tt.filter != FilterCapacityProvider {
				ok := mustPlace(t, NewSnapshot(cluster(1, nil)), req)
				if len(ok.Placements) != 1 && tt.filter != FilterAwsvpc && tt.filter != FilterENI && tt.filter != FilterLocation {
					t.Errorf("unobstructed instance refused: %+v", ok.Failures)
				}
			}
		})
	}
}

func TestDrainingIsNotAFailure(t *testing.T) {
	t.Parallel()
	insts := cluster(2, nil)
	insts[0].Status = "DRAINING"
	insts[1].UsedCPU = insts[1].CPU
	res := mustPlace(t, NewSnapshot(insts), Request{Count: 1, CPU: 10})
	if len(res.Failures) != 1 || res.Failures[0].Reason != ReasonCPU {
		t.Errorf("failures = %+v, want only the CPU one", res.Failures)
	}
	if got := res.Explanation(2); got != "0 of 2 instances passed; status removed 1, cpu removed 1" {
		t.Errorf("explanation = %q", got)
	}
	// Named as a target, a draining instance is a failure.
	res = mustPlace(t, NewSnapshot(insts), Request{Count: 1, Targets: []string{"i0000"}})
	if len(res.Failures) != 1 || res.Failures[0].Reason != ReasonDraining {
		t.Errorf("target failures = %+v", res.Failures)
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	insts := cluster(2, nil)
	res := mustPlace(t, NewSnapshot(insts), Request{Count: 3, CPU: 3000, Targets: []string{"i0001", "nope", "i0001"}})
	if strings.Join(res.Placements, ",") != "i0001" {
		t.Errorf("placements = %v", res.Placements)
	}
	var reasons []string
	for _, f := range res.Failures {
		reasons = append(reasons, f.InstanceID+":"+f.Reason)
	}
	if strings.Join(reasons, ",") != "i0001:RESOURCE:CPU,nope:MISSING" {
		t.Errorf("failures = %v", reasons)
	}
}

func TestPlanOverlayPorts(t *testing.T) {
	t.Parallel()
	// A static host port fits once per instance within one request.
	s := NewSnapshot(cluster(3, nil))
	res := mustPlace(t, s, Request{Count: 4, Ports: []int32{80}})
	if len(res.Placements) != 3 || len(res.Failures) != 3 || res.Failures[0].Reason != ReasonPorts {
		t.Errorf("placements %v failures %+v", res.Placements, res.Failures)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	long := "attribute:a == " + strings.Repeat("x", MaxExpressionLength)
	tests := []struct {
		req  Request
		want string
	}{
		{Request{Strategies: make([]Strategy, 6)}, "exceeds the limit of 5"},
		{Request{Constraints: make([]Constraint, 11)}, "exceeds the limit of 10"},
		{Request{Strategies: []Strategy{{Type: "binpack", Field: "disk"}}}, "use cpu or memory"},
		{Request{Strategies: []Strategy{{Type: "spread", Field: "az"}}}, "use instanceId, host or attribute"},
		{Request{Strategies: []Strategy{{Type: "random", Field: "x"}}}, "takes no field"},
		{Request{Strategies: []Strategy{{Type: "pack"}}}, "Invalid placement strategy type"},
		{Request{Constraints: []Constraint{{Type: "distinctInstance", Expression: "x"}}}, "cannot be specified"},
		{Request{Constraints: []Constraint{{Type: "memberOf"}}}, "is required"},
		{Request{Constraints: []Constraint{{Type: "memberOf", Expression: long}}}, "exceeds 2000"},
		{Request{Constraints: []Constraint{{Type: "memberOf", Expression: "attribute:a =="}}}, "expected value at position 15"},
		{Request{Constraints: []Constraint{{Type: "sameHost"}}}, "Invalid placement constraint type"},
		{Request{Count: 2, Targets: []string{"a"}}, "one target instance per task"},
	}
	for _, tt := range tests {
		err := Validate(tt.req)
		var ve *ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.req, err, tt.want)
		}
	}
	ok := Request{
		Strategies:  []Strategy{{"spread", "attribute:ecs.availability-zone"}, {"binpack", "MEMORY"}, {"spread", "host"}, {"random", ""}, {"binpack", "cpu"}},
		Constraints: []Constraint{{"distinctInstance", ""}, {"memberOf", "attribute:ecs.instance-type =~ t3.*"}},
	}
	if err := Validate(ok); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestLocationKeepsAwsvpcTasksInTheirSubnets: an awsvpc request naming
// subnets goes only to instances whose task network is one of them (or
// that name none).
func TestLocationKeepsAwsvpcTasksInTheirSubnets(t *testing.T) {
	t.Parallel()
	insts := cluster(3, nil)
	for i, sn := range []string{"subnet-a", "subnet-b", ""} {
		insts[i].AwsvpcSlots = 10
		if sn != "" {
			insts[i].Attributes[SubnetAttribute] = sn
		}
	}
	s := NewSnapshot(insts)
	res := mustPlace(t, s, Request{Count: 6, Awsvpc: true, Subnets: []string{"subnet-b"}, Strategies: []Strategy{{"spread", "instanceId"}}})
	for _, id := range res.Placements {
		if id == "i0000" {
			t.Fatalf("placed on the instance of subnet-a: %v", res.Placements)
		}
	}
	if len(res.Placements) != 6 {
		t.Fatalf("placed %v: %s", res.Placements, res.Explanation(3))
	}
	if any := mustPlace(t, s, Request{Count: 3, Awsvpc: true, Strategies: []Strategy{{"spread", "instanceId"}}}); len(countBy(s, any.Placements, SubnetAttribute)) != 3 {
		t.Errorf("without subnets every instance takes tasks: %v", any.Placements)
	}
}
