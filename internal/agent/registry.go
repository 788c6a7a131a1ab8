package agent

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/berth-dev/berth/internal/agent/engine"
	"github.com/berth-dev/berth/internal/registry/ecrauth"
	"github.com/berth-dev/berth/internal/runtime"
)

// registry serves task images from Berth's registry on the control plane's
// edge: ECR-form references resolve to it, and pulls carry a token the agent
// obtains itself with GetAuthorizationToken, like the ECS agent does for ECR.
type registry struct {
	host     string
	provider *ecrauth.Provider
}

var _ engine.Registry = (*registry)(nil)

// newRegistry returns nil when the endpoint names no registry host (then
// images are pulled as given).
func newRegistry(endpoint string, awsCfg aws.Config) *registry {
	host, err := ecrauth.HostOf(endpoint)
	if err != nil {
		return nil
	}
	client := ecr.NewFromConfig(awsCfg, func(o *ecr.Options) { o.BaseEndpoint = aws.String(endpoint) })
	return &registry{host: host, provider: ecrauth.NewProvider(client)}
}

func (r *registry) Resolve(image string) (string, bool) { return ecrauth.ResolveImage(image, r.host) }

func (r *registry) Auth(ctx context.Context) (*runtime.RegistryAuth, error) {
	c, err := r.provider.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	return &runtime.RegistryAuth{Username: c.Username, Password: c.Password, ServerAddress: c.ServerAddress}, nil
}

func (r *registry) Invalidate() { r.provider.Invalidate() }
