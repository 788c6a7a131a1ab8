package engine

import (
	"reflect"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/runtime"
)

func TestBuildSpec(t *testing.T) {
	t.Parallel()
	env := Env{AgentID: "ag", InstanceARN: "inst", Region: "eu-west-1", StopTimeout: 30 * time.Second,
		MetadataURL: func(mode string) string { return "http://md-" + mode }, Network: "berth-awsvpc-ag"}
	full := ecsapi.ContainerDefinition{
		Name: ptr("web"), Image: ptr("img:1"), Cpu: ptr(int32(256)), Memory: ptr(int32(128)), MemoryReservation: ptr(int32(64)),
		EntryPoint: []string{"/bin/app"}, Command: []string{"serve"}, WorkingDirectory: ptr("/srv"), User: ptr("1000"),
		Environment:  []ecsapi.KeyValuePair{{Name: ptr("A"), Value: ptr("1")}},
		PortMappings: []ecsapi.PortMapping{{ContainerPort: ptr(int32(8080))}, {ContainerPort: ptr(int32(53)), HostPort: ptr(int32(5353)), Protocol: ptr(ecsapi.TransportProtocolUdp)}},
		HealthCheck:  &ecsapi.HealthCheck{Command: []string{"CMD-SHELL", "true"}, Retries: ptr(int32(5))},
		StopTimeout:  ptr(int32(7)), Hostname: ptr("h"), ExtraHosts: []ecsapi.HostEntry{{Hostname: "db", IpAddress: "10.0.0.1"}},
		DnsServers: []string{"1.1.1.1"}, ReadonlyRootFilesystem: ptr(true), Privileged: ptr(true),
		Ulimits:      []ecsapi.Ulimit{{Name: "nofile", SoftLimit: 1024, HardLimit: 2048}},
		DockerLabels: map[string]string{"team": "x"},
		LinuxParameters: &ecsapi.LinuxParameters{InitProcessEnabled: ptr(true), SharedMemorySize: ptr(int32(64)),
			Capabilities: &ecsapi.KernelCapabilities{Add: []string{"NET_ADMIN"}, Drop: []string{"MKNOD"}},
			Tmpfs:        []ecsapi.Tmpfs{{ContainerPath: "/tmp", Size: 32, MountOptions: []string{"noexec"}}}},
		MountPoints: []ecsapi.MountPoint{{SourceVolume: ptr("data"), ContainerPath: ptr("/data"), ReadOnly: ptr(true)},
			{SourceVolume: ptr("scratch"), ContainerPath: ptr("/scratch")}, {SourceVolume: ptr("shared"), ContainerPath: ptr("/shared")}},
		Links:       []string{"db:database"},
		VolumesFrom: []ecsapi.VolumeFrom{{SourceContainer: ptr("db"), ReadOnly: ptr(true)}},
	}
	spec := agentproto.TaskSpec{TaskARN: "arn:aws:ecs:r:1:task/c/t1", ClusterARN: "arn:cluster", DesiredStatus: "RUNNING",
		Definition: ecsapi.TaskDefinition{Family: ptr("fam"), Revision: ptr(int32(2)), ContainerDefinitions: []ecsapi.ContainerDefinition{full, {Name: ptr("db"), Image: ptr("db")}},
			Volumes: []ecsapi.Volume{
				{Name: ptr("data"), Host: &ecsapi.HostVolumeProperties{SourcePath: ptr("/srv/data")}},
				{Name: ptr("scratch")},
				{Name: ptr("shared"), DockerVolumeConfiguration: &ecsapi.DockerVolumeConfiguration{Scope: ptr(ecsapi.ScopeShared), Autoprovision: ptr(true), Driver: ptr("local"), Labels: map[string]string{"k": "v"}}},
			}}}
	tk := NewTask(spec)
	got, err := buildSpec(tk, tk.Container("web"), env, "")
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", name, got, want)
		}
	}
	check("name", got.Name, "ecs-fam-2-web-t1")
	check("cpu shares", got.CPUShares, int64(256))
	check("memory", got.MemoryBytes, int64(128<<20))
	check("reservation", got.MemoryReservationBytes, int64(64<<20))
	check("stop timeout", *got.StopTimeout, 7*time.Second)
	check("env A", got.Env["A"], "1")
	check("metadata", got.Env["ECS_CONTAINER_METADATA_URI_V4"], "http://md-bridge/v4/"+tk.Container("web").MetadataToken)
	check("region", got.Env["AWS_REGION"], "eu-west-1")
	check("ports", got.Ports, []runtime.PortMapping{{ContainerPort: 8080, Protocol: "tcp", HostIP: "0.0.0.0"}, {ContainerPort: 53, HostPort: 5353, Protocol: "udp", HostIP: "0.0.0.0"}})
	check("health", got.HealthCheck, &runtime.HealthCheck{Test: []string{"CMD-SHELL", "true"}, Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 5})
	check("ulimits", got.Ulimits, []runtime.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}})
	check("init", got.Init, true)
	check("shm", got.ShmSizeBytes, int64(64<<20))
	check("caps", [][]string{got.CapAdd, got.CapDrop}, [][]string{{"NET_ADMIN"}, {"MKNOD"}})
	check("links", got.Links, []string{"ecs-fam-2-db-t1:database"})
	check("volumesFrom", got.VolumesFrom, []string{"ecs-fam-2-db-t1:ro"})
	check("labels", []string{got.Labels["team"], got.Labels[LabelAgent], got.Labels[LabelTaskARN], got.Labels[LabelContainerName], got.Labels[LabelRevision]},
		[]string{"x", "ag", spec.TaskARN, "web", "2"})
	check("misc", []any{got.User, got.WorkingDir, got.Hostname, got.ReadonlyRootfs, got.Privileged, got.DNS, got.NetworkMode},
		[]any{"1000", "/srv", "h", true, true, []string{"1.1.1.1"}, "bridge"})
	check("extra hosts", got.ExtraHosts, []runtime.HostEntry{{Hostname: "db", IP: "10.0.0.1"}})
	if len(got.Mounts) != 4 {
		t.Fatalf("mounts %+v", got.Mounts)
	}
	check("tmpfs", got.Mounts[0], runtime.Mount{Type: runtime.MountTmpfs, Target: "/tmp", Options: []string{"size=32m", "noexec"}})
	check("bind", got.Mounts[1], runtime.Mount{Type: runtime.MountBind, Source: "/srv/data", Target: "/data", ReadOnly: true})
	if m := got.Mounts[2]; m.Type != runtime.MountVolume || m.Source != "ecs-fam-2-scratch-t1" || m.VolumeLabels[LabelTaskARN] != spec.TaskARN {
		t.Errorf("task volume %+v", m)
	}
	if m := got.Mounts[3]; m.Type != runtime.MountVolume || m.Source != "shared" || m.VolumeDriver != "local" || m.VolumeLabels["k"] != "v" {
		t.Errorf("shared volume %+v", m)
	}
}

func TestBuildSpecNetworkModes(t *testing.T) {
	t.Parallel()
	env := Env{AgentID: "ag", MetadataURL: func(mode string) string { return "http://md-" + mode }, Network: "berth-net"}
	def := ecsapi.ContainerDefinition{Name: ptr("app"), Image: ptr("img"), PortMappings: []ecsapi.PortMapping{{ContainerPort: ptr(int32(80))}}}
	for _, tt := range []struct{ mode, wantNet string }{
		{"host", "host"}, {"none", "none"}, {"awsvpc", "container:pause-id"},
	} {
		nm := ecsapi.NetworkMode(tt.mode)
		tk := NewTask(agentproto.TaskSpec{TaskARN: "arn:x:task/c/t2", Network: &agentproto.TaskNetwork{IPv4: "172.30.1.5"},
			Definition: ecsapi.TaskDefinition{Family: ptr("f"), NetworkMode: &nm, ContainerDefinitions: []ecsapi.ContainerDefinition{def}}})
		got, err := buildSpec(tk, tk.Container("app"), env, "pause-id")
		if err != nil {
			t.Fatal(err)
		}
		if got.NetworkMode != tt.wantNet || len(got.Ports) != 0 {
			t.Errorf("%s: network %q ports %v", tt.mode, got.NetworkMode, got.Ports)
		}
		if tt.mode == "awsvpc" {
			p, _ := buildSpec(tk, tk.Containers[0], env, "")
			if !tk.Containers[0].Pause || p.NetworkMode != "berth-net" || p.IPv4Address != "172.30.1.5" || p.Image != PauseImage {
				t.Errorf("pause spec %+v", p)
			}
		}
	}
}

// TestBuildSpecMetadataURIByNetworkMode: every mode with a network gets the
// endpoint as seen from that mode; none gets no URI at all (it could not reach
// one), as the ECS agent offers none-mode tasks no endpoint.
func TestBuildSpecMetadataURIByNetworkMode(t *testing.T) {
	t.Parallel()
	env := Env{AgentID: "ag", MetadataURL: func(mode string) string { return "http://md-" + mode }, Network: "berth-net"}
	def := ecsapi.ContainerDefinition{Name: ptr("app"), Image: ptr("img")}
	for _, tt := range []struct {
		mode string // "" is the default, bridge
		want string // URI prefix; "" means the variables must be absent
	}{
		{"", "http://md-bridge/v4/"},
		{"bridge", "http://md-bridge/v4/"},
		{"host", "http://md-host/v4/"},
		{"awsvpc", "http://md-awsvpc/v4/"},
		{"none", ""},
	} {
		name := tt.mode
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := ecsapi.TaskDefinition{Family: ptr("f"), ContainerDefinitions: []ecsapi.ContainerDefinition{def}}
			if tt.mode != "" {
				nm := ecsapi.NetworkMode(tt.mode)
				d.NetworkMode = &nm
			}
			tk := NewTask(agentproto.TaskSpec{TaskARN: "arn:x:task/c/t3", Definition: d})
			got, err := buildSpec(tk, tk.Container("app"), env, "pause-id")
			if err != nil {
				t.Fatal(err)
			}
			v4, ok := got.Env["ECS_CONTAINER_METADATA_URI_V4"]
			if tt.want == "" {
				if ok {
					t.Errorf("ECS_CONTAINER_METADATA_URI_V4 = %q in network mode none, want it absent", v4)
				}
			} else if !ok || v4 != tt.want+tk.Container("app").MetadataToken {
				t.Errorf("ECS_CONTAINER_METADATA_URI_V4 = %q (set %v), want %q + token", v4, ok, tt.want)
			}
			if v3, ok := got.Env["ECS_CONTAINER_METADATA_URI"]; ok && tt.want == "" {
				t.Errorf("ECS_CONTAINER_METADATA_URI = %q in network mode none, want it absent", v3)
			}
			// Other injected variables do not depend on the network.
			if got.Env["AWS_EXECUTION_ENV"] != "AWS_ECS_EC2" {
				t.Errorf("env %v", got.Env)
			}
		})
	}
}
