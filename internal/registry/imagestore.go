package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/distribution/distribution/v3"
	digest "github.com/opencontainers/go-digest"

	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
	"github.com/berth-dev/berth/internal/store"
)

// errTagImmutable: a push would move a tag of an immutable repository.
var errTagImmutable = errors.New("tag is immutable")

// recordAttempts bounds the optimistic-concurrency retries of record writes.
const recordAttempts = 16

func (r *Registry) immutableMessage(repo, tag string) string {
	return fmt.Sprintf("The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", tag, repo)
}

func (r *Registry) defaultRepo(name string) repoRecord {
	return repoRecord{
		Name: name, CreatedAt: r.now(), ImageTagMutability: ecrapi.ImageTagMutabilityMutable,
		Encryption: ecrapi.EncryptionConfiguration{EncryptionType: ecrapi.EncryptionTypeAes256},
	}
}

// manifestFacts reads what ECR reports about a manifest from its JSON.
func manifestFacts(mediaType string, payload []byte) imageRecord {
	var m struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			MediaType string `json:"mediaType"`
		} `json:"config"`
		Layers []struct {
			Size int64 `json:"size"`
		} `json:"layers"`
	}
	_ = json.Unmarshal(payload, &m)
	if mediaType == "" {
		mediaType = m.MediaType
	}
	rec := imageRecord{
		Digest: digest.FromBytes(payload).String(), MediaType: mediaType,
		ArtifactMediaType: m.Config.MediaType, ManifestSize: int64(len(payload)),
	}
	for _, l := range m.Layers {
		rec.Size += l.Size
	}
	return rec
}

// putManifest stores a manifest (Distribution checks that its blobs exist)
// and records it, with tag if not empty. A tag of an immutable repository
// that points elsewhere is refused with errTagImmutable before anything is
// stored.
func (r *Registry) putManifest(ctx context.Context, ms distribution.ManifestService, repo string, man distribution.Manifest, tag string) (digest.Digest, error) {
	mediaType, payload, err := man.Payload()
	if err != nil {
		return "", err
	}
	rec, _, ok := r.cachedRepo(repo)
	if !ok {
		return "", r.repoNotFound(repo)
	}
	facts := manifestFacts(mediaType, payload)
	if tag != "" && rec.immutable(tag) {
		if cur, _, ok := r.cachedTag(repo, tag); ok && cur.Digest != facts.Digest {
			return "", errTagImmutable
		}
	}
	var opts []distribution.ManifestServiceOption
	if tag != "" {
		opts = append(opts, distribution.WithTag(tag))
	}
	d, err := ms.Put(ctx, man, opts...)
	if err != nil {
		return "", err
	}
	facts.PushedAt = r.now()
	if err := r.recordImage(ctx, repo, facts, tag); err != nil {
		return "", err
	}
	return d, nil
}

// recordImage writes the image record (kept if it exists: pushedAt is the
// first push) and points tag at it, in one transaction.
func (r *Registry) recordImage(ctx context.Context, repo string, img imageRecord, tag string) error {
	for attempt := 1; ; attempt++ {
		var ops []store.Op
		ikey := r.imageKey(repo, img.Digest)
		if _, err := r.st.Get(ctx, ikey); errors.Is(err, store.ErrNotFound) {
			b, _ := json.Marshal(img)
			ops = append(ops, store.Op{Key: ikey, Value: b})
		} else if err != nil {
			return err
		}
		if tag != "" {
			op, err := r.tagOp(ctx, repo, tag, img.Digest, img.PushedAt)
			if err != nil {
				return err
			}
			if op != nil {
				ops = append(ops, *op)
			}
		}
		if len(ops) == 0 {
			return nil
		}
		rev, err := r.st.Txn(ctx, ops...)
		if errors.Is(err, store.ErrConflict) && attempt < recordAttempts {
			continue
		}
		if err != nil {
			return err
		}
		return r.synced(ctx, rev)
	}
}

// tagOp is the guarded write pointing tag at dgst; nil when it already
// does. It reads the repository fresh so a mutability change applies at once.
func (r *Registry) tagOp(ctx context.Context, repo, tag, dgst string, at time.Time) (*store.Op, error) {
	if !tagRE.MatchString(tag) {
		return nil, ecrapi.NewInvalidParameterException("Invalid parameter at 'imageTag' failed to satisfy constraint: '%q is not a valid tag'", tag)
	}
	b, _ := json.Marshal(tagRecord{Digest: dgst, PushedAt: at})
	tkey := r.tagKey(repo, tag)
	kv, err := r.st.Get(ctx, tkey)
	if errors.Is(err, store.ErrNotFound) {
		return &store.Op{Key: tkey, Value: b}, nil
	}
	if err != nil {
		return nil, err
	}
	var cur tagRecord
	if json.Unmarshal(kv.Value, &cur) == nil && cur.Digest == dgst {
		return nil, nil
	}
	rec, _, err := store.GetJSON[repoRecord](ctx, r.st, r.repoKey(repo))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, r.repoNotFound(repo)
		}
		return nil, err
	}
	if rec.immutable(tag) {
		return nil, errTagImmutable
	}
	return &store.Op{Key: tkey, Value: b, ExpectRev: kv.ModRevision}, nil
}

// tagImage points tag at an existing image (Distribution's Tag after a push
// by tag; a no-op when the push recorded it).
func (r *Registry) tagImage(ctx context.Context, repo, tag, dgst string) error {
	for attempt := 1; ; attempt++ {
		if _, err := r.st.Get(ctx, r.imageKey(repo, dgst)); err != nil {
			return fmt.Errorf("tagging %s:%s: %w", repo, tag, err)
		}
		op, err := r.tagOp(ctx, repo, tag, dgst, r.now())
		if err != nil || op == nil {
			return err
		}
		rev, err := r.st.Txn(ctx, *op)
		if errors.Is(err, store.ErrConflict) && attempt < recordAttempts {
			continue
		}
		if err != nil {
			return err
		}
		return r.synced(ctx, rev)
	}
}

// untag removes a tag; when it was the image's last tag the image goes too,
// as on ECR. It reports whether the tag existed.
func (r *Registry) untag(ctx context.Context, repo, tag string) (bool, error) {
	for attempt := 1; ; attempt++ {
		tkey := r.tagKey(repo, tag)
		t, trev, err := store.GetJSON[tagRecord](ctx, r.st, tkey)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		ops := []store.Op{{Key: tkey, Delete: true, ExpectRev: trev}}
		kvs, _, err := r.st.List(ctx, r.prefix("tags", repo))
		if err != nil {
			return false, err
		}
		others := false
		for _, kv := range kvs {
			var o tagRecord
			if kv.Key != tkey && json.Unmarshal(kv.Value, &o) == nil && o.Digest == t.Digest {
				others = true
			}
		}
		if !others {
			if kv, err := r.st.Get(ctx, r.imageKey(repo, t.Digest)); err == nil {
				ops = append(ops, store.Op{Key: kv.Key, Delete: true, ExpectRev: kv.ModRevision})
			}
		}
		rev, err := r.st.Txn(ctx, ops...)
		if errors.Is(err, store.ErrConflict) && attempt < recordAttempts {
			continue
		}
		if err != nil {
			return false, err
		}
		return true, r.synced(ctx, rev)
	}
}

// deleteImage removes an image record and every tag pointing at it. It
// reports whether the image existed.
func (r *Registry) deleteImage(ctx context.Context, repo, dgst string) (bool, error) {
	for attempt := 1; ; attempt++ {
		kv, err := r.st.Get(ctx, r.imageKey(repo, dgst))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		ops := []store.Op{{Key: kv.Key, Delete: true, ExpectRev: kv.ModRevision}}
		kvs, _, err := r.st.List(ctx, r.prefix("tags", repo))
		if err != nil {
			return false, err
		}
		for _, t := range kvs {
			var o tagRecord
			if json.Unmarshal(t.Value, &o) == nil && o.Digest == dgst {
				ops = append(ops, store.Op{Key: t.Key, Delete: true, ExpectRev: t.ModRevision})
			}
		}
		for len(ops) > store.MaxTxnOps {
			// A digest with more tags than one transaction holds: drop tags
			// first, then the image with the rest.
			if _, err := r.st.Txn(ctx, ops[len(ops)-store.MaxTxnOps+1:]...); err != nil && !errors.Is(err, store.ErrConflict) {
				return false, err
			}
			ops = ops[:len(ops)-store.MaxTxnOps+1]
		}
		rev, err := r.st.Txn(ctx, ops...)
		if errors.Is(err, store.ErrConflict) && attempt < recordAttempts {
			continue
		}
		if err != nil {
			return false, err
		}
		return true, r.synced(ctx, rev)
	}
}
