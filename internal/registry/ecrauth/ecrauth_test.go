package ecrauth

import (
	"context"
	"encoding/base64"
	"math/rand/v2"
	"regexp"
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

// isECRHost agrees with the pattern ECR documents for registry hosts, on
// near misses of every part and on random mutations of valid hosts.
func TestIsECRHostMatchesPattern(t *testing.T) {
	t.Parallel()
	pattern := regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$`)
	hosts := []string{
		"000000000000.dkr.ecr.us-east-1.amazonaws.com", "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "12345678901.dkr.ecr.us-east-1.amazonaws.com",
		"1234567890123.dkr.ecr.us-east-1.amazonaws.com", "12345678901a.dkr.ecr.us-east-1.amazonaws.com",
		"123456789012.dkr.ecr..amazonaws.com", "123456789012.dkr.ecr.US-EAST-1.amazonaws.com",
		"123456789012.dkr.ecr.us.east.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com.cn.x",
		"123456789012.dkr.ecr.us-east-1.amazonaws.co", "123456789012.dkr.ecrfips.us-east-1.amazonaws.com",
		"123456789012.dkr.ecr-fips.amazonaws.com", "123456789012.ecr.us-east-1.amazonaws.com", "", ".", "localhost:5000",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "0123456789abcz.-A"
	for range 20000 {
		b := []byte(hosts[rng.IntN(3)])
		for range 1 + rng.IntN(3) {
			switch i := rng.IntN(len(b) + 1); rng.IntN(3) {
			case 0: // replace
				if i < len(b) {
					b[i] = alphabet[rng.IntN(len(alphabet))]
				}
			case 1: // delete
				if i < len(b) {
					b = append(b[:i], b[i+1:]...)
				}
			default: // insert
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			}
		}
		hosts = append(hosts, string(b))
	}
	matched := 0
	for _, h := range hosts {
		want := pattern.MatchString(h)
		if got := isECRHost(h); got != want {
			t.Fatalf("isECRHost(%q) = %v, the pattern says %v", h, got, want)
		}
		if want {
			matched++
		}
	}
	if matched < 100 || matched > len(hosts)-100 {
		t.Fatalf("%d of %d hosts matched: the mutations test too little", matched, len(hosts))
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
