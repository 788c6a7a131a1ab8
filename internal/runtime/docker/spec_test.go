package docker

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/berth-dev/berth/internal/runtime"
)

func TestToDocker(t *testing.T) {
	t.Parallel()
	stop := 7500 * time.Millisecond
	ds, err := toDocker(runtime.ContainerSpec{
		Name: "web", Image: "img", Command: []string{"a"}, Env: map[string]string{"B": "2", "A": "1"},
		Ports: []runtime.PortMapping{
			{ContainerPort: 8080},
			{ContainerPort: 53, HostPort: 5353, Protocol: runtime.UDP, HostIP: "127.0.0.1"},
		},
		Mounts: []runtime.Mount{
			{Type: runtime.MountBind, Source: "/srv", Target: "/data", ReadOnly: true},
			{Type: runtime.MountVolume, Source: "vol", Target: "/v", VolumeDriver: "local", VolumeLabels: map[string]string{"k": "v"}},
			{Type: runtime.MountTmpfs, Target: "/tmp", Options: []string{"size=1m"}, ReadOnly: true},
		},
		NetworkMode: "berth-task", IPv4Address: "172.30.0.5", NetworkAliases: []string{"web"},
		ExtraHosts: []runtime.HostEntry{{Hostname: "db", IP: "192.0.2.1"}},
		Ulimits:    []runtime.Ulimit{{Name: "nofile", Soft: 1, Hard: 2}},
		Init:       true, StopTimeout: &stop, StopSignal: "SIGQUIT",
		MemoryBytes: 128 << 20, MemoryReservationBytes: 64 << 20, CPUShares: 512,
		HealthCheck: &runtime.HealthCheck{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, h := ds.config, ds.host
	if got := strings.Join(c.Env, ","); got != "A=1,B=2" {
		t.Errorf("env %q, want sorted", got)
	}
	wantPorts := nat.PortMap{
		"8080/tcp": {{HostIP: "", HostPort: ""}},
		"53/udp":   {{HostIP: "127.0.0.1", HostPort: "5353"}},
	}
	if !reflect.DeepEqual(h.PortBindings, wantPorts) || len(c.ExposedPorts) != 2 {
		t.Errorf("ports %v exposed %v", h.PortBindings, c.ExposedPorts)
	}
	if !reflect.DeepEqual(h.Binds, []string{"/srv:/data:ro"}) {
		t.Errorf("binds %v", h.Binds)
	}
	if len(h.Mounts) != 1 || h.Mounts[0].Source != "vol" || h.Mounts[0].VolumeOptions.DriverConfig.Name != "local" || h.Mounts[0].VolumeOptions.Labels["k"] != "v" {
		t.Errorf("mounts %+v", h.Mounts)
	}
	if h.Tmpfs["/tmp"] != "size=1m,ro" {
		t.Errorf("tmpfs %v", h.Tmpfs)
	}
	ep := ds.net.EndpointsConfig["berth-task"]
	if ep == nil || ep.IPAMConfig.IPv4Address != "172.30.0.5" || ep.Aliases[0] != "web" || h.NetworkMode != "berth-task" {
		t.Errorf("network %+v mode %s", ds.net, h.NetworkMode)
	}
	if *c.StopTimeout != 8 || c.StopSignal != "SIGQUIT" || h.Init == nil || !*h.Init {
		t.Errorf("stop timeout %d (want 7.5s rounded up) signal %s init %v", *c.StopTimeout, c.StopSignal, h.Init)
	}
	if h.ExtraHosts[0] != "db:192.0.2.1" || h.Ulimits[0].Hard != 2 || h.Memory != 128<<20 || h.MemoryReservation != 64<<20 || h.CPUShares != 512 {
		t.Errorf("host config %+v", h)
	}
	if c.Healthcheck.Interval != time.Second || c.Healthcheck.Retries != 3 {
		t.Errorf("healthcheck %+v", c.Healthcheck)
	}
}

func TestToDockerRejects(t *testing.T) {
	t.Parallel()
	for name, spec := range map[string]runtime.ContainerSpec{
		"sctp":          {Ports: []runtime.PortMapping{{ContainerPort: 1, Protocol: "sctp"}}},
		"no port":       {Ports: []runtime.PortMapping{{HostPort: 80}}},
		"mount type":    {Mounts: []runtime.Mount{{Type: "nfs", Target: "/x"}}},
		"bind source":   {Mounts: []runtime.Mount{{Type: runtime.MountBind, Target: "/x"}}},
		"ip on bridge":  {NetworkMode: runtime.NetworkBridge, IPv4Address: "172.17.0.9"},
		"alias on host": {NetworkMode: runtime.NetworkHost, NetworkAliases: []string{"x"}},
		"mac on bridge": {NetworkMode: runtime.NetworkBridge, MACAddress: "02:42:00:00:00:01"},
	} {
		if _, err := toDocker(spec); err == nil {
			t.Errorf("%s: accepted %+v", name, spec)
		}
	}
}

func TestFromInspect(t *testing.T) {
	t.Parallel()
	in := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{
			ID: "abc", Name: "/web", Image: "sha256:1", Created: "2026-01-02T03:04:05.5Z",
			State: &container.State{
				Status: "exited", ExitCode: 3, OOMKilled: true,
				StartedAt: "2026-01-02T03:04:06Z", FinishedAt: "0001-01-01T00:00:00Z",
				Health: &container.Health{Status: "unhealthy", FailingStreak: 4, Log: []*container.HealthcheckResult{{ExitCode: 1, Output: "boom"}}},
			},
			HostConfig: &container.HostConfig{NetworkMode: "bridge"},
		},
		Config: &container.Config{Image: "img", Labels: map[string]string{"a": "b"}},
		NetworkSettings: &container.NetworkSettings{
			NetworkSettingsBase: container.NetworkSettingsBase{Ports: nat.PortMap{
				"8080/tcp": {{HostIP: "::", HostPort: "49153"}, {HostIP: "0.0.0.0", HostPort: "49153"}},
			}},
			Networks: map[string]*network.EndpointSettings{"bridge": {IPAddress: "172.17.0.2", IPPrefixLen: 16, Gateway: "172.17.0.1"}},
		},
	}
	got := fromInspect(in)
	if got.Name != "web" || got.State != runtime.StateExited || got.ExitCode != 3 || !got.OOMKilled || !got.FinishedAt.IsZero() || got.StartedAt.IsZero() {
		t.Errorf("state %+v", got)
	}
	if got.Health.Status != runtime.HealthUnhealthy || got.Health.FailingStreak != 4 || got.Health.LastOutput != "boom" || got.Health.LastExitCode != 1 {
		t.Errorf("health %+v", got.Health)
	}
	want := []runtime.PortBinding{
		{ContainerPort: 8080, Protocol: "tcp", HostIP: "0.0.0.0", HostPort: 49153},
		{ContainerPort: 8080, Protocol: "tcp", HostIP: "::", HostPort: 49153},
	}
	if !reflect.DeepEqual(got.Ports, want) {
		t.Errorf("ports %+v", got.Ports)
	}
	if len(got.Networks) != 1 || got.Networks[0].IPv4Address != "172.17.0.2" || got.Networks[0].PrefixLen != 16 {
		t.Errorf("networks %+v", got.Networks)
	}
}

func TestToEvent(t *testing.T) {
	t.Parallel()
	msg := func(action string, attrs map[string]string) events.Message {
		return events.Message{Type: events.ContainerEventType, Action: events.Action(action), TimeNano: 1e9,
			Actor: events.Actor{ID: "abc", Attributes: attrs}}
	}
	for _, tc := range []struct {
		msg  events.Message
		want runtime.Event
		ok   bool
	}{
		{msg("die", map[string]string{"exitCode": "137", "name": "web", "image": "img", "app": "x"}),
			runtime.Event{Type: runtime.EventDied, ExitCode: 137, Name: "web", Image: "img", Labels: map[string]string{"app": "x"}}, true},
		{msg("health_status: healthy", nil), runtime.Event{Type: runtime.EventHealth, Health: runtime.HealthHealthy, Labels: map[string]string{}}, true},
		{msg("health_status", nil), runtime.Event{}, false},
		{msg("kill", map[string]string{"signal": "15"}), runtime.Event{Type: runtime.EventKilled, Signal: "15", Labels: map[string]string{}}, true},
		{msg("exec_start: sh", nil), runtime.Event{Type: runtime.EventOther, Labels: map[string]string{}}, true},
		{events.Message{Type: events.NetworkEventType, Action: "connect"}, runtime.Event{}, false},
	} {
		got, ok := toEvent(tc.msg)
		if ok != tc.ok {
			t.Errorf("%s: ok %v", tc.msg.Action, ok)
			continue
		}
		if !ok {
			continue
		}
		tc.want.ContainerID, tc.want.Action, tc.want.Time = "abc", string(tc.msg.Action), time.Unix(1, 0)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.msg.Action, got, tc.want)
		}
	}
}

func TestPullClass(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]*runtime.Class{
		`Get "https://berth.invalid/v2/": dial tcp: lookup berth.invalid: no such host`:     runtime.ErrUnavailable,
		"manifest for x:1 not found: manifest unknown":                                      runtime.ErrImageNotFound,
		"pull access denied for x, repository does not exist or may require 'docker login'": runtime.ErrImageNotFound,
		"unauthorized: authentication required":                                             runtime.ErrUnauthorized,
		"failed to register layer: no space left on device":                                 runtime.ErrPull,
	} {
		if got := pullClass(errorString(msg)); got != want {
			t.Errorf("%q: %v, want %v", msg, got, want)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
