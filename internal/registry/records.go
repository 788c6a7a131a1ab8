package registry

import (
	"encoding/json"
	"slices"
	"sort"
	"time"

	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/internal/store"
)

// Records, all under /berth/<account>/<region>/ecr/:
//
//	repositories/<name>       repoRecord   (ECR API; lifecycle/policy fields by their ops)
//	images/<repo>/<digest>    imageRecord  (written by a push, deleted by deletes and expiry)
//	tags/<repo>/<tag>         tagRecord    (one key per tag, so immutability is a create guard)
//
// Image and tag records are the truth of what a repository holds; the
// storage below only holds bytes and is swept by the garbage collection.

// repoRecord is an ECR repository.
type repoRecord struct {
	Name               string                                     `json:"name"`
	CreatedAt          time.Time                                  `json:"createdAt"`
	ImageTagMutability ecrapi.ImageTagMutability                  `json:"imageTagMutability"`
	MutabilityFilters  []ecrapi.ImageTagMutabilityExclusionFilter `json:"mutabilityFilters,omitempty"`
	ScanOnPush         bool                                       `json:"scanOnPush,omitempty"`
	Encryption         ecrapi.EncryptionConfiguration             `json:"encryption"`
	Tags               []ecrapi.Tag                               `json:"tags,omitempty"`
	Policy             string                                     `json:"policy,omitempty"`
	LifecyclePolicy    string                                     `json:"lifecyclePolicy,omitempty"`
	LifecycleEvaluated time.Time                                  `json:"lifecycleEvaluated,omitzero"`
}

// imageRecord is one manifest pushed to a repository.
type imageRecord struct {
	Digest            string `json:"digest"`
	MediaType         string `json:"mediaType"`
	ArtifactMediaType string `json:"artifactMediaType,omitempty"`
	ManifestSize      int64  `json:"manifestSize"`
	// Size is the sum of the layer sizes, as ECR reports imageSizeInBytes.
	Size     int64     `json:"size"`
	PushedAt time.Time `json:"pushedAt"`
}

// tagRecord points a tag at an image.
type tagRecord struct {
	Digest   string    `json:"digest"`
	PushedAt time.Time `json:"pushedAt"`
}

// image is an image record with its current tags (sorted).
type image struct {
	imageRecord
	Tags []string
}

// repoNameRE is ECR's repository name pattern.
var repoNameRE = lazyregexp.New(`^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// tagRE is the Docker tag grammar.
var tagRE = lazyregexp.New(`^[\w][\w.-]{0,127}$`)

func (r *Registry) repoKey(name string) string { return r.key("repositories", name) }

func (r *Registry) imageKey(repo, dgst string) string { return r.key("images", repo, dgst) }

func (r *Registry) tagKey(repo, tag string) string { return r.key("tags", repo, tag) }

// cachedRepo reads a repository from the cache.
func (r *Registry) cachedRepo(name string) (repoRecord, int64, bool) {
	if name == "" {
		return repoRecord{}, 0, false
	}
	rec, rev, err := store.GetCachedJSON[repoRecord](r.cache, r.repoKey(name))
	if err != nil {
		return repoRecord{}, 0, false
	}
	return rec, rev, true
}

// cachedRepos lists every repository, sorted by name.
func (r *Registry) cachedRepos() []repoRecord {
	recs, err := store.ListCachedJSON[repoRecord](r.cache, r.prefix("repositories"))
	if err != nil {
		r.log.Error("corrupt repository record", "err", err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	return recs
}

// cachedTag resolves a tag.
func (r *Registry) cachedTag(repo, tag string) (tagRecord, int64, bool) {
	rec, rev, err := store.GetCachedJSON[tagRecord](r.cache, r.tagKey(repo, tag))
	if err != nil {
		return tagRecord{}, 0, false
	}
	return rec, rev, true
}

// cachedImage reads an image record.
func (r *Registry) cachedImage(repo, dgst string) (imageRecord, int64, bool) {
	rec, rev, err := store.GetCachedJSON[imageRecord](r.cache, r.imageKey(repo, dgst))
	if err != nil {
		return imageRecord{}, 0, false
	}
	return rec, rev, true
}

// repoTags maps each tag of repo to its record.
func (r *Registry) repoTags(repo string) map[string]tagRecord {
	out := map[string]tagRecord{}
	for _, kv := range r.cache.List(r.prefix("tags", repo)) {
		var t tagRecord
		if json.Unmarshal(kv.Value, &t) == nil {
			out[store.LastPart(kv.Key)] = t
		}
	}
	return out
}

// images lists repo's images with their tags, newest push first (ties by
// digest, so the order is stable).
func (r *Registry) images(repo string) []image {
	byDigest := map[string][]string{}
	for tag, t := range r.repoTags(repo) {
		byDigest[t.Digest] = append(byDigest[t.Digest], tag)
	}
	var out []image
	for _, kv := range r.cache.List(r.prefix("images", repo)) {
		var rec imageRecord
		if json.Unmarshal(kv.Value, &rec) != nil {
			continue
		}
		tags := byDigest[rec.Digest]
		slices.Sort(tags)
		out = append(out, image{imageRecord: rec, Tags: tags})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].PushedAt.Equal(out[j].PushedAt) {
			return out[i].PushedAt.After(out[j].PushedAt)
		}
		return out[i].Digest < out[j].Digest
	})
	return out
}

// immutable tells whether tag may not be moved in repo.
func (rec repoRecord) immutable(tag string) bool {
	switch rec.ImageTagMutability {
	case ecrapi.ImageTagMutabilityImmutable:
		return true
	case ecrapi.ImageTagMutabilityImmutableWithExclusion:
		return !matchesExclusion(rec.MutabilityFilters, tag)
	case ecrapi.ImageTagMutabilityMutableWithExclusion:
		return matchesExclusion(rec.MutabilityFilters, tag)
	}
	return false
}

func matchesExclusion(filters []ecrapi.ImageTagMutabilityExclusionFilter, tag string) bool {
	for _, f := range filters {
		if wildcardMatch(f.Filter, tag) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against a pattern where '*' is any run of
// characters (ECR's tag filters and lifecycle tagPatternList).
func wildcardMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		if pattern[0] == '*' {
			for len(pattern) > 0 && pattern[0] == '*' {
				pattern = pattern[1:]
			}
			if pattern == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if wildcardMatch(pattern, s[i:]) {
					return true
				}
			}
			return false
		}
		if s == "" || s[0] != pattern[0] {
			return false
		}
		pattern, s = pattern[1:], s[1:]
	}
	return s == ""
}
