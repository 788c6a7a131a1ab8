package agent

import (
	"reflect"
	"testing"

	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/runtime"
)

func TestBuildRegistration(t *testing.T) {
	t.Parallel()
	info := runtime.EngineInfo{CPUs: 2, MemoryBytes: 4096 << 20, APIVersion: "1.41", Arch: "x86_64",
		LogDrivers: []string{"json-file", "syslog", "none"}, VolumeDrivers: []string{"local"}}
	tests := []struct {
		name  string
		cfg   func(*config.Config)
		check func(t *testing.T, r Registration)
	}{
		{name: "defaults from the engine", check: func(t *testing.T, r Registration) {
			if r.CPU != 2048 || r.Memory != 4096 {
				t.Errorf("cpu %d memory %d", r.CPU, r.Memory)
			}
			if want := []string{"22", "2375", "2376", "51678", "51679", "61000"}; !reflect.DeepEqual(r.Ports, want) {
				t.Errorf("ports %v, want %v", r.Ports, want)
			}
			for _, k := range []string{"ecs.os-type", "ecs.cpu-architecture", "ecs.instance-type",
				"com.amazonaws.ecs.capability.docker-remote-api.1.17", "com.amazonaws.ecs.capability.docker-remote-api.1.41",
				"com.amazonaws.ecs.capability.logging-driver.json-file", "com.amazonaws.ecs.capability.logging-driver.none",
				"ecs.capability.container-health-check", "ecs.capability.task-eni", "ecs.capability.container-ordering",
				"ecs.capability.docker-volume-driver.local", SubnetAttribute} {
				if _, ok := r.Attributes[k]; !ok {
					t.Errorf("missing attribute %s", k)
				}
			}
			if _, ok := r.Attributes["com.amazonaws.ecs.capability.docker-remote-api.1.42"]; ok {
				t.Error("advertises an API newer than the engine's")
			}
			if r.Attributes["ecs.cpu-architecture"] != "x86_64" || r.Attributes[SubnetAttribute] != "172.30.7.0/24" {
				t.Errorf("attributes %v", r.Attributes)
			}
			if _, ok := r.Attributes["ecs.availability-zone"]; ok {
				t.Error("availability zone set without one configured")
			}
		}},
		{name: "flags override the engine", cfg: func(c *config.Config) {
			c.CPU, c.Memory, c.ReservedMemory = 512, 1024, 256
			c.AvailabilityZone, c.InstanceType = "us-east-1b", "t3.small"
			c.Attributes = map[string]string{"stack": "prod"}
			c.ReservedPortsUDP = []int{53}
		}, check: func(t *testing.T, r Registration) {
			if r.CPU != 512 || r.Memory != 768 || !reflect.DeepEqual(r.PortsUDP, []string{"53"}) {
				t.Errorf("cpu %d memory %d udp %v", r.CPU, r.Memory, r.PortsUDP)
			}
			if r.Attributes["ecs.availability-zone"] != "us-east-1b" || r.Attributes["ecs.instance-type"] != "t3.small" || r.Attributes["stack"] != "prod" {
				t.Errorf("attributes %v", r.Attributes)
			}
		}},
		{name: "only available log drivers", cfg: func(c *config.Config) {
			c.LoggingDrivers = []string{"json-file", "syslog", "awslogs"}
		}, check: func(t *testing.T, r Registration) {
			if _, ok := r.Attributes["com.amazonaws.ecs.capability.logging-driver.syslog"]; !ok {
				t.Error("syslog missing")
			}
			if _, ok := r.Attributes["com.amazonaws.ecs.capability.logging-driver.awslogs"]; ok {
				t.Error("awslogs advertised though the engine lacks it")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			tt.check(t, buildRegistration(cfg, info, "172.30.7.0/24", []int{61000, 22}))
		})
	}
}

func TestSubnetCandidates(t *testing.T) {
	t.Parallel()
	a, b := subnetCandidates("agent-a"), subnetCandidates("agent-a")
	if !reflect.DeepEqual(a, b) || len(a) != 256 {
		t.Fatalf("candidates not stable: %d", len(a))
	}
	seen := map[string]bool{}
	for _, s := range a {
		if seen[s] {
			t.Fatalf("duplicate %s", s)
		}
		seen[s] = true
	}
	if !seen["172.30.0.0/24"] || !seen["172.30.255.0/24"] {
		t.Error("pool not covered")
	}
}
