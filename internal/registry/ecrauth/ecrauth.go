package ecrauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

// ResolveImage maps an ECR-form image reference to the Berth registry at
// host (host:port, e.g. 127.0.0.1:4566), keeping repository, tag and digest:
//
//	000000000000.dkr.ecr.us-east-1.amazonaws.com/app:v1 -> 127.0.0.1:4566/app:v1
//
// It reports whether ref named ECR (or host itself), i.e. whether the
// Berth registry serves it and credentials from this package apply.
func ResolveImage(ref, host string) (string, bool) {
	if registry, rest, ok := strings.Cut(ref, "/"); ok && isECRHost(registry) {
		return host + "/" + rest, true
	}
	return ref, host != "" && strings.HasPrefix(ref, host+"/")
}

// isECRHost reports whether s is an ECR registry host,
// <12 digits>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]. It is plain
// string matching rather than a regexp: the agent resolves every image
// through it, and compiling a regexp there faulted ~160 KiB of the
// regexp compiler's code into the agent (BenchmarkAgentRSS).
func isECRHost(s string) bool {
	account, s, ok := strings.Cut(s, ".")
	if !ok || len(account) != 12 || strings.Trim(account, "0123456789") != "" {
		return false
	}
	if s, ok = strings.CutPrefix(s, "dkr.ecr."); !ok {
		if s, ok = strings.CutPrefix(s, "dkr.ecr-fips."); !ok {
			return false
		}
	}
	region, s, ok := strings.Cut(s, ".")
	if !ok || region == "" || strings.Trim(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return false
	}
	return s == "amazonaws.com" || s == "amazonaws.com.cn"
}

// HostOf is the host:port of an endpoint URL (http://127.0.0.1:4566 ->
// 127.0.0.1:4566): the registry is served on the API edge.
func HostOf(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("ecrauth: %q is not an endpoint URL", endpoint)
	}
	return u.Host, nil
}

// DecodeToken splits an authorization token (base64 of "AWS:<password>")
// into Docker login credentials.
func DecodeToken(token string) (user, password string, err error) {
	b, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return "", "", fmt.Errorf("ecrauth: authorization token is not base64: %w", err)
	}
	user, password, ok := strings.Cut(string(b), ":")
	if !ok {
		return "", "", errors.New("ecrauth: authorization token is not user:password")
	}
	return user, password, nil
}

// Credentials are what `docker login` takes for the registry.
type Credentials struct {
	ServerAddress      string // host:port
	Username, Password string
	Expires            time.Time
}

// TokenGetter is the ECR client's GetAuthorizationToken (an *ecr.Client).
type TokenGetter interface {
	GetAuthorizationToken(ctx context.Context, in *ecr.GetAuthorizationTokenInput, opts ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error)
}

// refreshBefore is how long before expiry a cached token is replaced, so a
// pull never starts with a token about to expire.
const refreshBefore = time.Hour

// Provider fetches registry credentials with GetAuthorizationToken and caches
// them until refreshBefore their expiry. It is safe for concurrent use.
type Provider struct {
	client TokenGetter
	now    func() time.Time

	mu     sync.Mutex
	cached Credentials
}

// NewProvider returns a Provider using client (usually ecr.NewFromConfig of
// the agent's own AWS config, pointed at the Berth endpoint).
func NewProvider(client TokenGetter) *Provider {
	return &Provider{client: client, now: time.Now}
}

// Credentials returns valid registry credentials.
func (p *Provider) Credentials(ctx context.Context) (Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cached.Password != "" && p.now().Add(refreshBefore).Before(p.cached.Expires) {
		return p.cached, nil
	}
	out, err := p.client.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		return Credentials{}, fmt.Errorf("ecrauth: GetAuthorizationToken: %w", err)
	}
	if len(out.AuthorizationData) == 0 || out.AuthorizationData[0].AuthorizationToken == nil {
		return Credentials{}, errors.New("ecrauth: GetAuthorizationToken returned no token")
	}
	ad := out.AuthorizationData[0]
	user, pw, err := DecodeToken(*ad.AuthorizationToken)
	if err != nil {
		return Credentials{}, err
	}
	c := Credentials{Username: user, Password: pw}
	if ad.ExpiresAt != nil {
		c.Expires = *ad.ExpiresAt
	}
	if ad.ProxyEndpoint != nil {
		if h, err := HostOf(*ad.ProxyEndpoint); err == nil {
			c.ServerAddress = h
		}
	}
	p.cached = c
	return c, nil
}

// Invalidate drops the cached credentials (after the registry refused them).
func (p *Provider) Invalidate() {
	p.mu.Lock()
	p.cached = Credentials{}
	p.mu.Unlock()
}
