package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/berth-dev/berth/internal/store"
)

// Garbage collection: mark every blob an image record references (the
// manifest and what it references), then sweep the rest — blobs, manifest
// revisions without a record, layer links and repository directories of
// deleted repositories.
//
// Locking: within a process, the collection holds gcMu exclusively while
// pushes and deletes hold it shared, so it never runs between a blob upload
// and the manifest put that references it. Across servers, an etcd mutex
// lets one collection run at a time, and blobs younger than grace are never
// swept, which covers a push in progress on another server.

// GCStats counts what a collection removed.
type GCStats struct {
	Blobs, Manifests, LayerLinks, Repositories int
	Marked                                     int
}

// gcSessionTTL bounds how long a crashed collector holds the cluster lock.
const gcSessionTTL = 30

// CollectGarbage removes what no image record references and is older than
// grace. When another server is collecting it returns at once with zero
// stats.
func (r *Registry) CollectGarbage(ctx context.Context, grace time.Duration) (GCStats, error) {
	var st GCStats
	sess, err := concurrency.NewSession(r.st.Client(), concurrency.WithTTL(gcSessionTTL), concurrency.WithContext(ctx))
	if err != nil {
		return st, fmt.Errorf("garbage collection lock: %w", err)
	}
	defer sess.Close()
	mu := concurrency.NewMutex(sess, store.Key(r.cfg.AccountID, r.cfg.Region, "ecr-gc-lock"))
	if err := mu.TryLock(ctx); err != nil {
		if errors.Is(err, concurrency.ErrLocked) {
			return st, nil
		}
		return st, fmt.Errorf("garbage collection lock: %w", err)
	}
	defer mu.Unlock(context.WithoutCancel(ctx))

	r.gcMu.Lock()
	defer r.gcMu.Unlock()
	return r.collect(ctx, grace)
}

func (r *Registry) collect(ctx context.Context, grace time.Duration) (GCStats, error) {
	var st GCStats
	cutoff := time.Now().Add(-grace)
	records, err := r.recordedImages(ctx)
	if err != nil {
		return st, err
	}
	vacuum := storage.NewVacuum(ctx, r.driver)
	old := func(d digest.Digest) bool { return r.blobOlderThan(ctx, d, cutoff) }

	var repos []string
	enum, ok := r.ns.(distribution.RepositoryEnumerator)
	if !ok {
		return st, errors.New("garbage collection: the storage cannot enumerate repositories")
	}
	err = enum.Enumerate(ctx, func(name string) error { repos = append(repos, name); return nil })
	if err != nil && !isPathNotFound(err) {
		return st, fmt.Errorf("listing stored repositories: %w", err)
	}
	marked := map[digest.Digest]bool{}
	type link struct {
		repo string
		d    digest.Digest
	}
	var links []link
	for _, name := range repos {
		recs, exists := records[name]
		if !exists {
			if err := vacuum.RemoveRepository(name); err != nil {
				return st, fmt.Errorf("removing deleted repository %s: %w", name, err)
			}
			st.Repositories++
			continue
		}
		named, err := reference.WithName(name)
		if err != nil {
			continue
		}
		rp, err := r.ns.Repository(ctx, named)
		if err != nil {
			return st, err
		}
		ms, err := rp.Manifests(ctx)
		if err != nil {
			return st, err
		}
		var orphans []digest.Digest
		err = ms.(distribution.ManifestEnumerator).Enumerate(ctx, func(d digest.Digest) error {
			if !recs[d.String()] {
				orphans = append(orphans, d)
				return nil
			}
			marked[d] = true
			m, err := ms.Get(ctx, d)
			if err != nil {
				return fmt.Errorf("reading manifest %s@%s: %w", name, d, err)
			}
			for _, ref := range m.References() {
				marked[ref.Digest] = true
			}
			return nil
		})
		if err != nil && !isPathNotFound(err) {
			return st, err
		}
		for _, d := range orphans {
			if marked[d] || !old(d) {
				continue
			}
			if err := vacuum.RemoveManifest(name, d, nil); err != nil {
				return st, fmt.Errorf("removing manifest %s@%s: %w", name, d, err)
			}
			st.Manifests++
		}
		err = rp.Blobs(ctx).(distribution.ManifestEnumerator).Enumerate(ctx, func(d digest.Digest) error {
			links = append(links, link{name, d})
			return nil
		})
		if err != nil && !isPathNotFound(err) {
			return st, err
		}
	}
	st.Marked = len(marked)
	var sweep []digest.Digest
	err = r.ns.Blobs().Enumerate(ctx, func(d digest.Digest) error {
		if !marked[d] && old(d) {
			sweep = append(sweep, d)
		}
		return nil
	})
	if err != nil && !isPathNotFound(err) {
		return st, fmt.Errorf("listing blobs: %w", err)
	}
	swept := map[digest.Digest]bool{}
	for _, d := range sweep {
		if err := vacuum.RemoveBlob(d.String()); err != nil {
			return st, fmt.Errorf("removing blob %s: %w", d, err)
		}
		swept[d] = true
		st.Blobs++
	}
	for _, l := range links {
		if swept[l.d] {
			if err := vacuum.RemoveLayer(l.repo, l.d); err != nil {
				return st, fmt.Errorf("removing layer link %s@%s: %w", l.repo, l.d, err)
			}
			st.LayerLinks++
		}
	}
	if st.Blobs+st.Manifests+st.Repositories > 0 {
		r.log.Info("registry garbage collected", "blobs", st.Blobs, "manifests", st.Manifests,
			"layer_links", st.LayerLinks, "repositories", st.Repositories, "kept", st.Marked)
	}
	return st, nil
}

// recordedImages reads every image record from etcd (not the cache: the
// collection must not miss a record the cache has not applied yet), by
// repository; repositories without images are present with an empty set.
func (r *Registry) recordedImages(ctx context.Context) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	repos, _, err := r.st.List(ctx, r.prefix("repositories"))
	if err != nil {
		return nil, err
	}
	for _, kv := range repos {
		var rec repoRecord
		if json.Unmarshal(kv.Value, &rec) == nil {
			out[rec.Name] = map[string]bool{}
		}
	}
	imgs, _, err := r.st.List(ctx, r.prefix("images"))
	if err != nil {
		return nil, err
	}
	for _, kv := range imgs {
		parts, ok := store.SplitKey(kv.Key)
		if !ok || len(parts) < 2 {
			continue
		}
		repo, d := parts[len(parts)-2], parts[len(parts)-1]
		if out[repo] != nil {
			out[repo][d] = true
		}
	}
	return out, nil
}

// blobOlderThan tells whether a blob's data was written before cutoff; a
// blob whose age cannot be read is kept.
func (r *Registry) blobOlderThan(ctx context.Context, d digest.Digest, cutoff time.Time) bool {
	if d.Validate() != nil {
		return false
	}
	enc := d.Encoded()
	fi, err := r.driver.Stat(ctx, fmt.Sprintf("/docker/registry/v2/blobs/%s/%s/%s/data", d.Algorithm(), enc[:2], enc))
	if err != nil {
		return false
	}
	return fi.ModTime().Before(cutoff)
}

func isPathNotFound(err error) bool {
	var pnf storagedriver.PathNotFoundError
	return errors.As(err, &pnf)
}
