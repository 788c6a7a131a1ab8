package dockertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

// LabelTest marks every object a test creates ("1"); LabelTestName holds the
// test's name, so leftovers can be traced and swept.
const (
	LabelTest     = "berth.test"
	LabelTestName = "berth.test.name"
)

// setupTimeout bounds connecting and loading images; the first build of the
// berth binary on a cold cache takes about a minute.
const setupTimeout = 10 * time.Minute

// cleanupTimeout bounds removing one object after a test.
const cleanupTimeout = time.Minute

var (
	once    sync.Once
	shared  *docker.Runtime
	initErr error
)

// Runtime returns the process's runtime on the local engine with the sample
// app and pause images loaded. It fails tb with "these tests need a Docker
// engine: ..." when no engine answers.
func Runtime(tb testing.TB) *docker.Runtime {
	tb.Helper()
	once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		rt, err := docker.New(ctx, "")
		if err != nil {
			initErr = err
			return
		}
		// Progress goes to stderr, where `go test -v` shows it.
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		if err := images.EnsureImages(ctx, rt, log); err != nil {
			initErr = err
			return
		}
		shared = rt
	})
	if initErr != nil {
		if errors.Is(initErr, runtime.ErrUnavailable) {
			tb.Fatalf("these tests need a Docker engine: %v", initErr)
		}
		tb.Fatalf("preparing Docker for tests: %v", initErr)
	}
	return shared
}

// Labels returns the labels that mark an object as this test's, plus extra
// pairs ("k", "v", ...).
func Labels(tb testing.TB, kv ...string) map[string]string {
	l := map[string]string{LabelTest: "1", LabelTestName: tb.Name()}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return l
}

// Name returns a name no other test or run uses: "berth-test-<test>-<hex>".
func Name(tb testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, tb.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return "berth-test-" + strings.Trim(name, "-.") + "-" + hex.EncodeToString(b[:])
}

// CleanupContainer removes the container (forcefully, with its anonymous
// volumes) when the test ends.
func CleanupContainer(tb testing.TB, rt runtime.Runtime, id string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		err := rt.RemoveContainer(ctx, id, runtime.RemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !errors.Is(err, runtime.ErrNotFound) {
			tb.Errorf("cleanup: %v", err)
		}
	})
}

// CleanupNetwork removes the network when the test ends. Register it before
// the containers that use it: cleanups run last-registered first.
func CleanupNetwork(tb testing.TB, rt runtime.Runtime, id string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := rt.RemoveNetwork(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			tb.Errorf("cleanup: %v", err)
		}
	})
}

// CleanupVolume removes the volume when the test ends. Register it before
// the containers that use it.
func CleanupVolume(tb testing.TB, rt runtime.Runtime, name string) {
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := rt.RemoveVolume(ctx, name, true); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			tb.Errorf("cleanup: %v", err)
		}
	})
}

// Run creates and starts a container from spec, labelled as this test's and
// named uniquely when spec has no name, and removes it when the test ends.
func Run(tb testing.TB, rt runtime.Runtime, spec runtime.ContainerSpec) string {
	tb.Helper()
	id := Create(tb, rt, spec)
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := rt.StartContainer(ctx, id); err != nil {
		tb.Fatalf("start %s: %v", spec.Name, err)
	}
	return id
}

// Create is Run without the start.
func Create(tb testing.TB, rt runtime.Runtime, spec runtime.ContainerSpec) string {
	tb.Helper()
	if spec.Name == "" {
		spec.Name = Name(tb)
	}
	labels := Labels(tb)
	for k, v := range spec.Labels {
		labels[k] = v
	}
	spec.Labels = labels
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	id, err := rt.CreateContainer(ctx, spec)
	if err != nil {
		tb.Fatalf("create %s: %v", spec.Name, err)
	}
	CleanupContainer(tb, rt, id)
	return id
}
