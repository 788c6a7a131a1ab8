package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"

	"github.com/distribution/distribution/v3"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/internal/awsapi"
	"github.com/berth-dev/berth/internal/images"
)

// SampleAppRepository and SampleAppTag name the image `berth dev` seeds.
const (
	SampleAppRepository = "sample-app"
	SampleAppTag        = "latest"
)

// SeedSampleApp pushes the sample app image, built in-process from the berth
// binary (images.BerthBinary), into the registry as sample-app:latest and
// returns its URI (<host>/sample-app:latest). It creates the repository if
// needed and costs a hash of the binary when the image is already there.
func (r *Registry) SeedSampleApp(ctx context.Context, log *slog.Logger) (string, error) {
	bin, err := images.BerthBinary(ctx, log)
	if err != nil {
		return "", fmt.Errorf("seeding the sample app: %w", err)
	}
	var spec images.Spec
	for _, s := range images.Specs() {
		if s.Ref == images.SampleApp {
			spec = s
		}
	}
	// The same labels as the image loaded into Docker, so both have one id.
	probe, err := images.Build(bin, spec)
	if err != nil {
		return "", fmt.Errorf("seeding the sample app: %w", err)
	}
	spec.Labels = maps.Clone(spec.Labels)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[images.LabelBinarySHA256] = probe.BinarySHA256
	spec.Ref = r.RepositoryURI(SampleAppRepository) + ":" + SampleAppTag
	im, err := images.Build(bin, spec)
	if err != nil {
		return "", fmt.Errorf("seeding the sample app: %w", err)
	}
	if err := r.SeedImage(ctx, SampleAppRepository, SampleAppTag, im); err != nil {
		return "", err
	}
	return spec.Ref, nil
}

// SeedImage stores an in-process built image as repo:tag, creating the
// repository if it does not exist; blobs already stored are not written
// again, and an image already tagged so is left alone.
func (r *Registry) SeedImage(ctx context.Context, repo, tag string, im *images.Image) error {
	manifest, err := im.Manifest()
	if err != nil {
		return err
	}
	if t, _, ok := r.cachedTag(repo, tag); ok && t.Digest == digest.FromBytes(manifest).String() {
		return nil
	}
	if err := r.autoCreate(ctx, repo); err != nil && !awsapi.IsCode(err, "RepositoryAlreadyExistsException") {
		return fmt.Errorf("seeding %s: %w", repo, err)
	}
	rp, err := r.repositoryByName(ctx, repo)
	if err != nil {
		return err
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	bs := rp.Blobs(ctx)
	if err := putBlob(ctx, bs, im.ConfigDigest, func(w io.Writer) error { _, err := w.Write(im.Config); return err }); err != nil {
		return fmt.Errorf("seeding %s: config: %w", repo, err)
	}
	if err := putBlob(ctx, bs, im.LayerDigest, im.WriteLayer); err != nil {
		return fmt.Errorf("seeding %s: layer: %w", repo, err)
	}
	man, _, err := distribution.UnmarshalManifest(v1.MediaTypeImageManifest, manifest)
	if err != nil {
		return err
	}
	ms, err := rp.(*repository).Repository.Manifests(ctx)
	if err != nil {
		return err
	}
	if _, err := r.putManifest(ctx, ms, repo, man, tag); err != nil {
		if errors.Is(err, errTagImmutable) {
			return fmt.Errorf("seeding %s:%s: %s", repo, tag, r.immutableMessage(repo, tag))
		}
		return fmt.Errorf("seeding %s:%s: %w", repo, tag, err)
	}
	return nil
}

// putBlob uploads a blob unless the repository has it.
func putBlob(ctx context.Context, bs distribution.BlobStore, d digest.Digest, write func(io.Writer) error) error {
	if _, err := bs.Stat(ctx, d); err == nil {
		return nil
	}
	bw, err := bs.Create(ctx)
	if err != nil {
		return err
	}
	if err := write(bw); err != nil {
		_ = bw.Cancel(ctx)
		return err
	}
	if _, err := bw.Commit(ctx, v1.Descriptor{Digest: d}); err != nil {
		_ = bw.Cancel(ctx)
		return err
	}
	return nil
}
