package registry

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/registry/auth"

	"github.com/berth-dev/berth/internal/awsapi"
	ecrapi "github.com/berth-dev/berth/internal/awsapi/ecr"
)

// Authorization tokens: GetAuthorizationToken hands out base64("AWS:" +
// password), where the password is a signed, self-contained claim (who
// asked, until when) — any server holding the registry secret verifies it
// without a store read, and it survives restarts.

// tokenUser is the only user name registry passwords are valid for.
const tokenUser = "AWS"

// claims are what a password asserts.
type claims struct {
	AccessKeyID string `json:"k"`
	ARN         string `json:"u"`
	Expires     int64  `json:"e"` // unix seconds
}

var (
	errNoCredentials = errors.New("no basic auth credentials")
	errBadToken      = errors.New("invalid authorization token")
	errExpiredToken  = errors.New("authorization token has expired")
)

// NewPassword signs a registry password for principal, valid until expires.
func (r *Registry) NewPassword(p awsapi.Principal, expires time.Time) string {
	body, _ := json.Marshal(claims{AccessKeyID: p.AccessKeyID, ARN: p.ARN, Expires: expires.Unix()})
	payload := base64.RawURLEncoding.EncodeToString(body)
	sig := base64.RawURLEncoding.EncodeToString(r.mac("token", payload))
	return payload + "." + sig
}

// verifyPassword checks a registry password and returns its claims.
func (r *Registry) verifyPassword(user, password string) (claims, error) {
	var c claims
	payload, sig, ok := strings.Cut(password, ".")
	if user != tokenUser || !ok {
		return c, errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, r.mac("token", payload)) {
		return c, errBadToken
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(body, &c) != nil {
		return c, errBadToken
	}
	if !r.cfg.Now().Before(time.Unix(c.Expires, 0)) {
		return c, errExpiredToken
	}
	return c, nil
}

// GetAuthorizationToken implements ecrapi.Handler: one token for this
// registry, bound to the identity that signed the request.
func (r *Registry) GetAuthorizationToken(ctx context.Context, in *ecrapi.GetAuthorizationTokenRequest) (*ecrapi.GetAuthorizationTokenResponse, error) {
	for _, id := range in.RegistryIds {
		if err := r.checkRegistry(&id); err != nil {
			return nil, err
		}
	}
	p, ok := awsapi.PrincipalFrom(ctx)
	if !ok {
		return nil, awsapi.NewError(awsapi.CodeMissingAuthToken, http.StatusForbidden, "Missing Authentication Token")
	}
	token, expires := r.Token(p)
	return &ecrapi.GetAuthorizationTokenResponse{AuthorizationData: []ecrapi.AuthorizationData{{
		AuthorizationToken: ptr(token),
		ExpiresAt:          awsapi.TimePtr(expires),
		ProxyEndpoint:      ptr(r.ProxyEndpoint()),
	}}}, nil
}

// Token returns an authorization token (base64 of "AWS:<password>") for p
// and its expiry: what GetAuthorizationToken answers, for in-process callers
// such as the dev agent.
func (r *Registry) Token(p awsapi.Principal) (string, time.Time) {
	expires := r.now().Add(r.cfg.TokenTTL).Truncate(time.Second)
	pw := r.NewPassword(p, expires)
	return base64.StdEncoding.EncodeToString([]byte(tokenUser + ":" + pw)), expires
}

// ProxyEndpoint is the URL docker logs in to.
func (r *Registry) ProxyEndpoint() string { return "http://" + r.cfg.Host }

// accessController is Distribution's hook for /v2/ authentication: HTTP
// Basic with user AWS and a registry password. Until IAM lands, any valid
// token may pull and push every repository.
type accessController struct{ r *Registry }

func (a accessController) Authorized(req *http.Request, access ...auth.Access) (*auth.Grant, error) {
	user, pw, ok := req.BasicAuth()
	if !ok {
		return nil, challenge{realm: a.r.cfg.Host, err: errNoCredentials}
	}
	c, err := a.r.verifyPassword(user, pw)
	if err != nil {
		return nil, challenge{realm: a.r.cfg.Host, err: err}
	}
	g := &auth.Grant{User: auth.UserInfo{Name: c.ARN}}
	for _, acc := range access {
		g.Resources = append(g.Resources, acc.Resource)
	}
	return g, nil
}

// challenge is a 401 with a Basic challenge, the registry's answer to
// anonymous, expired and wrong credentials.
type challenge struct {
	realm string
	err   error
}

func (c challenge) Error() string { return fmt.Sprintf("basic authentication challenge: %v", c.err) }

func (c challenge) SetHeaders(_ *http.Request, w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", c.realm))
}
