package registry

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
)

func TestAuthorizationToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	out, err := e.ecr().GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	ad := out.AuthorizationData[0]
	if got, want := aws.ToString(ad.ProxyEndpoint), "http://"+e.host; got != want {
		t.Errorf("proxyEndpoint = %q, want %q", got, want)
	}
	if ttl := time.Until(aws.ToTime(ad.ExpiresAt)); ttl < 11*time.Hour || ttl > 12*time.Hour+time.Minute {
		t.Errorf("token expires in %v, want 12h", ttl)
	}
	user, pw := decodeToken(t, aws.ToString(ad.AuthorizationToken))
	if user != "AWS" {
		t.Errorf("user = %q, want AWS", user)
	}

	get := func(user, pw string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.endpoint+"/v2/", nil)
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	refused := func(name, user, pw string) {
		t.Helper()
		resp, body := get(user, pw)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
		if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic ") {
			t.Errorf("%s: WWW-Authenticate = %q, want a Basic challenge", name, h)
		}
		errs, _ := body["errors"].([]any)
		if len(errs) == 0 || errs[0].(map[string]any)["code"] != "UNAUTHORIZED" {
			t.Errorf("%s: body %v is not the registry's UNAUTHORIZED error", name, body)
		}
	}
	if resp, _ := get(user, pw); resp.StatusCode != http.StatusOK {
		t.Fatalf("valid token: status %d", resp.StatusCode)
	}
	refused("anonymous", "", "")
	refused("wrong user", "root", pw)
	refused("tampered", user, pw[:len(pw)-2]+"xx")
	refused("garbage", user, "not-a-token")

	e.advance(12*time.Hour + time.Second)
	refused("expired", user, pw)
}

func TestPushToMissingRepositoryHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	_, pw := decodeToken(t, mustToken(t, e))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, e.endpoint+"/v2/nope/blobs/uploads/", nil)
	req.SetBasicAuth("AWS", pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusNotFound || len(body.Errors) == 0 || body.Errors[0].Code != "NAME_UNKNOWN" {
		t.Fatalf("status %d, body %+v; want 404 NAME_UNKNOWN", resp.StatusCode, body)
	}
}

func mustToken(t testing.TB, e *env) string {
	t.Helper()
	out, err := e.ecr().GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.AuthorizationData[0].AuthorizationToken)
}
