package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/internal/awsapi"
)

// Distribution is wrapped at three points: the namespace (a repository must
// exist as an ECR repository), the manifest service (tag immutability, image
// records on push, deletes through the records) and the tag service
// (replaced by the tag records in etcd).

type writeKey struct{}

// wrapHTTP marks write requests (for auto-created repositories) and holds
// the garbage collection off while they run.
func (r *Registry) wrapHTTP(app http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.Method {
		case http.MethodGet, http.MethodHead:
			r.presigned(req)
		default:
			r.gcMu.RLock()
			defer r.gcMu.RUnlock()
			req = req.WithContext(context.WithValue(req.Context(), writeKey{}, true))
		}
		app.ServeHTTP(w, req)
	})
}

func isWrite(ctx context.Context) bool { v, _ := ctx.Value(writeKey{}).(bool); return v }

// namespace refuses repositories that are not ECR repositories.
type namespace struct {
	distribution.Namespace
	r *Registry
}

func (n *namespace) Repository(ctx context.Context, named reference.Named) (distribution.Repository, error) {
	name := named.Name()
	if _, _, ok := n.r.cachedRepo(name); !ok {
		if !n.r.cfg.AutoCreateRepositories || !isWrite(ctx) {
			return nil, errcode.ErrorCodeNameUnknown.WithMessage(fmt.Sprintf(
				"The repository with name '%s' does not exist in the registry with id '%s'", name, n.r.cfg.AccountID))
		}
		if err := n.r.autoCreate(ctx, name); err != nil {
			return nil, errcode.ErrorCodeUnknown.WithDetail(err.Error())
		}
	}
	return n.r.repository(ctx, named)
}

// autoCreate creates a repository with the defaults, for a push.
func (r *Registry) autoCreate(ctx context.Context, name string) error {
	if err := validateRepoName(name); err != nil {
		return err
	}
	err := r.createRepo(ctx, r.defaultRepo(name))
	if awsapi.IsCode(err, "RepositoryAlreadyExistsException") {
		return nil
	}
	if err == nil {
		r.log.Info("repository created by a push", "repository", name)
	}
	return err
}

// repository wraps Distribution's repository name (which must exist).
func (r *Registry) repository(ctx context.Context, named reference.Named) (distribution.Repository, error) {
	inner, err := r.ns.Repository(ctx, named)
	if err != nil {
		return nil, err
	}
	return &repository{Repository: inner, r: r, name: named.Name()}, nil
}

// repositoryByName is repository for a validated name.
func (r *Registry) repositoryByName(ctx context.Context, name string) (distribution.Repository, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, err
	}
	return r.repository(ctx, named)
}

type repository struct {
	distribution.Repository
	r    *Registry
	name string
}

func (p *repository) Manifests(ctx context.Context, opts ...distribution.ManifestServiceOption) (distribution.ManifestService, error) {
	ms, err := p.Repository.Manifests(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return &manifests{ManifestService: ms, r: p.r, repo: p.name}, nil
}

func (p *repository) Tags(context.Context) distribution.TagService {
	return &tags{r: p.r, repo: p.name}
}

// manifests hides manifests that have no image record (deleted or expired,
// waiting for the garbage collection) and records pushes.
type manifests struct {
	distribution.ManifestService
	r    *Registry
	repo string
}

func (m *manifests) Exists(ctx context.Context, dgst digest.Digest) (bool, error) {
	if _, _, ok := m.r.cachedImage(m.repo, dgst.String()); !ok {
		return false, nil
	}
	return m.ManifestService.Exists(ctx, dgst)
}

func (m *manifests) Get(ctx context.Context, dgst digest.Digest, opts ...distribution.ManifestServiceOption) (distribution.Manifest, error) {
	if _, _, ok := m.r.cachedImage(m.repo, dgst.String()); !ok {
		return nil, distribution.ErrManifestUnknownRevision{Name: m.repo, Revision: dgst}
	}
	return m.ManifestService.Get(ctx, dgst, opts...)
}

func (m *manifests) Put(ctx context.Context, man distribution.Manifest, opts ...distribution.ManifestServiceOption) (digest.Digest, error) {
	var tag string
	for _, o := range opts {
		if t, ok := o.(distribution.WithTagOption); ok {
			tag = t.Tag
		}
	}
	d, err := m.r.putManifest(ctx, m.ManifestService, m.repo, man, tag)
	if err == errTagImmutable {
		return "", errcode.ErrorCodeTagInvalid.WithMessage(m.r.immutableMessage(m.repo, tag))
	}
	return d, err
}

func (m *manifests) Delete(ctx context.Context, dgst digest.Digest) error {
	found, err := m.r.deleteImage(ctx, m.repo, dgst.String())
	if err != nil {
		return err
	}
	if !found {
		return distribution.ErrBlobUnknown
	}
	return nil
}

// tags is Distribution's TagService over the tag records.
type tags struct {
	r    *Registry
	repo string
}

func (t *tags) Get(_ context.Context, tag string) (v1.Descriptor, error) {
	rec, _, ok := t.r.cachedTag(t.repo, tag)
	if !ok {
		return v1.Descriptor{}, distribution.ErrTagUnknown{Tag: tag}
	}
	img, _, ok := t.r.cachedImage(t.repo, rec.Digest)
	if !ok {
		return v1.Descriptor{}, distribution.ErrTagUnknown{Tag: tag}
	}
	return v1.Descriptor{MediaType: img.MediaType, Digest: digest.Digest(img.Digest), Size: img.ManifestSize}, nil
}

func (t *tags) Tag(ctx context.Context, tag string, desc v1.Descriptor) error {
	return t.r.tagImage(ctx, t.repo, tag, desc.Digest.String())
}

func (t *tags) Untag(ctx context.Context, tag string) error {
	found, err := t.r.untag(ctx, t.repo, tag)
	if err == nil && !found {
		return distribution.ErrTagUnknown{Tag: tag}
	}
	return err
}

func (t *tags) All(context.Context) ([]string, error) {
	var out []string
	for tag := range t.r.repoTags(t.repo) {
		out = append(out, tag)
	}
	slices.Sort(out)
	return out, nil
}

func (t *tags) Lookup(_ context.Context, desc v1.Descriptor) ([]string, error) {
	var out []string
	for tag, rec := range t.r.repoTags(t.repo) {
		if rec.Digest == desc.Digest.String() {
			out = append(out, tag)
		}
	}
	slices.Sort(out)
	return out, nil
}

// List returns up to limit tags after last (all with limit < 0), and io.EOF
// when there are no more, as Distribution's tag store does.
func (t *tags) List(ctx context.Context, limit int, last string) ([]string, error) {
	all, _ := t.All(ctx)
	i, _ := slices.BinarySearch(all, last)
	if last != "" && i < len(all) && all[i] == last {
		i++
	}
	rest := all[i:]
	if limit < 0 || limit >= len(rest) {
		return rest, io.EOF
	}
	return rest[:limit], nil
}

// removeStorage drops a deleted repository's directory (links only; the
// blobs go with the garbage collection). Failures are logged: the garbage
// collection removes what is left.
func (r *Registry) removeStorage(ctx context.Context, name string) {
	rm, ok := r.ns.(distribution.RepositoryRemover)
	named, err := reference.WithName(name)
	if !ok || err != nil {
		return
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	if err := rm.Remove(ctx, named); err != nil {
		r.log.Debug("removing a deleted repository's storage", "repository", name, "err", err)
	}
}
