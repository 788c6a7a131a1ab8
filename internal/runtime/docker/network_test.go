package docker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
)

// createNetwork makes a labelled bridge network on a random /24 of
// 172.30.0.0/16, trying another when the subnet is taken.
func createNetwork(t *testing.T, rt runtime.Runtime) (runtime.NetworkInfo, string) {
	t.Helper()
	for range 10 {
		prefix := fmt.Sprintf("172.30.%d", rand.IntN(256))
		n, err := rt.CreateNetwork(t.Context(), runtime.NetworkSpec{
			Name: dockertest.Name(t), Subnet: prefix + ".0/24", Labels: dockertest.Labels(t),
		})
		if errors.Is(err, runtime.ErrConflict) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dockertest.CleanupNetwork(t, rt, n.ID)
		return n, prefix
	}
	t.Fatal("no free subnet in 172.30.0.0/16")
	return runtime.NetworkInfo{}, ""
}

// TestAwsvpcStyleNetworking runs a pause container with a fixed address on a
// Berth-managed bridge and the sample app in its network namespace, and
// reaches the app on the pause container's address from the host.
func TestAwsvpcStyleNetworking(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	ctx := t.Context()
	n, prefix := createNetwork(t, rt)
	if n.Subnet != prefix+".0/24" || n.Driver != "bridge" || n.Labels[dockertest.LabelTest] != "1" {
		t.Fatalf("network = %+v", n)
	}
	ip := prefix + ".10"
	// Not the MAC the engine would derive from the address (02:42 and its
	// bytes): the spec's MAC must be the one applied.
	const mac = "02:b5:00:00:00:0a"
	pause := dockertest.Run(t, rt, runtime.ContainerSpec{
		Image: images.Pause, NetworkMode: n.Name, IPv4Address: ip, MACAddress: mac, NetworkAliases: []string{"task"},
	})
	app := dockertest.Run(t, rt, runtime.ContainerSpec{Image: images.SampleApp, NetworkMode: runtime.ContainerNetwork(pause)})

	if code, body := getUntil(t, "http://"+ip+":8080/health", 10*time.Second); code != 200 {
		t.Fatalf("GET /health on the pause container's address = %d %s", code, body)
	}
	_, body := getUntil(t, "http://"+ip+":8080/", 5*time.Second)
	if !strings.Contains(body, ip+"/24") {
		t.Errorf("the app does not see the pause container's address %s:\n%s", ip, body)
	}

	pi := inspect(t, rt, pause)
	if len(pi.Networks) != 1 || pi.Networks[0].Network != n.Name || pi.Networks[0].IPv4Address != ip || pi.Networks[0].PrefixLen != 24 ||
		pi.Networks[0].MACAddress != mac {
		t.Fatalf("pause networks = %+v, want %s %s on %s", pi.Networks, ip, mac, n.Name)
	}
	if ai := inspect(t, rt, app); ai.NetworkMode != runtime.ContainerNetwork(pause) {
		t.Errorf("app network mode %q", ai.NetworkMode)
	}
	ni, err := rt.InspectNetwork(ctx, n.Name)
	if err != nil {
		t.Fatal(err)
	}
	if ni.Containers[pause] != ip {
		t.Errorf("network containers = %v, want %s at %s", ni.Containers, pause, ip)
	}

	// Connect and disconnect a running container with a fixed address.
	other := dockertest.Run(t, rt, runtime.ContainerSpec{Image: images.Pause})
	if err := rt.ConnectNetwork(ctx, n.Name, other, runtime.Endpoint{IPv4Address: prefix + ".11"}); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, a := range inspect(t, rt, other).Networks {
		found = found || (a.Network == n.Name && a.IPv4Address == prefix+".11")
	}
	if !found {
		t.Errorf("after connect: %+v", inspect(t, rt, other).Networks)
	}
	if err := rt.ConnectNetwork(ctx, n.Name, other, runtime.Endpoint{}); !errors.Is(err, runtime.ErrConflict) && err != nil {
		t.Errorf("connecting twice: %v", err)
	}
	if err := rt.DisconnectNetwork(ctx, n.Name, other, false); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemoveNetwork(ctx, n.ID); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("removing a network in use: %v, want conflict", err)
	}
	list, err := rt.ListNetworks(ctx, runtime.Filter{Labels: map[string]string{dockertest.LabelTestName: t.Name()}})
	if err != nil || len(list) != 1 || list[0].ID != n.ID {
		t.Errorf("list networks = %+v, %v", list, err)
	}
}

func TestMountsAndVolumes(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	ctx := t.Context()
	vol, err := rt.CreateVolume(ctx, runtime.VolumeSpec{Name: dockertest.Name(t), Labels: dockertest.Labels(t)})
	if err != nil {
		t.Fatal(err)
	}
	dockertest.CleanupVolume(t, rt, vol.Name)
	if vol.Driver != "local" || vol.Labels[dockertest.LabelTest] != "1" {
		t.Fatalf("volume = %+v", vol)
	}
	dir := t.TempDir()
	spec := sampleApp()
	spec.ReadonlyRootfs = true
	spec.Mounts = []runtime.Mount{
		{Type: runtime.MountVolume, Source: vol.Name, Target: "/data"},
		{Type: runtime.MountBind, Source: dir, Target: "/host"},
		{Type: runtime.MountTmpfs, Target: "/scratch", Options: []string{"size=1m", "noexec"}},
	}
	id := dockertest.Run(t, rt, spec)
	base := "http://127.0.0.1:" + strconv.Itoa(int(hostPort(t, inspect(t, rt, id))))
	getUntil(t, base+"/health", 10*time.Second)
	for _, path := range []string{"/data/a", "/host/b", "/scratch/c"} {
		if code := put(t, base+"/file?path="+path, "hello "+path); code != 200 {
			t.Errorf("writing %s: %d", path, code)
		}
		if code, body := getUntil(t, base+"/file?path="+path, time.Second); code != 200 || body != "hello "+path {
			t.Errorf("reading %s: %d %q", path, code, body)
		}
	}
	if code := put(t, base+"/file?path=/rootfs-file", "x"); code == 200 {
		t.Error("wrote to a read-only root filesystem")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b")); err != nil || string(b) != "hello /host/b" {
		t.Errorf("bind mount on the host: %q %v", b, err)
	}
	var sawVolume bool
	for _, m := range inspect(t, rt, id).Mounts {
		sawVolume = sawVolume || (m.Type == "volume" && m.Name == vol.Name && m.Destination == "/data")
	}
	if !sawVolume {
		t.Errorf("mounts = %+v", inspect(t, rt, id).Mounts)
	}
	if err := rt.RemoveVolume(ctx, vol.Name, false); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("removing a volume in use: %v, want conflict", err)
	}
	list, err := rt.ListVolumes(ctx, runtime.Filter{Labels: map[string]string{dockertest.LabelTestName: t.Name()}})
	if err != nil || len(list) != 1 || list[0].Name != vol.Name {
		t.Errorf("list volumes = %+v, %v", list, err)
	}
}

func put(t *testing.T, url, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSpecReachesContainer checks, from inside the container, the settings
// a task definition carries.
func TestSpecReachesContainer(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	spec := sampleApp()
	spec.Env = map[string]string{"GREETING": "hello", "PORT": "8080"}
	spec.Hostname = "web-1"
	spec.User = "65534"
	spec.ExtraHosts = []runtime.HostEntry{{Hostname: "db.internal", IP: "192.0.2.77"}}
	spec.Ulimits = []runtime.Ulimit{{Name: "nofile", Soft: 1234, Hard: 2345}}
	spec.MemoryBytes = 64 << 20
	spec.MemoryReservationBytes = 32 << 20
	spec.CPUShares = 256
	spec.Init = true
	spec.CapDrop = []string{"ALL"}
	spec.StopTimeout = ptr(5 * time.Second)
	id := dockertest.Run(t, rt, spec)
	base := "http://127.0.0.1:" + strconv.Itoa(int(hostPort(t, inspect(t, rt, id))))
	getUntil(t, base+"/health", 10*time.Second)

	for _, tc := range []struct{ path, want string }{
		{"/env", `"GREETING": "hello"`},
		{"/file?path=/etc/hostname", "web-1"},
		{"/file?path=/etc/hosts", "192.0.2.77\tdb.internal"},
		// Go raises the soft nofile limit itself; the hard one is ours.
		{"/file?path=/proc/self/limits", "2345                 files"},
		{"/file?path=/proc/self/status", "Uid:\t65534"},
		{"/resolve?host=db.internal", "192.0.2.77"},
	} {
		if code, body := getUntil(t, base+tc.path, time.Second); code != 200 || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s = %d, want %q in:\n%s", tc.path, code, tc.want, body)
		}
	}
	// With init, the app is not PID 1.
	if _, body := getUntil(t, base+"/", time.Second); strings.Contains(body, `"pid": 1,`) {
		t.Errorf("the app is PID 1 despite init:\n%s", body)
	}
	// The memory limit shows in the cgroup (v2 or v1 layout).
	_, v2 := getUntil(t, base+"/file?path=/sys/fs/cgroup/memory.max", time.Second)
	_, v1 := getUntil(t, base+"/file?path=/sys/fs/cgroup/memory/memory.limit_in_bytes", time.Second)
	if !strings.Contains(v2+v1, strconv.Itoa(64<<20)) {
		t.Errorf("memory limit not in the cgroup: v2 %q v1 %q", v2, v1)
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkDockerRunBaseline is create + start (running when start returns)
// of the sample image through the runtime: the floor for the agent's own
// task start figures. Removal is outside the timer.
func BenchmarkDockerRunBaseline(b *testing.B) {
	rt := dockertest.Runtime(b)
	ctx := context.Background()
	var ids []string
	b.Cleanup(func() {
		for _, id := range ids {
			_ = rt.RemoveContainer(context.Background(), id, runtime.RemoveOptions{Force: true})
		}
	})
	var create, start time.Duration
	for b.Loop() {
		t0 := time.Now()
		id, err := rt.CreateContainer(ctx, runtime.ContainerSpec{
			Name: dockertest.Name(b), Image: images.SampleApp, Labels: dockertest.Labels(b),
			Ports: []runtime.PortMapping{{ContainerPort: images.SampleAppPort}},
		})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
		t1 := time.Now()
		if err := rt.StartContainer(ctx, id); err != nil {
			b.Fatal(err)
		}
		create, start = create+t1.Sub(t0), start+time.Since(t1)
		b.StopTimer()
		if err := rt.RemoveContainer(ctx, id, runtime.RemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(create.Milliseconds())/float64(b.N), "create-ms/op")
	b.ReportMetric(float64(start.Milliseconds())/float64(b.N), "start-ms/op")
}
