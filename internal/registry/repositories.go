package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/berth-dev/berth/internal/awsapi"
	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
	"github.com/berth-dev/berth/internal/store"
)

const maxTags = 50

func (r *Registry) repoARN(name string) string {
	return fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", r.cfg.Region, r.cfg.AccountID, name)
}

// RepositoryURI is what docker tags and pushes: <host>/<name>.
func (r *Registry) RepositoryURI(name string) string { return r.cfg.Host + "/" + name }

func (r *Registry) repoNotFound(name string) error {
	e := ecrapi.NewRepositoryNotFoundException("The repository with name '%s' does not exist in the registry with id '%s'", name, r.cfg.AccountID)
	return e
}

// checkRegistry refuses a registryId other than this account's.
func (r *Registry) checkRegistry(id *string) error {
	if id != nil && *id != "" && *id != r.cfg.AccountID {
		return ecrapi.NewInvalidParameterException("Invalid parameter at 'registryId' failed to satisfy constraint: 'The registry %s is not served here; this registry is %s'", *id, r.cfg.AccountID)
	}
	return nil
}

// repo resolves an existing repository for an operation.
func (r *Registry) repo(registryID *string, name string) (repoRecord, int64, error) {
	if err := r.checkRegistry(registryID); err != nil {
		return repoRecord{}, 0, err
	}
	rec, rev, ok := r.cachedRepo(name)
	if !ok {
		return repoRecord{}, 0, r.repoNotFound(name)
	}
	return rec, rev, nil
}

func (r *Registry) repoView(rec repoRecord) *ecrapi.Repository {
	enc := rec.Encryption
	return &ecrapi.Repository{
		RepositoryArn:                      ptr(r.repoARN(rec.Name)),
		RegistryId:                         ptr(r.cfg.AccountID),
		RepositoryName:                     ptr(rec.Name),
		RepositoryUri:                      ptr(r.RepositoryURI(rec.Name)),
		CreatedAt:                          awsapi.TimePtr(rec.CreatedAt),
		ImageTagMutability:                 ptr(rec.ImageTagMutability),
		ImageTagMutabilityExclusionFilters: rec.MutabilityFilters,
		ImageScanningConfiguration:         &ecrapi.ImageScanningConfiguration{ScanOnPush: ptr(rec.ScanOnPush)},
		EncryptionConfiguration:            &enc,
	}
}

func validateRepoName(name string) error {
	if len(name) < 2 || len(name) > 256 || !repoNameRE.MatchString(name) {
		return ecrapi.NewInvalidParameterException("Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*' and be 2 to 256 characters long'")
	}
	if _, err := reference.WithName(name); err != nil {
		return ecrapi.NewInvalidParameterException("Invalid repository name %q: %v", name, err)
	}
	return nil
}

func validateTags(tags []ecrapi.Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" {
			return ecrapi.NewInvalidTagParameterException("Tag keys must not be empty.")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return ecrapi.NewInvalidTagParameterException("Tag keys must not start with the reserved prefix 'aws:' (got %q).", t.Key)
		}
		if seen[t.Key] {
			return ecrapi.NewInvalidTagParameterException("Duplicate tag key %q.", t.Key)
		}
		seen[t.Key] = true
	}
	if len(tags) > maxTags {
		return ecrapi.NewTooManyTagsException("A repository can have at most %d tags; the request would give it %d.", maxTags, len(tags))
	}
	return nil
}

func validateMutability(m ecrapi.ImageTagMutability, filters []ecrapi.ImageTagMutabilityExclusionFilter) error {
	withExclusion := m == ecrapi.ImageTagMutabilityImmutableWithExclusion || m == ecrapi.ImageTagMutabilityMutableWithExclusion
	if withExclusion && len(filters) == 0 {
		return ecrapi.NewInvalidParameterException("imageTagMutabilityExclusionFilters are required with %s.", m)
	}
	if !withExclusion && len(filters) > 0 {
		return ecrapi.NewInvalidParameterException("imageTagMutabilityExclusionFilters are only allowed with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.")
	}
	return nil
}

// CreateRepository implements ecrapi.Handler.
func (r *Registry) CreateRepository(ctx context.Context, in *ecrapi.CreateRepositoryRequest) (*ecrapi.CreateRepositoryResponse, error) {
	if err := r.checkRegistry(in.RegistryId); err != nil {
		return nil, err
	}
	if err := validateRepoName(in.RepositoryName); err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	rec := repoRecord{
		Name: in.RepositoryName, CreatedAt: r.now(), ImageTagMutability: ecrapi.ImageTagMutabilityMutable,
		MutabilityFilters: in.ImageTagMutabilityExclusionFilters, Tags: in.Tags,
		Encryption: ecrapi.EncryptionConfiguration{EncryptionType: ecrapi.EncryptionTypeAes256},
	}
	if in.ImageTagMutability != nil {
		rec.ImageTagMutability = *in.ImageTagMutability
	}
	if err := validateMutability(rec.ImageTagMutability, rec.MutabilityFilters); err != nil {
		return nil, err
	}
	if in.ImageScanningConfiguration != nil {
		rec.ScanOnPush = deref(in.ImageScanningConfiguration.ScanOnPush)
	}
	if in.EncryptionConfiguration != nil {
		rec.Encryption = *in.EncryptionConfiguration
		if rec.Encryption.EncryptionType == ecrapi.EncryptionTypeAes256 && rec.Encryption.KmsKey != nil {
			return nil, ecrapi.NewInvalidParameterException("A KMS key may only be given with encryptionType KMS.")
		}
	}
	if err := r.createRepo(ctx, rec); err != nil {
		return nil, err
	}
	return &ecrapi.CreateRepositoryResponse{Repository: r.repoView(rec)}, nil
}

// createRepo writes a new repository record.
func (r *Registry) createRepo(ctx context.Context, rec repoRecord) error {
	b, _ := json.Marshal(rec)
	rev, err := r.st.Put(ctx, r.repoKey(rec.Name), b, 0)
	if errors.Is(err, store.ErrConflict) {
		return ecrapi.NewRepositoryAlreadyExistsException("The repository with name '%s' already exists in the registry with id '%s'", rec.Name, r.cfg.AccountID)
	}
	if err != nil {
		return err
	}
	return r.synced(ctx, rev)
}

// DescribeRepositories implements ecrapi.Handler.
func (r *Registry) DescribeRepositories(ctx context.Context, in *ecrapi.DescribeRepositoriesRequest) (*ecrapi.DescribeRepositoriesResponse, error) {
	if err := r.checkRegistry(in.RegistryId); err != nil {
		return nil, err
	}
	out := &ecrapi.DescribeRepositoriesResponse{Repositories: []ecrapi.Repository{}}
	if len(in.RepositoryNames) > 0 {
		if in.MaxResults != nil || in.NextToken != nil {
			return nil, ecrapi.NewInvalidParameterException("maxResults and nextToken cannot be used with repositoryNames.")
		}
		for _, name := range in.RepositoryNames {
			rec, _, ok := r.cachedRepo(name)
			if !ok {
				return nil, r.repoNotFound(name)
			}
			out.Repositories = append(out.Repositories, *r.repoView(rec))
		}
		return out, nil
	}
	recs := r.cachedRepos()
	names := make([]string, len(recs))
	byName := map[string]repoRecord{}
	for i, rec := range recs {
		names[i] = rec.Name
		byName[rec.Name] = rec
	}
	sel, next, err := page(names, in.NextToken, in.MaxResults, 1000, 1000)
	if err != nil {
		return nil, err
	}
	for _, n := range sel {
		out.Repositories = append(out.Repositories, *r.repoView(byName[n]))
	}
	out.NextToken = next
	return out, nil
}

// DeleteRepository implements ecrapi.Handler: a repository with images is
// deleted only with force; its blobs go with the next garbage collection.
func (r *Registry) DeleteRepository(ctx context.Context, in *ecrapi.DeleteRepositoryRequest) (*ecrapi.DeleteRepositoryResponse, error) {
	rec, rev, err := r.repo(in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if !deref(in.Force) && len(r.cache.List(r.prefix("images", rec.Name))) > 0 {
		return nil, ecrapi.NewRepositoryNotEmptyException("The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", rec.Name, r.cfg.AccountID)
	}
	repoKey := r.repoKey(rec.Name)
	resp, err := r.st.Client().Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(repoKey), "=", rev)).
		Then(clientv3.OpDelete(repoKey),
			clientv3.OpDelete(r.prefix("images", rec.Name), clientv3.WithPrefix()),
			clientv3.OpDelete(r.prefix("tags", rec.Name), clientv3.WithPrefix())).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("deleting repository %s: %w", rec.Name, err)
	}
	if !resp.Succeeded {
		return nil, ecrapi.NewServerException("The repository %s changed while it was being deleted; retry.", rec.Name)
	}
	if err := r.synced(ctx, resp.Header.Revision); err != nil {
		return nil, err
	}
	r.removeStorage(ctx, rec.Name)
	return &ecrapi.DeleteRepositoryResponse{Repository: r.repoView(rec)}, nil
}

// updateRepo applies fn to a repository record with a guarded write.
func (r *Registry) updateRepo(ctx context.Context, registryID *string, name string, fn func(*repoRecord) error) (repoRecord, error) {
	if _, _, err := r.repo(registryID, name); err != nil {
		return repoRecord{}, err
	}
	rec, rev, err := store.UpdateJSON(ctx, r.st, r.repoKey(name), func(cur *repoRecord, exists bool) (*repoRecord, error) {
		if !exists {
			return nil, r.repoNotFound(name)
		}
		if err := fn(cur); err != nil {
			return nil, err
		}
		return cur, nil
	})
	if err != nil {
		return repoRecord{}, err
	}
	return rec, r.synced(ctx, rev)
}

// PutImageTagMutability implements ecrapi.Handler.
func (r *Registry) PutImageTagMutability(ctx context.Context, in *ecrapi.PutImageTagMutabilityRequest) (*ecrapi.PutImageTagMutabilityResponse, error) {
	if err := validateMutability(in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters); err != nil {
		return nil, err
	}
	rec, err := r.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(rec *repoRecord) error {
		rec.ImageTagMutability, rec.MutabilityFilters = in.ImageTagMutability, in.ImageTagMutabilityExclusionFilters
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrapi.PutImageTagMutabilityResponse{
		RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name),
		ImageTagMutability: ptr(rec.ImageTagMutability), ImageTagMutabilityExclusionFilters: rec.MutabilityFilters,
	}, nil
}

// PutImageScanningConfiguration implements ecrapi.Handler: the setting is
// stored; Berth does not scan.
func (r *Registry) PutImageScanningConfiguration(ctx context.Context, in *ecrapi.PutImageScanningConfigurationRequest) (*ecrapi.PutImageScanningConfigurationResponse, error) {
	rec, err := r.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(rec *repoRecord) error {
		rec.ScanOnPush = deref(in.ImageScanningConfiguration.ScanOnPush)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrapi.PutImageScanningConfigurationResponse{
		RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name),
		ImageScanningConfiguration: &ecrapi.ImageScanningConfiguration{ScanOnPush: ptr(rec.ScanOnPush)},
	}, nil
}

// repoFromARN resolves a repository ARN of this registry.
func (r *Registry) repoFromARN(arn string) (string, error) {
	name, ok := strings.CutPrefix(arn, fmt.Sprintf("arn:aws:ecr:%s:%s:repository/", r.cfg.Region, r.cfg.AccountID))
	if !ok || name == "" {
		return "", ecrapi.NewInvalidParameterException("Invalid parameter at 'resourceArn' failed to satisfy constraint: '%s is not a repository ARN of registry %s in %s'", arn, r.cfg.AccountID, r.cfg.Region)
	}
	return name, nil
}

// TagResource implements ecrapi.Handler.
func (r *Registry) TagResource(ctx context.Context, in *ecrapi.TagResourceRequest) (*ecrapi.TagResourceResponse, error) {
	name, err := r.repoFromARN(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	_, err = r.updateRepo(ctx, nil, name, func(rec *repoRecord) error {
		for _, t := range in.Tags {
			replaced := false
			for i := range rec.Tags {
				if rec.Tags[i].Key == t.Key {
					rec.Tags[i].Value, replaced = t.Value, true
				}
			}
			if !replaced {
				rec.Tags = append(rec.Tags, t)
			}
		}
		return validateTags(rec.Tags)
	})
	if err != nil {
		return nil, err
	}
	return &ecrapi.TagResourceResponse{}, nil
}

// UntagResource implements ecrapi.Handler.
func (r *Registry) UntagResource(ctx context.Context, in *ecrapi.UntagResourceRequest) (*ecrapi.UntagResourceResponse, error) {
	name, err := r.repoFromARN(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	drop := map[string]bool{}
	for _, k := range in.TagKeys {
		drop[k] = true
	}
	_, err = r.updateRepo(ctx, nil, name, func(rec *repoRecord) error {
		var keep []ecrapi.Tag
		for _, t := range rec.Tags {
			if !drop[t.Key] {
				keep = append(keep, t)
			}
		}
		rec.Tags = keep
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrapi.UntagResourceResponse{}, nil
}

// ListTagsForResource implements ecrapi.Handler.
func (r *Registry) ListTagsForResource(ctx context.Context, in *ecrapi.ListTagsForResourceRequest) (*ecrapi.ListTagsForResourceResponse, error) {
	name, err := r.repoFromARN(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	rec, _, err := r.repo(nil, name)
	if err != nil {
		return nil, err
	}
	tags := rec.Tags
	if tags == nil {
		tags = []ecrapi.Tag{}
	}
	return &ecrapi.ListTagsForResourceResponse{Tags: tags}, nil
}
