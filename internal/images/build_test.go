package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/internal/runtime"
)

// fakeBinary writes a file standing in for the berth binary.
func fakeBinary(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "berth")
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// readTar returns a tar's entries by name.
func readTar(t *testing.T, r io.Reader) (map[string]*tar.Header, map[string][]byte, []string) {
	t.Helper()
	hdrs, bodies := map[string]*tar.Header{}, map[string][]byte{}
	var order []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hdrs, bodies, order
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		hdrs[h.Name], bodies[h.Name] = h, b
		order = append(order, h.Name)
	}
}

func TestLayerContents(t *testing.T) {
	t.Parallel()
	bin := fakeBinary(t, "#!fake berth binary\n")
	im, err := Build(bin, Specs()[0])
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := im.WriteLayer(&buf); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != im.LayerSize {
		t.Errorf("layer is %d bytes, Build said %d", buf.Len(), im.LayerSize)
	}
	if d := digest.FromBytes(buf.Bytes()); d != im.LayerDigest {
		t.Errorf("layer digest %s, Build said %s", d, im.LayerDigest)
	}
	hdrs, bodies, order := readTar(t, &buf)
	if got, want := strings.Join(order, " "), "berth etc/ etc/group etc/passwd tmp/"; got != want {
		t.Errorf("entries %q, want %q", got, want)
	}
	for name, want := range map[string]int64{"berth": 0o755, "etc/": 0o755, "etc/passwd": 0o644, "tmp/": 0o1777} {
		if h := hdrs[name]; h == nil || h.Mode != want || h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: header %+v, want mode %o owned by root at epoch", name, h, want)
		}
	}
	if string(bodies["berth"]) != "#!fake berth binary\n" {
		t.Errorf("berth body %q", bodies["berth"])
	}
	if !strings.Contains(string(bodies["etc/passwd"]), "nobody:x:65534") {
		t.Errorf("passwd %q", bodies["etc/passwd"])
	}
	sum := sha256.Sum256([]byte("#!fake berth binary\n"))
	if im.BinarySHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("BinarySHA256 %s", im.BinarySHA256)
	}
}

func TestConfigAndDeterminism(t *testing.T) {
	t.Parallel()
	bin := fakeBinary(t, "binary one")
	spec := Specs()[0]
	spec.Labels = withLabel(spec.Labels, LabelBinarySHA256, "abc")
	a, err := Build(bin, spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(bin, spec)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID() != b.ID() || a.LayerDigest != b.LayerDigest {
		t.Fatalf("two builds differ: %s %s", a.ID(), b.ID())
	}
	if a.ConfigDigest != digest.FromBytes(a.Config) {
		t.Fatal("config digest does not match the config")
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(a.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != "/berth sample-app" || cfg.OS != "linux" ||
		cfg.Config.Labels[LabelBinarySHA256] != "abc" || len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != a.LayerDigest {
		t.Fatalf("config %s", a.Config)
	}
	if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Fatalf("8080/tcp not exposed: %s", a.Config)
	}

	other, err := Build(fakeBinary(t, "binary two"), spec)
	if err != nil {
		t.Fatal(err)
	}
	if other.ID() == a.ID() {
		t.Fatal("different binaries made the same image")
	}

	var m ocispec.Manifest
	mb, err := a.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	if m.Config.Digest != a.ConfigDigest || m.Layers[0].Digest != a.LayerDigest || m.Layers[0].Size != a.LayerSize {
		t.Fatalf("manifest %s", mb)
	}
}

func TestDockerArchive(t *testing.T) {
	t.Parallel()
	bin := fakeBinary(t, strings.Repeat("x", 100_000))
	var imgs []*Image
	for _, s := range Specs() {
		im, err := Build(bin, s)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, im)
	}
	var buf bytes.Buffer
	if err := WriteDockerArchive(&buf, imgs...); err != nil {
		t.Fatal(err)
	}
	_, bodies, order := readTar(t, &buf)
	if order[0] != "manifest.json" {
		t.Errorf("first entry %s, want manifest.json", order[0])
	}
	var manifest []dockerManifestEntry
	if err := json.Unmarshal(bodies["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest) != 2 {
		t.Fatalf("manifest %s", bodies["manifest.json"])
	}
	layers := 0
	for _, name := range order {
		if strings.HasSuffix(name, "/layer.tar") {
			layers++
		}
	}
	if layers != 1 {
		t.Errorf("%d layers in the archive; both images share one", layers)
	}
	for i, e := range manifest {
		im := imgs[i]
		if e.RepoTags[0] != im.Ref {
			t.Errorf("entry %d tags %v, want %s", i, e.RepoTags, im.Ref)
		}
		if digest.FromBytes(bodies[e.Config]) != im.ConfigDigest {
			t.Errorf("%s: config %s does not match its digest", im.Ref, e.Config)
		}
		if digest.FromBytes(bodies[e.Layers[0]]) != im.LayerDigest {
			t.Errorf("%s: layer %s does not match its diff id", im.Ref, e.Layers[0])
		}
	}
}

func TestWriteLayerNoticesAChangedBinary(t *testing.T) {
	t.Parallel()
	bin := fakeBinary(t, "before")
	im, err := Build(bin, Specs()[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("after!"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := im.WriteLayer(io.Discard); err == nil {
		t.Fatal("WriteLayer accepted a binary that changed after Build")
	}
}

// fakeLoader records loads and answers inspects from what it loaded.
type fakeLoader struct {
	images  map[string]runtime.ImageInfo
	loads   int
	removed []string
}

func (f *fakeLoader) RemoveImage(_ context.Context, ref string, _ bool) error {
	f.removed = append(f.removed, ref)
	return nil
}

func (f *fakeLoader) InspectImage(_ context.Context, ref string) (runtime.ImageInfo, error) {
	if info, ok := f.images[ref]; ok {
		return info, nil
	}
	return runtime.ImageInfo{}, runtime.Errorf(runtime.ErrImageNotFound, "inspect image", ref, nil)
}

func (f *fakeLoader) LoadImage(_ context.Context, r io.Reader) error {
	f.loads++
	tr := tar.NewReader(r)
	bodies := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		bodies[h.Name], _ = io.ReadAll(tr)
	}
	var manifest []dockerManifestEntry
	if err := json.Unmarshal(bodies["manifest.json"], &manifest); err != nil {
		return err
	}
	for _, e := range manifest {
		var cfg ocispec.Image
		if err := json.Unmarshal(bodies[e.Config], &cfg); err != nil {
			return err
		}
		f.images[e.RepoTags[0]] = runtime.ImageInfo{ID: "sha256:" + strings.TrimSuffix(e.Config, ".json"), Labels: cfg.Config.Labels}
	}
	return nil
}

func TestEnsureImagesFromLoadsOnce(t *testing.T) {
	t.Setenv("BERTH_CACHE_DIR", t.TempDir())
	bin := fakeBinary(t, "v1")
	f := &fakeLoader{images: map[string]runtime.ImageInfo{}}
	ctx := t.Context()
	for range 2 {
		if err := EnsureImagesFrom(ctx, f, bin, nil); err != nil {
			t.Fatal(err)
		}
	}
	if f.loads != 1 {
		t.Fatalf("%d loads, want 1", f.loads)
	}
	if err := os.WriteFile(bin, []byte("v2, a new build"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := EnsureImagesFrom(ctx, f, bin, nil); err != nil {
		t.Fatal(err)
	}
	if f.loads != 2 {
		t.Fatalf("%d loads after the binary changed, want 2", f.loads)
	}
	if len(f.removed) != 2 || !strings.HasPrefix(f.removed[0], "sha256:") {
		t.Errorf("removed %v, want the two images of the old binary", f.removed)
	}
	sum := sha256.Sum256([]byte("v2, a new build"))
	for _, ref := range []string{SampleApp, Pause} {
		if got := f.images[ref].Labels[LabelBinarySHA256]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s label %q", ref, got)
		}
	}
}

func TestStaticGoFlags(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                  "",
		"-race":                             "",
		"-buildvcs=false -race":             "-buildvcs=false",
		"-mod=mod --race -covermode=atomic": "-mod=mod",
		"-tags=netgo -msan -asan -trimpath": "-tags=netgo -trimpath",
	} {
		if got := staticGoFlags(in); got != want {
			t.Errorf("staticGoFlags(%q) = %q, want %q", in, got, want)
		}
	}
}
