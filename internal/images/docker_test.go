package images_test

import (
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

func engine(t *testing.T) *docker.Runtime {
	t.Helper()
	rt, err := docker.New(t.Context(), "")
	if err != nil {
		t.Fatalf("these tests need a Docker engine: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// TestEnsureImagesOnDocker builds (or finds) the berth binary, ensures the
// shared images, and checks that a second call loads nothing.
func TestEnsureImagesOnDocker(t *testing.T) {
	rt := engine(t)
	ctx := t.Context()
	bin, err := images.BerthBinary(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked", bin)
		}
	}
	f.Close()

	if err := images.EnsureImages(ctx, rt, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := images.EnsureImages(ctx, rt, nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a second EnsureImages took %s; it should only inspect", d)
	}
	var sums []string
	for _, ref := range []string{images.SampleApp, images.Pause} {
		info, err := rt.InspectImage(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, info.Labels[images.LabelBinarySHA256])
	}
	if sums[0] == "" || sums[0] != sums[1] {
		t.Errorf("binary labels %v", sums)
	}
}

// TestLoadAndRunBuiltImage loads an image under a name of its own (the
// shared images stay untouched for parallel tests), then runs it.
func TestLoadAndRunBuiltImage(t *testing.T) {
	rt := engine(t)
	ctx := t.Context()
	bin, err := images.BerthBinary(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	// A copy with bytes appended (the ELF loader ignores them) makes a layer
	// the engine has never seen, so this measures a cold load.
	bin = copyWithSuffix(t, bin, suffix)
	spec := images.Spec{Ref: "berth.local/images-test-" + suffix + ":1", Entrypoint: []string{images.BinaryPath, "sample-app", "probe"}}
	start := time.Now()
	im, err := images.Build(bin, spec)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Since(start)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(images.WriteDockerArchive(pw, im)) }()
	if err := rt.LoadImage(ctx, pr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = rt.RemoveImage(cctx, spec.Ref, true)
	})
	t.Logf("built in %s, built+loaded %d MiB in %s", built, im.LayerSize>>20, time.Since(start))
	info, err := rt.InspectImage(ctx, spec.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != im.ID() {
		t.Errorf("engine id %s, built id %s", info.ID, im.ID())
	}

	// The image runs: probing a closed port exits 1, which proves /berth
	// started inside it.
	id, err := rt.CreateContainer(ctx, runtime.ContainerSpec{
		Name: "berth-images-test-" + suffix, Image: spec.Ref, Command: []string{"http://127.0.0.1:1/"},
		Labels: map[string]string{"berth.test": "1"}, NetworkMode: runtime.NetworkNone,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = rt.RemoveContainer(cctx, id, runtime.RemoveOptions{Force: true})
	})
	if err := rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err := rt.WaitContainer(ctx, id)
	if err != nil || st.ExitCode != 1 {
		t.Fatalf("probe container: %+v %v, want exit code 1", st, err)
	}
}

func copyWithSuffix(t *testing.T, src, suffix string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "berth")
	if err := os.WriteFile(dst, append(b, suffix...), 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}
