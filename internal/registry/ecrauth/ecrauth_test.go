package ecrauth

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

func TestResolveImage(t *testing.T) {
	t.Parallel()
	const host = "127.0.0.1:4566"
	tests := []struct {
		ref, want string
		ok        bool
	}{
		{"000000000000.dkr.ecr.us-east-1.amazonaws.com/app:v1", host + "/app:v1", true},
		{"123456789012.dkr.ecr.eu-west-3.amazonaws.com/team/app@sha256:" + "ab" + "cd", host + "/team/app@sha256:abcd", true},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app", host + "/app", true},
		{host + "/app:v1", host + "/app:v1", true},
		{"nginx:latest", "nginx:latest", false},
		{"public.ecr.aws/nginx/nginx:1", "public.ecr.aws/nginx/nginx:1", false},
		{"12345.dkr.ecr.us-east-1.amazonaws.com/app", "12345.dkr.ecr.us-east-1.amazonaws.com/app", false},
	}
	for _, tc := range tests {
		got, ok := ResolveImage(tc.ref, host)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ResolveImage(%q) = %q, %v; want %q, %v", tc.ref, got, ok, tc.want, tc.ok)
		}
	}
}

type fakeGetter struct{ calls int }

func (f *fakeGetter) GetAuthorizationToken(context.Context, *ecr.GetAuthorizationTokenInput, ...func(*ecr.Options)) (*ecr.GetAuthorizationTokenOutput, error) {
	f.calls++
	return &ecr.GetAuthorizationTokenOutput{AuthorizationData: []types.AuthorizationData{{
		AuthorizationToken: aws.String(base64.StdEncoding.EncodeToString([]byte("AWS:secret"))),
		ExpiresAt:          aws.Time(time.Now().Add(12 * time.Hour)),
		ProxyEndpoint:      aws.String("http://127.0.0.1:4566"),
	}}}, nil
}

func TestProviderCaches(t *testing.T) {
	t.Parallel()
	f := &fakeGetter{}
	p := NewProvider(f)
	for range 3 {
		c, err := p.Credentials(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if c.Username != "AWS" || c.Password != "secret" || c.ServerAddress != "127.0.0.1:4566" {
			t.Fatalf("credentials = %+v", c)
		}
	}
	if f.calls != 1 {
		t.Errorf("%d token requests, want 1", f.calls)
	}
	p.now = func() time.Time { return time.Now().Add(11*time.Hour + time.Minute) }
	if _, err := p.Credentials(t.Context()); err != nil || f.calls != 2 {
		t.Errorf("near expiry: calls %d, err %v; want a refresh", f.calls, err)
	}
}
