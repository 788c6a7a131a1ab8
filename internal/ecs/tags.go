package ecs

import (
	"context"
	"encoding/json"
	"strings"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/store"
)

// Tags are kept beside the resource they label, under tags/<arn>: the tag
// API is their only writer, and a resource and its initial tags are written in
// one transaction.

const maxTagsPerResource = 50

func (s *Server) tagsKey(arn string) string { return s.key("tags", arn) }

// tagsOf returns the tags of arn from the cache (nil when none).
func (s *Server) tagsOf(arn string) []ecsapi.Tag {
	kv, ok := s.cache.Get(s.tagsKey(arn))
	if !ok {
		return nil
	}
	var tags []ecsapi.Tag
	if err := json.Unmarshal(kv.Value, &tags); err != nil {
		s.log.Error("corrupt tags record", "arn", arn, "err", err)
		return nil
	}
	return tags
}

// validateTags checks what the model cannot: the reserved aws: prefix,
// duplicate keys and the per-resource limit.
func validateTags(tags []ecsapi.Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		k := deref(t.Key)
		if k == "" {
			return invalidParam("Tag keys must not be empty.")
		}
		if strings.HasPrefix(strings.ToLower(k), "aws:") {
			return invalidParam("Tag keys must not start with the reserved prefix 'aws:' (got %q).", k)
		}
		if seen[k] {
			return invalidParam("Duplicate tag key %q: each tag key may appear only once.", k)
		}
		seen[k] = true
	}
	if len(tags) > maxTagsPerResource {
		return invalidParam("A resource can have at most %d tags; the request would give it %d.", maxTagsPerResource, len(tags))
	}
	return nil
}

// tagsOp is the write of a resource's whole tag set (deleting the record when
// empty); it is unconditional because it rides in the resource's own guarded
// transaction or in the tag API's guarded update.
func (s *Server) tagsOp(arn string, tags []ecsapi.Tag) store.Op {
	if len(tags) == 0 {
		return store.Op{Key: s.tagsKey(arn), Delete: true, Unconditional: true}
	}
	b, _ := json.Marshal(tags)
	return store.Op{Key: s.tagsKey(arn), Value: b, Unconditional: true}
}

// resourceExists tells whether arn names a taggable resource that exists, and
// the error ECS answers otherwise.
func (s *Server) resourceExists(arn string) error {
	a, ok := parseARN(arn)
	if !ok || a.Region != s.cfg.Region || a.Account != s.cfg.AccountID {
		return invalidParam("The ARN provided is invalid: %q is not an ECS resource ARN of account %s in %s.", arn, s.cfg.AccountID, s.cfg.Region)
	}
	var exists bool
	switch {
	case a.Resource == resCluster && len(a.Path) == 1:
		c, ok := s.cachedCluster(a.Path[0])
		exists = ok && c.Status == clusterActive
	case a.Resource == resTaskDefinition && len(a.Path) == 1:
		family, rev, ok := splitFamilyRevision(a.Path[0])
		if ok {
			_, exists = s.cachedTaskDef(family, rev)
		}
	case a.Resource == resCapacityProvider && len(a.Path) == 1:
		cp, ok := s.cachedCapacityProvider(a.Path[0])
		exists = ok && cp.Status == "ACTIVE"
	case a.Resource == resContainerInst && len(a.Path) == 2:
		_, exists = s.cache.Get(s.key("instances", a.Path[0], a.Path[1]))
	case a.Resource == resTask && len(a.Path) == 2:
		_, exists = s.cache.Get(s.key("tasks", a.Path[0], a.Path[1]))
	case a.Resource == resService && len(a.Path) == 2:
		_, exists = s.cache.Get(s.key("services", a.Path[0], a.Path[1]))
	default:
		return invalidParam("The ARN provided is invalid: resource type %q cannot be tagged.", a.Resource)
	}
	if !exists {
		return ecsapi.NewResourceNotFoundException("The specified resource is not found: %s.", arn)
	}
	return nil
}

// updateTags applies fn to arn's tag set with a guarded write.
func (s *Server) updateTags(ctx context.Context, arn string, fn func([]ecsapi.Tag) ([]ecsapi.Tag, error)) error {
	if err := s.resourceExists(arn); err != nil {
		return err
	}
	_, rev, err := store.UpdateJSON(ctx, s.st, s.tagsKey(arn), func(cur *[]ecsapi.Tag, exists bool) (*[]ecsapi.Tag, error) {
		var tags []ecsapi.Tag
		if exists {
			tags = *cur
		}
		next, err := fn(tags)
		if err != nil {
			return nil, err
		}
		return &next, nil
	})
	if err != nil {
		return err
	}
	return s.synced(ctx, rev)
}

// TagResource implements ecsapi.Handler.
func (s *Server) TagResource(ctx context.Context, in *ecsapi.TagResourceRequest) (*ecsapi.TagResourceResponse, error) {
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	err := s.updateTags(ctx, in.ResourceArn, func(cur []ecsapi.Tag) ([]ecsapi.Tag, error) {
		merged := mergeTags(cur, in.Tags)
		return merged, validateTags(merged)
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.TagResourceResponse{}, nil
}

// UntagResource implements ecsapi.Handler.
func (s *Server) UntagResource(ctx context.Context, in *ecsapi.UntagResourceRequest) (*ecsapi.UntagResourceResponse, error) {
	drop := map[string]bool{}
	for _, k := range in.TagKeys {
		drop[k] = true
	}
	err := s.updateTags(ctx, in.ResourceArn, func(cur []ecsapi.Tag) ([]ecsapi.Tag, error) {
		var out []ecsapi.Tag
		for _, t := range cur {
			if !drop[deref(t.Key)] {
				out = append(out, t)
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return &ecsapi.UntagResourceResponse{}, nil
}

// ListTagsForResource implements ecsapi.Handler.
func (s *Server) ListTagsForResource(ctx context.Context, in *ecsapi.ListTagsForResourceRequest) (*ecsapi.ListTagsForResourceResponse, error) {
	if err := s.resourceExists(in.ResourceArn); err != nil {
		return nil, err
	}
	tags := s.tagsOf(in.ResourceArn)
	if tags == nil {
		tags = []ecsapi.Tag{}
	}
	return &ecsapi.ListTagsForResourceResponse{Tags: tags}, nil
}

// mergeTags overlays add on cur, replacing values of existing keys.
func mergeTags(cur, add []ecsapi.Tag) []ecsapi.Tag {
	out := append([]ecsapi.Tag(nil), cur...)
	for _, t := range add {
		replaced := false
		for i := range out {
			if deref(out[i].Key) == deref(t.Key) {
				out[i].Value = t.Value
				replaced = true
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return out
}
