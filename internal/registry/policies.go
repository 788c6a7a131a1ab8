package registry

import (
	"context"
	"encoding/json"

	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
)

// Repository policies are stored and returned; they are enforced once IAM
// authorizes registry access.

// checkPolicyDocument accepts an IAM-style policy: a JSON object with a
// Statement.
func checkPolicyDocument(text string) error {
	var doc struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(text), &doc); err != nil || len(doc.Statement) == 0 {
		return ecrapi.NewInvalidParameterException("Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'")
	}
	return nil
}

// SetRepositoryPolicy implements ecrapi.Handler.
func (r *Registry) SetRepositoryPolicy(ctx context.Context, in *ecrapi.SetRepositoryPolicyRequest) (*ecrapi.SetRepositoryPolicyResponse, error) {
	if err := checkPolicyDocument(in.PolicyText); err != nil {
		return nil, err
	}
	rec, err := r.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(rec *repoRecord) error {
		rec.Policy = in.PolicyText
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrapi.SetRepositoryPolicyResponse{RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name), PolicyText: ptr(rec.Policy)}, nil
}

func (r *Registry) policyNotFound(name string) error {
	return ecrapi.NewRepositoryPolicyNotFoundException("Repository policy does not exist for the repository with name '%s' in the registry with id '%s'", name, r.cfg.AccountID)
}

// GetRepositoryPolicy implements ecrapi.Handler.
func (r *Registry) GetRepositoryPolicy(ctx context.Context, in *ecrapi.GetRepositoryPolicyRequest) (*ecrapi.GetRepositoryPolicyResponse, error) {
	rec, _, err := r.repo(in.RegistryId, in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if rec.Policy == "" {
		return nil, r.policyNotFound(rec.Name)
	}
	return &ecrapi.GetRepositoryPolicyResponse{RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name), PolicyText: ptr(rec.Policy)}, nil
}

// DeleteRepositoryPolicy implements ecrapi.Handler.
func (r *Registry) DeleteRepositoryPolicy(ctx context.Context, in *ecrapi.DeleteRepositoryPolicyRequest) (*ecrapi.DeleteRepositoryPolicyResponse, error) {
	var old string
	rec, err := r.updateRepo(ctx, in.RegistryId, in.RepositoryName, func(rec *repoRecord) error {
		if rec.Policy == "" {
			return r.policyNotFound(rec.Name)
		}
		old, rec.Policy = rec.Policy, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ecrapi.DeleteRepositoryPolicyResponse{RegistryId: ptr(r.cfg.AccountID), RepositoryName: ptr(rec.Name), PolicyText: ptr(old)}, nil
}
