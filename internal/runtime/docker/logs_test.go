package docker_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
)

func TestContainerLogs(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	ctx := t.Context()
	id := dockertest.Run(t, rt, sampleApp())
	base := "http://127.0.0.1:" + strconv.Itoa(int(hostPort(t, inspect(t, rt, id))))
	getUntil(t, base+"/health", 10*time.Second)
	before := time.Now()
	getUntil(t, base+"/log?msg="+url.QueryEscape("to stdout"), time.Second)
	getUntil(t, base+"/log?stream=stderr&msg="+url.QueryEscape("to stderr"), time.Second)

	// Follow in the background from the start; collect until "bye".
	followed := make(chan []runtime.LogLine, 1)
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() {
		var lines []runtime.LogLine
		stop := errors.New("seen bye")
		err := rt.ContainerLogs(fctx, id, runtime.LogOptions{Follow: true}, func(l runtime.LogLine) error {
			lines = append(lines, l)
			if l.Text == "bye" {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) {
			t.Errorf("follow: %v", err)
		}
		followed <- lines
	}()

	var lines []runtime.LogLine
	err := rt.ContainerLogs(ctx, id, runtime.LogOptions{}, func(l runtime.LogLine) error {
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sawOut, sawErr bool
	for _, l := range lines {
		if l.Time.IsZero() {
			t.Errorf("line without a time: %+v", l)
		}
		sawOut = sawOut || (l.Stream == runtime.Stdout && l.Text == "to stdout")
		sawErr = sawErr || (l.Stream == runtime.Stderr && l.Text == "to stderr")
	}
	if !sawOut || !sawErr {
		t.Fatalf("logs lack the two lines: %+v", lines)
	}
	if !strings.HasPrefix(lines[0].Text, "sample-app: listening on") {
		t.Errorf("first line %q", lines[0].Text)
	}

	// Since excludes what came before.
	var since []runtime.LogLine
	if err := rt.ContainerLogs(ctx, id, runtime.LogOptions{Since: before}, func(l runtime.LogLine) error {
		since = append(since, l)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(since) == 0 || len(since) >= len(lines) || strings.HasPrefix(since[0].Text, "sample-app: listening") {
		t.Errorf("since %s: %d of %d lines, first %+v", before, len(since), len(lines), since)
	}

	getUntil(t, base+"/log?msg=bye", time.Second)
	select {
	case got := <-followed:
		if got[len(got)-1].Text != "bye" || len(got) < len(lines) {
			t.Errorf("followed %d lines ending %+v", len(got), got[len(got)-1])
		}
	case <-time.After(20 * time.Second):
		t.Fatal("following did not see the new line")
	}
}

func TestContainerStats(t *testing.T) {
	t.Parallel()
	rt := dockertest.Runtime(t)
	spec := sampleApp()
	spec.MemoryBytes = 96 << 20
	id := dockertest.Run(t, rt, spec)
	base := "http://127.0.0.1:" + strconv.Itoa(int(hostPort(t, inspect(t, rt, id))))
	getUntil(t, base+"/health", 10*time.Second)
	getUntil(t, base+"/alloc?mb=16", 5*time.Second)
	getUntil(t, base+"/burn?cpu=100", 5*time.Second)
	raw, err := rt.ContainerStats(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.ParseStats(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s.Read.IsZero() || s.CPUTotalNanos < uint64(50*time.Millisecond) || s.MemoryLimitBytes != 96<<20 ||
		s.MemoryUsageBytes < 16<<20 || s.OnlineCPUs < 1 || s.PIDs < 1 || s.NetworkRxBytes == 0 {
		t.Errorf("stats %+v", s)
	}
	if _, err := rt.ContainerStats(t.Context(), "no-such-container-"+dockertest.Name(t)); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("stats of a missing container: %v", err)
	}
}
