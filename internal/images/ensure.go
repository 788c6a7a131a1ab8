package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/runtime"
)

// Berth's own images, made from the berth binary.
const (
	// SampleApp runs `berth sample-app` on SampleAppPort.
	SampleApp = "berth.local/sample-app:latest"
	// Pause runs `berth pause`: the awsvpc pause container.
	Pause = "berth.local/pause:latest"
	// SampleAppPort is the port the sample app listens on and the image
	// exposes.
	SampleAppPort = 8080
	// LabelBinarySHA256 holds the hex sha256 of the binary inside; an image
	// with the current binary's hash is not loaded again.
	LabelBinarySHA256 = "dev.berth.binary.sha256"
)

// Specs are the images EnsureImages makes, with the binary's hash label
// still to be added.
func Specs() []Spec {
	return []Spec{
		{
			Ref:          SampleApp,
			Entrypoint:   []string{BinaryPath, "sample-app"},
			ExposedPorts: []string{strconv.Itoa(SampleAppPort) + "/tcp"},
			Env:          []string{"PATH=/"},
			WorkingDir:   "/",
			Labels:       map[string]string{"org.opencontainers.image.title": "berth sample-app"},
		},
		{
			Ref:        Pause,
			Entrypoint: []string{BinaryPath, "pause"},
			Env:        []string{"PATH=/"},
			WorkingDir: "/",
			Labels:     map[string]string{"org.opencontainers.image.title": "berth pause"},
		},
	}
}

// Loader is the part of runtime.Runtime that EnsureImages uses.
type Loader interface {
	InspectImage(ctx context.Context, ref string) (runtime.ImageInfo, error)
	LoadImage(ctx context.Context, archive io.Reader) error
	RemoveImage(ctx context.Context, ref string, force bool) error
}

// EnsureImages makes sure the engine has SampleApp and Pause built from the
// berth binary (BerthBinary). When both already carry the binary's hash it
// costs two image inspects; otherwise it builds the images in-process and
// loads them in one archive. log may be nil.
func EnsureImages(ctx context.Context, rt Loader, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	bin, err := BerthBinary(ctx, log)
	if err != nil {
		return err
	}
	return EnsureImagesFrom(ctx, rt, bin, log)
}

// EnsureImagesFrom is EnsureImages with an explicit static binary.
func EnsureImagesFrom(ctx context.Context, rt Loader, binary string, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	sum, err := binarySum(binary)
	if err != nil {
		return fmt.Errorf("ensure images: %w", err)
	}
	missing, old, err := missingImages(ctx, rt, sum)
	if err != nil || len(missing) == 0 {
		return err
	}
	// Another process may be loading the same images: wait for it, then
	// look again, so parallel test packages load them once.
	if cache, err := CacheDir(); err == nil {
		if err := mkdirAll(cache); err == nil {
			unlock, err := lockFile(ctx, filepath.Join(cache, "images.lock"))
			if err != nil {
				return fmt.Errorf("ensure images: %w", err)
			}
			defer unlock()
			if missing, old, err = missingImages(ctx, rt, sum); err != nil || len(missing) == 0 {
				return err
			}
		}
	}
	start := time.Now()
	var imgs []*Image
	for _, spec := range missing {
		spec.Labels = withLabel(spec.Labels, LabelBinarySHA256, sum)
		im, err := Build(binary, spec)
		if err != nil {
			return fmt.Errorf("ensure images: %w", err)
		}
		if im.BinarySHA256 != sum {
			return fmt.Errorf("ensure images: %s changed while images were built", binary)
		}
		imgs = append(imgs, im)
	}
	log.Info("loading berth images", "images", refs(imgs), "layerMiB", imgs[0].LayerSize>>20)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(WriteDockerArchive(pw, imgs...)) }()
	err = rt.LoadImage(ctx, pr)
	pr.CloseWithError(errors.New("load finished")) // unblocks the writer if the load stopped early
	if err != nil {
		return fmt.Errorf("ensure images: %w", err)
	}
	if missing, _, err := missingImages(ctx, rt, sum); err != nil {
		return err
	} else if len(missing) > 0 {
		return fmt.Errorf("ensure images: %s still missing after load", missing[0].Ref)
	}
	// Images of earlier binaries lost their tags to the new ones; delete
	// them unless containers still use them (that removal fails, harmlessly),
	// so rebuilding berth all day does not fill the disk.
	for _, id := range old {
		_ = rt.RemoveImage(ctx, id, false)
	}
	// Older ones that were in use at their turn go when they no longer are.
	if p, ok := rt.(untaggedPruner); ok {
		_ = p.PruneUntaggedImages(ctx, runtime.Filter{Labels: map[string]string{LabelBinarySHA256: ""}})
	}
	log.Info("berth images loaded", "images", refs(imgs), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// untaggedPruner is implemented by runtimes that can sweep untagged images
// (runtime/docker).
type untaggedPruner interface {
	PruneUntaggedImages(ctx context.Context, f runtime.Filter) error
}

// missingImages returns the specs whose image is absent or holds another
// binary, and the ids of the latter.
func missingImages(ctx context.Context, rt Loader, sum string) (missing []Spec, old []string, err error) {
	for _, spec := range Specs() {
		info, err := rt.InspectImage(ctx, spec.Ref)
		switch {
		case errors.Is(err, runtime.ErrImageNotFound):
			missing = append(missing, spec)
		case err != nil:
			return nil, nil, fmt.Errorf("ensure images: %w", err)
		case info.Labels[LabelBinarySHA256] != sum:
			missing = append(missing, spec)
			old = append(old, info.ID)
		}
	}
	return missing, old, nil
}

func withLabel(labels map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	for lk, lv := range labels {
		out[lk] = lv
	}
	out[k] = v
	return out
}

func refs(imgs []*Image) []string {
	out := make([]string, len(imgs))
	for i, im := range imgs {
		out[i] = im.Ref
	}
	return out
}
