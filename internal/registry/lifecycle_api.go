package registry

import (
	"context"
	"errors"
	"sort"

	"github.com/berth-dev/berth/internal/awsapi"
	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
)

func (r *Registry) lifecycleNotFound(name string) error {
	return ecrapi.NewLifecyclePolicyNotFoundException("Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", name, r.cfg.AccountID)
}

func invalidPolicy(err error) error {
	return ecrapi.NewInvalidParameterException("Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: %v'", err)
}

// PutLifecyclePolicy implements ecrapi.Handler. The policy is applied at
// once (ECR applies it within a day), then by the periodic maintenance.
func (r *Registry) PutLifecyclePolicy(ctx context.Context, in *ecrapi.PutLifecyclePolicyRequest) (*ecrapi.PutLifecyclePolicyResponse, error) {
	if _, err := parseLifecyclePolicy(in.LifecyclePolicyText); err != nil {
		return nil, invalidPolicy(err)
	}
	rec, err := r.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(rec *repoRecord) error {
		rec.LifecyclePolicy = in.LifecyclePolicyText
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := r.applyLifecycle(ctx, rec.Name); err != nil {
		r.log.Warn("applying a new lifecycle policy", "repository", rec.Name, "err", err)
	}
	return &ecrapi.PutLifecyclePolicyResponse{RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name), LifecyclePolicyText: ptr(rec.LifecyclePolicy)}, nil
}

// GetLifecyclePolicy implements ecrapi.Handler.
func (r *Registry) GetLifecyclePolicy(ctx context.Context, in *ecrapi.GetLifecyclePolicyRequest) (*ecrapi.GetLifecyclePolicyResponse, error) {
	rec, _, err := r.repo(in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if rec.LifecyclePolicy == "" {
		return nil, r.lifecycleNotFound(rec.Name)
	}
	return &ecrapi.GetLifecyclePolicyResponse{RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name),
		LifecyclePolicyText: ptr(rec.LifecyclePolicy), LastEvaluatedAt: awsapi.TimePtr(rec.LifecycleEvaluated)}, nil
}

// DeleteLifecyclePolicy implements ecrapi.Handler.
func (r *Registry) DeleteLifecyclePolicy(ctx context.Context, in *ecrapi.DeleteLifecyclePolicyRequest) (*ecrapi.DeleteLifecyclePolicyResponse, error) {
	var old repoRecord
	rec, err := r.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(rec *repoRecord) error {
		if rec.LifecyclePolicy == "" {
			return r.lifecycleNotFound(rec.Name)
		}
		old = *rec
		rec.LifecyclePolicy, rec.LifecycleEvaluated = "", old.LifecycleEvaluated
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrapi.DeleteLifecyclePolicyResponse{RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name),
		LifecyclePolicyText: ptr(old.LifecyclePolicy), LastEvaluatedAt: awsapi.TimePtr(old.LifecycleEvaluated)}, nil
}

// StartLifecyclePolicyPreview implements ecrapi.Handler: the preview is
// computed at once, so it is COMPLETE when this returns.
func (r *Registry) StartLifecyclePolicyPreview(ctx context.Context, in *ecrapi.StartLifecyclePolicyPreviewRequest) (*ecrapi.StartLifecyclePolicyPreviewResponse, error) {
	rec, _, err := r.repo(in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	text := deref(in.LifecyclePolicyText)
	if text == "" {
		text = rec.LifecyclePolicy
	}
	if text == "" {
		return nil, r.lifecycleNotFound(rec.Name)
	}
	if _, err := parseLifecyclePolicy(text); err != nil {
		return nil, invalidPolicy(err)
	}
	r.previewMu.Lock()
	if r.previews == nil {
		r.previews = map[string]string{}
	}
	r.previews[rec.Name] = text
	r.previewMu.Unlock()
	return &ecrapi.StartLifecyclePolicyPreviewResponse{RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name),
		LifecyclePolicyText: ptr(text), Status: ptr(ecrapi.LifecyclePolicyPreviewStatusComplete)}, nil
}

// GetLifecyclePolicyPreview implements ecrapi.Handler: what the previewed
// policy would expire now.
func (r *Registry) GetLifecyclePolicyPreview(ctx context.Context, in *ecrapi.GetLifecyclePolicyPreviewRequest) (*ecrapi.GetLifecyclePolicyPreviewResponse, error) {
	rec, _, err := r.repo(in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	r.previewMu.Lock()
	text := r.previews[rec.Name]
	r.previewMu.Unlock()
	if text == "" {
		return nil, ecrapi.NewLifecyclePolicyPreviewNotFoundException("There is no lifecycle policy preview for the repository with name '%s' in the registry with id '%s'", rec.Name, r.cfg.AccountID)
	}
	p, err := parseLifecyclePolicy(text)
	if err != nil {
		return nil, invalidPolicy(err)
	}
	imgs := r.images(rec.Name)
	exp := p.expired(imgs, r.now())
	out := &ecrapi.GetLifecyclePolicyPreviewResponse{RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name),
		LifecyclePolicyText: ptr(text), Status: ptr(ecrapi.LifecyclePolicyPreviewStatusComplete),
		PreviewResults: []ecrapi.LifecyclePolicyPreviewResult{}}
	for _, img := range imgs {
		prio, ok := exp[img.Digest]
		if !ok {
			continue
		}
		out.PreviewResults = append(out.PreviewResults, ecrapi.LifecyclePolicyPreviewResult{
			ImageTags: img.Tags, ImageDigest: ptr(img.Digest), ImagePushedAt: awsapi.TimePtr(img.PushedAt),
			Action: &ecrapi.LifecyclePolicyRuleAction{Type: ptr(ecrapi.ImageActionTypeExpire)}, AppliedRulePriority: ptr(int32(prio)),
		})
	}
	out.Summary = &ecrapi.LifecyclePolicyPreviewSummary{ExpiringImageTotalCount: ptr(int32(len(out.PreviewResults)))}
	return out, nil
}

// ApplyLifecyclePolicies expires images by every repository's lifecycle
// policy now (the periodic maintenance calls it; tests and tools may too).
// It returns how many images it expired.
func (r *Registry) ApplyLifecyclePolicies(ctx context.Context) (int, error) {
	var n int
	var errs []error
	for _, rec := range r.cachedRepos() {
		if rec.LifecyclePolicy == "" {
			continue
		}
		k, err := r.applyLifecycle(ctx, rec.Name)
		n += k
		if err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// applyLifecycle expires one repository's images by its policy.
func (r *Registry) applyLifecycle(ctx context.Context, repo string) (int, error) {
	rec, _, ok := r.cachedRepo(repo)
	if !ok || rec.LifecyclePolicy == "" {
		return 0, nil
	}
	p, err := parseLifecyclePolicy(rec.LifecyclePolicy)
	if err != nil {
		return 0, err
	}
	now := r.now()
	exp := p.expired(r.images(repo), now)
	digests := make([]string, 0, len(exp))
	for d := range exp {
		digests = append(digests, d)
	}
	sort.Strings(digests)
	r.gcMu.RLock()
	n := 0
	for _, d := range digests {
		found, err := r.deleteImage(ctx, repo, d)
		if err != nil {
			r.gcMu.RUnlock()
			return n, err
		}
		if found {
			n++
			r.log.Info("image expired by lifecycle policy", "repository", repo, "digest", d, "rule", exp[d])
		}
	}
	r.gcMu.RUnlock()
	_, err = r.updateRepo(ctx, nil, repo, func(rec *repoRecord) error {
		rec.LifecycleEvaluated = now
		return nil
	})
	return n, err
}
