package images

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BinaryPath is where the image holds the binary.
const BinaryPath = "/berth"

// epoch is the time stamp of every file and of the image: images built from
// the same binary are byte-identical, so they get the same id everywhere.
var epoch = time.Unix(0, 0).UTC()

// Spec describes a single-layer image holding one static binary.
type Spec struct {
	// Ref is the repository:tag the image is loaded as.
	Ref          string
	Entrypoint   []string
	Cmd          []string
	Env          []string
	ExposedPorts []string // "8080/tcp"
	Labels       map[string]string
	WorkingDir   string
	User         string
}

// Image is a built image: its config and the facts of its one layer. The
// layer is not kept in memory; WriteLayer streams it from the binary again.
type Image struct {
	Spec
	// Binary is the path of the binary and BinarySHA256 its hex digest.
	Binary       string
	BinarySHA256 string
	// LayerDigest is the layer's sha256 (uncompressed, so also its diff id)
	// and LayerSize its length.
	LayerDigest digest.Digest
	LayerSize   int64
	// Config is the image config JSON; ConfigDigest its digest, the image id.
	Config       []byte
	ConfigDigest digest.Digest
}

// ID is the image id the engine will report.
func (im *Image) ID() string { return im.ConfigDigest.String() }

// Build reads binary once to compute the layer's digest and size and makes
// the config. The binary must not change until the image is written:
// WriteLayer checks.
func Build(binary string, spec Spec) (*Image, error) {
	binHash, h := sha256.New(), sha256.New()
	cw := &countWriter{w: h}
	if err := writeLayer(cw, binary, binHash); err != nil {
		return nil, err
	}
	im := &Image{
		Spec:         spec,
		Binary:       binary,
		BinarySHA256: hex.EncodeToString(binHash.Sum(nil)),
		LayerDigest:  digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)),
		LayerSize:    cw.n,
	}
	cfg, err := im.config()
	if err != nil {
		return nil, err
	}
	im.Config = cfg
	im.ConfigDigest = digest.FromBytes(cfg)
	return im, nil
}

// config renders the OCI image config (Docker reads the same JSON).
func (im *Image) config() ([]byte, error) {
	created := epoch
	c := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{Architecture: goruntime.GOARCH, OS: "linux"},
		Config: ocispec.ImageConfig{
			User:       im.User,
			Env:        im.Env,
			Entrypoint: im.Entrypoint,
			Cmd:        im.Cmd,
			WorkingDir: im.WorkingDir,
			Labels:     im.Labels,
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{im.LayerDigest}},
		History: []ocispec.History{{
			Created:   &created,
			CreatedBy: "berth: " + BinaryPath + " sha256:" + im.BinarySHA256,
		}},
	}
	if len(im.ExposedPorts) > 0 {
		c.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range im.ExposedPorts {
			c.Config.ExposedPorts[p] = struct{}{}
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return b, nil
}

// Manifest is the OCI manifest that references the config and the
// (uncompressed) layer, for pushing the image to a registry.
func (im *Image) Manifest() ([]byte, error) {
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageConfig, Digest: im.ConfigDigest, Size: int64(len(im.Config)),
		},
		Layers: []ocispec.Descriptor{{
			MediaType: ocispec.MediaTypeImageLayer, Digest: im.LayerDigest, Size: im.LayerSize,
		}},
	}
	return json.Marshal(m)
}

// WriteLayer writes the layer tar. It fails when the binary changed since
// Build, since the config names the old layer digest.
func (im *Image) WriteLayer(w io.Writer) error {
	h := sha256.New()
	if err := writeLayer(io.MultiWriter(w, h), im.Binary, io.Discard); err != nil {
		return err
	}
	if got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)); got != im.LayerDigest {
		return fmt.Errorf("image %s: %s changed while the image was written", im.Ref, im.Binary)
	}
	return nil
}

// Files besides the binary: enough for user lookups ("nobody") and for
// programs that want a writable /tmp.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
	group  = "root:x:0:\nnobody:x:65534:\n"
)

// writeLayer writes the layer tar: /berth, /etc/passwd, /etc/group, /tmp,
// and the binary's bytes to binHash as well. Headers are fixed (owner root,
// epoch mtimes) so the bytes depend only on the binary's content.
func writeLayer(w io.Writer, binary string, binHash io.Writer) error {
	f, err := os.Open(binary)
	if err != nil {
		return fmt.Errorf("image layer: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("image layer: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("image layer: %s is not a regular file", binary)
	}
	tw := tar.NewWriter(w)
	hdr := func(name string, mode int64, typ byte, size int64) error {
		return tw.WriteHeader(&tar.Header{
			Typeflag: typ, Name: name, Mode: mode, Size: size, ModTime: epoch,
			Uname: "root", Gname: "root", Format: tar.FormatPAX,
		})
	}
	if err := hdr(strings.TrimPrefix(BinaryPath, "/"), 0o755, tar.TypeReg, st.Size()); err != nil {
		return fmt.Errorf("image layer: %w", err)
	}
	n, err := io.Copy(tw, io.TeeReader(f, binHash))
	if err != nil {
		return fmt.Errorf("image layer: copying %s: %w", binary, err)
	}
	if n != st.Size() {
		return fmt.Errorf("image layer: %s changed size while read", binary)
	}
	for _, e := range []struct {
		name string
		mode int64
		typ  byte
		body string
	}{
		{"etc/", 0o755, tar.TypeDir, ""},
		{"etc/group", 0o644, tar.TypeReg, group},
		{"etc/passwd", 0o644, tar.TypeReg, passwd},
		{"tmp/", 0o1777, tar.TypeDir, ""},
	} {
		if err := hdr(e.name, e.mode, e.typ, int64(len(e.body))); err != nil {
			return fmt.Errorf("image layer: %w", err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			return fmt.Errorf("image layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("image layer: %w", err)
	}
	return nil
}

// dockerManifestEntry is one image of a `docker save` archive.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteDockerArchive writes images as one `docker save`-format tar (what
// `docker load` and the engine's image load API read): manifest.json, each
// config, and each distinct layer once, streamed last.
func WriteDockerArchive(w io.Writer, imgs ...*Image) error {
	var manifest []dockerManifestEntry
	layers := map[digest.Digest]*Image{}
	configs := map[digest.Digest][]byte{}
	for _, im := range imgs {
		layerPath := im.LayerDigest.Encoded() + "/layer.tar"
		manifest = append(manifest, dockerManifestEntry{
			Config: im.ConfigDigest.Encoded() + ".json", RepoTags: []string{im.Ref}, Layers: []string{layerPath},
		})
		layers[im.LayerDigest] = im
		configs[im.ConfigDigest] = im.Config
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return fmt.Errorf("docker archive: %w", err)
	}
	tw := tar.NewWriter(w)
	file := func(name string, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	if err := file("manifest.json", mb); err != nil {
		return fmt.Errorf("docker archive: %w", err)
	}
	for _, d := range sortedKeys(configs) {
		if err := file(d.Encoded()+".json", configs[d]); err != nil {
			return fmt.Errorf("docker archive: %w", err)
		}
	}
	for _, d := range sortedKeys(layers) {
		im := layers[d]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.Encoded() + "/", Mode: 0o755, ModTime: epoch}); err != nil {
			return fmt.Errorf("docker archive: %w", err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: d.Encoded() + "/layer.tar", Mode: 0o644, Size: im.LayerSize, ModTime: epoch}); err != nil {
			return fmt.Errorf("docker archive: %w", err)
		}
		if err := im.WriteLayer(tw); err != nil {
			return fmt.Errorf("docker archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("docker archive: %w", err)
	}
	return nil
}

func sortedKeys[V any](m map[digest.Digest]V) []digest.Digest {
	keys := make([]digest.Digest, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// countWriter counts bytes on their way to w.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
