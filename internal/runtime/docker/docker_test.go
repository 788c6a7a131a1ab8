package docker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
)

// sampleApp is a spec for the sample app publishing 8080 on an ephemeral
// host port, with extra arguments.
func sampleApp(args ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		Image:   images.SampleApp,
		Command: args,
		Ports:   []runtime.PortMapping{{ContainerPort: images.SampleAppPort}},
	}
}

// hostPort returns the host port bound to 8080/tcp on 0.0.0.0.
func hostPort(t *testing.T, info runtime.ContainerInfo) uint16 {
	t.Helper()
	for _, p := range info.Ports {
		if p.ContainerPort == images.SampleAppPort && p.Protocol == runtime.TCP && p.HostIP == "0.0.0.0" && p.HostPort != 0 {
			return p.HostPort
		}
	}
	t.Fatalf("no host port for 8080/tcp in %+v", info.Ports)
	return 0
}

// getUntil GETs url until it answers or the deadline passes; the app needs
// a moment after start to listen.
func getUntil(t *testing.T, url string, within time.Duration) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(within)
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func inspect(t *testing.T, rt runtime.Runtime, id string) runtime.ContainerInfo {
	t.Helper()
	info, err := rt.InspectContainer(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestSampleAppOnEphemeralPort(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	id := dockertest.Run(t, rt, sampleApp())
	info := inspect(t, rt, id)
	if info.State != runtime.StateRunning || info.StartedAt.IsZero() || info.Image != images.SampleApp {
		t.Fatalf("after start: %+v", info)
	}
	port := hostPort(t, info)
	if port < 1024 {
		t.Errorf("host port %d is not ephemeral", port)
	}
	base := "http://127.0.0.1:" + strconv.Itoa(int(port))
	if code, body := getUntil(t, base+"/health", 10*time.Second); code != 200 {
		t.Fatalf("/health = %d %s", code, body)
	}
	code, body := getUntil(t, base+"/", 5*time.Second)
	var page struct{ Hostname string }
	if err := json.Unmarshal([]byte(body), &page); err != nil || code != 200 {
		t.Fatalf("/ = %d %s", code, body)
	}
	if !strings.HasPrefix(id, page.Hostname) {
		t.Errorf("hostname %q is not the container id %s", page.Hostname, id)
	}
}

func TestExitAfterReportsExitCode(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	ctx := t.Context()
	labels := dockertest.Labels(t, "berth.test.case", dockertest.Name(t))
	evctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, errs := rt.Events(evctx, runtime.Filter{Labels: labels})

	spec := sampleApp("--exit-after", "300ms", "--exit-code", "3")
	spec.Labels = labels
	id := dockertest.Run(t, rt, spec)
	st, err := rt.WaitContainer(ctx, id)
	if err != nil || st.ExitCode != 3 {
		t.Fatalf("wait = %+v, %v; want exit code 3", st, err)
	}
	info := inspect(t, rt, id)
	if info.State != runtime.StateExited || info.ExitCode != 3 || info.FinishedAt.Before(info.StartedAt) {
		t.Fatalf("after exit: state %s code %d started %s finished %s", info.State, info.ExitCode, info.StartedAt, info.FinishedAt)
	}
	var seen []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatalf("events ended: %v (seen %v)", <-errs, seen)
			}
			if ev.ContainerID != id {
				continue
			}
			seen = append(seen, ev.Type.String())
			if ev.Labels[dockertest.LabelTest] != "1" {
				t.Errorf("event %s without the container's labels: %v", ev.Type, ev.Labels)
			}
			if ev.Type == runtime.EventDied {
				if ev.ExitCode != 3 {
					t.Fatalf("die event exit code %d, want 3", ev.ExitCode)
				}
				if strings.Join(seen, ",") != "create,start,die" {
					t.Errorf("events %v, want create,start,die", seen)
				}
				return
			}
		case <-timeout:
			t.Fatalf("no die event; seen %v", seen)
		}
	}
}

// healthCheck runs the sample app's probe against itself.
var healthCheck = &runtime.HealthCheck{
	Test:     []string{"CMD", "/berth", "sample-app", "probe", "http://127.0.0.1:8080/health"},
	Interval: 300 * time.Millisecond,
	Timeout:  2 * time.Second,
	Retries:  2,
}

func TestHealthCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		want runtime.HealthStatus
	}{
		{"healthy", nil, runtime.HealthHealthy},
		{"unhealthy", []string{"--unhealthy"}, runtime.HealthUnhealthy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := dockertest.Runtime(t)
			labels := dockertest.Labels(t, "berth.test.case", dockertest.Name(t))
			evctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			evs, errs := rt.Events(evctx, runtime.Filter{Labels: labels})

			spec := runtime.ContainerSpec{Image: images.SampleApp, Command: tc.args, HealthCheck: healthCheck, Labels: labels}
			id := dockertest.Run(t, rt, spec)
			if h := inspect(t, rt, id).Health.Status; h != runtime.HealthStarting && h != tc.want {
				t.Errorf("health right after start %s, want starting", h)
			}
			timeout := time.After(30 * time.Second)
			for {
				select {
				case ev, ok := <-evs:
					if !ok {
						t.Fatalf("events ended: %v", <-errs)
					}
					if ev.ContainerID != id || ev.Type != runtime.EventHealth {
						continue
					}
					if ev.Health != tc.want {
						t.Fatalf("health event %s, want %s", ev.Health, tc.want)
					}
					info := inspect(t, rt, id)
					if info.Health.Status != tc.want {
						t.Fatalf("inspect health %s after a %s event", info.Health.Status, tc.want)
					}
					if tc.want == runtime.HealthUnhealthy && (info.Health.FailingStreak < 2 || info.Health.LastExitCode != 1) {
						t.Errorf("unhealthy with streak %d, last exit %d, output %q", info.Health.FailingStreak, info.Health.LastExitCode, info.Health.LastOutput)
					}
					return
				case <-timeout:
					t.Fatalf("no health event; inspect says %+v", inspect(t, rt, id).Health)
				}
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		image    string
		args     []string
		timeout  time.Duration
		wantCode int
		min, max time.Duration
	}{
		// The app leaves on SIGTERM at once: well before the timeout.
		{"graceful", images.SampleApp, nil, 20 * time.Second, 0, 0, 10 * time.Second},
		// It ignores SIGTERM: SIGKILL after the timeout, exit 137.
		{"killed after timeout", images.SampleApp, []string{"--ignore-sigterm"}, time.Second, 137, time.Second, 15 * time.Second},
		// The pause container also leaves at once, with 0.
		{"pause", images.Pause, nil, 20 * time.Second, 0, 0, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rt := dockertest.Runtime(t)
			spec := sampleApp(tc.args...)
			spec.Image = tc.image
			id := dockertest.Run(t, rt, spec)
			if tc.image == images.SampleApp {
				// Stop only once the app listens, so its signal handler is in place.
				getUntil(t, "http://127.0.0.1:"+strconv.Itoa(int(hostPort(t, inspect(t, rt, id))))+"/health", 10*time.Second)
			} else {
				time.Sleep(200 * time.Millisecond) // let the Go runtime install its handlers
			}
			start := time.Now()
			if err := rt.StopContainer(t.Context(), id, tc.timeout); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			info := inspect(t, rt, id)
			if info.State != runtime.StateExited || info.ExitCode != tc.wantCode {
				t.Fatalf("after stop: state %s exit %d, want exited %d", info.State, info.ExitCode, tc.wantCode)
			}
			if took < tc.min || took > tc.max {
				t.Errorf("stop took %s, want %s..%s", took, tc.min, tc.max)
			}
			// Stopping a stopped container is a no-op.
			if err := rt.StopContainer(t.Context(), id, time.Second); err != nil {
				t.Errorf("second stop: %v", err)
			}
		})
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	ctx := t.Context()
	bogus := "berth.local/no-such-image-" + strings.ToLower(dockertest.Name(t)) + ":1"

	_, err := rt.InspectImage(ctx, bogus)
	if !errors.Is(err, runtime.ErrImageNotFound) || !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("inspect bogus image: %v, want image not found", err)
	}
	_, err = rt.CreateContainer(ctx, runtime.ContainerSpec{Name: dockertest.Name(t), Image: bogus, Labels: dockertest.Labels(t)})
	if !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("create with bogus image: %v, want image not found", err)
	}
	// No registry is reachable here; the pull must fail classified, fast.
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = rt.PullImage(pctx, bogus, nil)
	if c := runtime.ClassOf(err); c != runtime.ErrImageNotFound && c != runtime.ErrUnavailable && c != runtime.ErrUnauthorized {
		t.Errorf("pull bogus image: %v (class %v)", err, c)
	}

	name := dockertest.Name(t)
	id := dockertest.Create(t, rt, runtime.ContainerSpec{Name: name, Image: images.SampleApp})
	_, err = rt.CreateContainer(ctx, runtime.ContainerSpec{Name: name, Image: images.SampleApp, Labels: dockertest.Labels(t)})
	if !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("create with a taken name: %v, want conflict", err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemoveContainer(ctx, id, runtime.RemoveOptions{}); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("remove running without force: %v, want conflict", err)
	}
	if err := rt.RemoveContainer(ctx, id, runtime.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.InspectContainer(ctx, id); !errors.Is(err, runtime.ErrNotFound) || errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("inspect removed container: %v, want not found", err)
	}
	if err := rt.RemoveContainer(ctx, id, runtime.RemoveOptions{}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("remove removed container: %v, want not found", err)
	}
	_, err = rt.CreateContainer(ctx, runtime.ContainerSpec{Name: dockertest.Name(t), Image: images.SampleApp,
		Ports: []runtime.PortMapping{{ContainerPort: 80, Protocol: "sctp"}}})
	if !errors.Is(err, runtime.ErrInvalid) {
		t.Errorf("create with sctp port: %v, want invalid", err)
	}
}

func TestListAndInfo(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	labels := dockertest.Labels(t, "berth.test.case", dockertest.Name(t))
	a := dockertest.Create(t, rt, runtime.ContainerSpec{Image: images.Pause, Labels: labels})
	b := dockertest.Run(t, rt, runtime.ContainerSpec{Image: images.Pause, Labels: labels})
	list, err := rt.ListContainers(t.Context(), runtime.Filter{Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a || list[1].ID != b || list[0].State != runtime.StateCreated || list[1].State != runtime.StateRunning {
		t.Fatalf("list = %+v", list)
	}
	info, err := rt.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.CPUs < 1 || info.MemoryBytes <= 0 || info.ServerVersion == "" || info.APIVersion == "" {
		t.Fatalf("info = %+v", info)
	}
	img, err := rt.InspectImage(t.Context(), images.Pause)
	if err != nil {
		t.Fatal(err)
	}
	if img.Labels[images.LabelBinarySHA256] == "" || fmt.Sprint(img.Entrypoint) != "[/berth pause]" {
		t.Fatalf("pause image = %+v", img)
	}
}
