package registry

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-dev/berth/internal/awsapi"
	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
)

func (r *Registry) imageNotFound(repo string, id ecrapi.ImageIdentifier) error {
	return ecrapi.NewImageNotFoundException("The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
		deref(id.ImageDigest), deref(id.ImageTag), repo, r.cfg.AccountID)
}

func imageFailure(id ecrapi.ImageIdentifier, code ecrapi.ImageFailureCode, reason string) ecrapi.ImageFailure {
	return ecrapi.ImageFailure{ImageId: &id, FailureCode: ptr(code), FailureReason: ptr(reason)}
}

// resolve finds the image an identifier names: by tag, by digest or by both
// (which must agree).
func (r *Registry) resolve(repo string, id ecrapi.ImageIdentifier) (image, *ecrapi.ImageFailure) {
	tag, dgst := deref(id.ImageTag), deref(id.ImageDigest)
	switch {
	case tag == "" && dgst == "":
		f := imageFailure(id, ecrapi.ImageFailureCodeMissingDigestAndTag, "Invalid request parameters: both tag and digest cannot be null")
		return image{}, &f
	case dgst != "":
		if _, err := digest.Parse(dgst); err != nil {
			f := imageFailure(id, ecrapi.ImageFailureCodeInvalidImageDigest, "Invalid image digest")
			return image{}, &f
		}
	}
	if tag != "" {
		t, _, ok := r.cachedTag(repo, tag)
		if !ok {
			f := imageFailure(id, ecrapi.ImageFailureCodeImageNotFound, "Requested image not found")
			return image{}, &f
		}
		if dgst != "" && dgst != t.Digest {
			f := imageFailure(id, ecrapi.ImageFailureCodeImageTagDoesNotMatchDigest, "Invalid request parameters: image tag digest did not match image digest")
			return image{}, &f
		}
		dgst = t.Digest
	}
	rec, _, ok := r.cachedImage(repo, dgst)
	if !ok {
		f := imageFailure(id, ecrapi.ImageFailureCodeImageNotFound, "Requested image not found")
		return image{}, &f
	}
	return image{imageRecord: rec, Tags: r.tagsOf(repo, dgst)}, nil
}

// tagsOf lists the tags pointing at dgst, sorted.
func (r *Registry) tagsOf(repo, dgst string) []string {
	var out []string
	for tag, t := range r.repoTags(repo) {
		if t.Digest == dgst {
			out = append(out, tag)
		}
	}
	slices.Sort(out)
	return out
}

func tagStatusOf(f *ecrapi.TagStatus) ecrapi.TagStatus {
	if f == nil || *f == "" {
		return ecrapi.TagStatusAny
	}
	return *f
}

func keepByStatus(s ecrapi.TagStatus, tagged bool) bool {
	switch s {
	case ecrapi.TagStatusTagged:
		return tagged
	case ecrapi.TagStatusUntagged:
		return !tagged
	}
	return true
}

// ListImages implements ecrapi.Handler: one identifier per tag, and one per
// untagged image.
func (r *Registry) ListImages(ctx context.Context, in *ecrapi.ListImagesRequest) (*ecrapi.ListImagesResponse, error) {
	if _, _, err := r.repo(in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	var status ecrapi.TagStatus = ecrapi.TagStatusAny
	if in.Filter != nil {
		status = tagStatusOf(in.Filter.TagStatus)
	}
	ids := map[string]ecrapi.ImageIdentifier{}
	var keys []string
	for _, img := range r.images(in.RepositoryName) {
		if !keepByStatus(status, len(img.Tags) > 0) {
			continue
		}
		if len(img.Tags) == 0 {
			keys = append(keys, img.Digest)
			ids[img.Digest] = ecrapi.ImageIdentifier{ImageDigest: ptr(img.Digest)}
		}
		for _, t := range img.Tags {
			k := img.Digest + "\x00" + t
			keys = append(keys, k)
			ids[k] = ecrapi.ImageIdentifier{ImageDigest: ptr(img.Digest), ImageTag: ptr(t)}
		}
	}
	slices.Sort(keys)
	sel, next, err := page(keys, in.NextToken, in.MaxResults, 100, 1000)
	if err != nil {
		return nil, err
	}
	out := &ecrapi.ListImagesResponse{ImageIds: []ecrapi.ImageIdentifier{}, NextToken: next}
	for _, k := range sel {
		out.ImageIds = append(out.ImageIds, ids[k])
	}
	return out, nil
}

func (r *Registry) imageDetail(repo string, img image) ecrapi.ImageDetail {
	d := ecrapi.ImageDetail{
		RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(repo), ImageDigest: ptr(img.Digest),
		ImageTags: img.Tags, ImageSizeInBytes: ptr(img.Size), ImagePushedAt: awsapi.TimePtr(img.PushedAt),
		ImageManifestMediaType: ptr(img.MediaType), ImageStatus: ptr(ecrapi.ImageStatusActive),
	}
	if img.ArtifactMediaType != "" {
		d.ArtifactMediaType = ptr(img.ArtifactMediaType)
	}
	return d
}

// DescribeImages implements ecrapi.Handler.
func (r *Registry) DescribeImages(ctx context.Context, in *ecrapi.DescribeImagesRequest) (*ecrapi.DescribeImagesResponse, error) {
	if _, _, err := r.repo(in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	out := &ecrapi.DescribeImagesResponse{ImageDetails: []ecrapi.ImageDetail{}}
	if len(in.ImageIds) > 0 {
		if in.NextToken != nil || in.MaxResults != nil {
			return nil, ecrapi.NewInvalidParameterException("maxResults and nextToken cannot be used with imageIds.")
		}
		seen := map[string]bool{}
		for _, id := range in.ImageIds {
			img, f := r.resolve(in.RepositoryName, id)
			if f != nil {
				if deref(f.FailureCode) == ecrapi.ImageFailureCodeImageNotFound {
					return nil, r.imageNotFound(in.RepositoryName, id)
				}
				return nil, ecrapi.NewInvalidParameterException("%s", deref(f.FailureReason))
			}
			if !seen[img.Digest] {
				seen[img.Digest] = true
				out.ImageDetails = append(out.ImageDetails, r.imageDetail(in.RepositoryName, img))
			}
		}
		return out, nil
	}
	var status ecrapi.TagStatus = ecrapi.TagStatusAny
	if in.Filter != nil {
		status = tagStatusOf(in.Filter.TagStatus)
	}
	byDigest := map[string]image{}
	var keys []string
	for _, img := range r.images(in.RepositoryName) {
		if keepByStatus(status, len(img.Tags) > 0) {
			keys = append(keys, img.Digest)
			byDigest[img.Digest] = img
		}
	}
	slices.Sort(keys)
	sel, next, err := page(keys, in.NextToken, in.MaxResults, 100, 1000)
	if err != nil {
		return nil, err
	}
	for _, k := range sel {
		out.ImageDetails = append(out.ImageDetails, r.imageDetail(in.RepositoryName, byDigest[k]))
	}
	out.NextToken = next
	return out, nil
}

// manifestBytes reads a manifest's payload from storage.
func (r *Registry) manifestBytes(ctx context.Context, repo, dgst string) (string, []byte, error) {
	rp, err := r.repositoryByName(ctx, repo)
	if err != nil {
		return "", nil, err
	}
	ms, err := rp.Manifests(ctx)
	if err != nil {
		return "", nil, err
	}
	m, err := ms.Get(ctx, digest.Digest(dgst))
	if err != nil {
		return "", nil, err
	}
	return m.Payload()
}

// BatchGetImage implements ecrapi.Handler.
func (r *Registry) BatchGetImage(ctx context.Context, in *ecrapi.BatchGetImageRequest) (*ecrapi.BatchGetImageResponse, error) {
	if _, _, err := r.repo(in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	out := &ecrapi.BatchGetImageResponse{Images: []ecrapi.Image{}, Failures: []ecrapi.ImageFailure{}}
	for _, id := range in.ImageIds {
		img, f := r.resolve(in.RepositoryName, id)
		if f != nil {
			out.Failures = append(out.Failures, *f)
			continue
		}
		mt, payload, err := r.manifestBytes(ctx, in.RepositoryName, img.Digest)
		if err != nil {
			out.Failures = append(out.Failures, imageFailure(id, ecrapi.ImageFailureCodeImageNotFound, "Requested image not found: "+err.Error()))
			continue
		}
		if len(in.AcceptedMediaTypes) > 0 && !slices.Contains(in.AcceptedMediaTypes, mt) {
			out.Failures = append(out.Failures, imageFailure(id, ecrapi.ImageFailureCodeImageNotFound,
				"The image's manifest media type "+mt+" is not among the accepted media types"))
			continue
		}
		rid := ecrapi.ImageIdentifier{ImageDigest: ptr(img.Digest), ImageTag: id.ImageTag}
		out.Images = append(out.Images, ecrapi.Image{
			RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(in.RepositoryName), ImageId: &rid,
			ImageManifest: ptr(string(payload)), ImageManifestMediaType: ptr(mt),
		})
	}
	return out, nil
}

// BatchDeleteImage implements ecrapi.Handler: a tag is removed (and its
// image with its last tag); a digest removes the image and all its tags.
func (r *Registry) BatchDeleteImage(ctx context.Context, in *ecrapi.BatchDeleteImageRequest) (*ecrapi.BatchDeleteImageResponse, error) {
	if _, _, err := r.repo(in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	out := &ecrapi.BatchDeleteImageResponse{ImageIds: []ecrapi.ImageIdentifier{}, Failures: []ecrapi.ImageFailure{}}
	for _, id := range in.ImageIds {
		img, f := r.resolve(in.RepositoryName, id)
		if f != nil {
			out.Failures = append(out.Failures, *f)
			continue
		}
		var err error
		if tag := deref(id.ImageTag); tag != "" {
			_, err = r.untag(ctx, in.RepositoryName, tag)
		} else {
			_, err = r.deleteImage(ctx, in.RepositoryName, img.Digest)
		}
		if err != nil {
			return nil, err
		}
		out.ImageIds = append(out.ImageIds, ecrapi.ImageIdentifier{ImageDigest: ptr(img.Digest), ImageTag: id.ImageTag})
	}
	return out, nil
}

// PutImage implements ecrapi.Handler: the manifest's blobs must have been
// uploaded (by the layer operations or a docker push).
func (r *Registry) PutImage(ctx context.Context, in *ecrapi.PutImageRequest) (*ecrapi.PutImageResponse, error) {
	if _, _, err := r.repo(in.RegistryId, in.RepositoryName); err != nil {
		return nil, err
	}
	payload := []byte(in.ImageManifest)
	mt := deref(in.ImageManifestMediaType)
	if mt == "" {
		var probe struct {
			MediaType string `json:"mediaType"`
		}
		if json.Unmarshal(payload, &probe) != nil {
			return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'")
		}
		mt = probe.MediaType
	}
	man, desc, err := distribution.UnmarshalManifest(mt, payload)
	if err != nil {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'ImageManifest' failed to satisfy constraint: '%v'", err)
	}
	if d := deref(in.ImageDigest); d != "" && d != desc.Digest.String() {
		return nil, ecrapi.NewImageDigestDoesNotMatchException("Invalid parameter at 'imageDigest' failed to satisfy constraint: 'The digest %s does not match the digest of the manifest, %s'", d, desc.Digest)
	}
	tag := deref(in.ImageTag)
	if _, _, ok := r.cachedImage(in.RepositoryName, desc.Digest.String()); ok {
		if t, _, ok := r.cachedTag(in.RepositoryName, tag); tag == "" || (ok && t.Digest == desc.Digest.String()) {
			return nil, ecrapi.NewImageAlreadyExistsException("Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'",
				desc.Digest, tag, in.RepositoryName, r.cfg.AccountID)
		}
	}
	rp, err := r.repositoryByName(ctx, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	ms, err := rp.(*repository).Repository.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	r.gcMu.RLock()
	_, err = r.putManifest(ctx, ms, in.RepositoryName, man, tag)
	r.gcMu.RUnlock()
	if err != nil {
		return nil, r.putImageError(in.RepositoryName, tag, err)
	}
	id := ecrapi.ImageIdentifier{ImageDigest: ptr(desc.Digest.String())}
	if tag != "" {
		id.ImageTag = ptr(tag)
	}
	return &ecrapi.PutImageResponse{Image: &ecrapi.Image{
		RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(in.RepositoryName), ImageId: &id,
		ImageManifest: ptr(in.ImageManifest), ImageManifestMediaType: ptr(mt),
	}}, nil
}

// putImageError maps storage errors of a manifest put to ECR exceptions.
func (r *Registry) putImageError(repo, tag string, err error) error {
	if errors.Is(err, errTagImmutable) {
		return ecrapi.NewImageTagAlreadyExistsException("%s", r.immutableMessage(repo, tag))
	}
	var verr distribution.ErrManifestVerification
	if errors.As(err, &verr) {
		var missing []string
		for _, e := range verr {
			var bu distribution.ErrManifestBlobUnknown
			if errors.As(e, &bu) {
				missing = append(missing, bu.Digest.String())
			}
		}
		if len(missing) > 0 {
			return ecrapi.NewLayersNotFoundException("Layers with digests '%s' required for pushing image into repository with name '%s' in the registry with id '%s' do not exist",
				strings.Join(missing, ", "), repo, r.cfg.AccountID)
		}
		return ecrapi.NewInvalidParameterException("Invalid parameter at 'ImageManifest' failed to satisfy constraint: '%v'", err)
	}
	if _, ok := awsapi.AsError(err); ok {
		return err
	}
	return err
}
