package awsapi_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/smithy-go"

	"github.com/berth-dev/berth/internal/awsapi"
)

const (
	testKey    = "AKIDBERTHTEST0000001"
	testSecret = "berth-test-secret-key-0000000000000000000"
)

// edge starts a real HTTP server with a hand-written service under the ECS
// target prefix, so the official ECS client can drive it.
func edge(t *testing.T, now func() time.Time) (*httptest.Server, *awsapi.Server) {
	t.Helper()
	s := awsapi.NewServer(awsapi.ServerConfig{
		Credentials: awsapi.StaticCredentials{testKey: {Secret: testSecret,
			Principal: awsapi.Principal{AccessKeyID: testKey, AccountID: "000000000000", ARN: "arn:aws:iam::000000000000:root"}}},
		MaxBodyBytes: 1 << 10,
		Now:          now,
	})
	s.Register(&awsapi.Service{
		Name: "ecs", SigningName: "ecs", TargetPrefix: "AmazonEC2ContainerServiceV20141113",
		Protocol: "json", JSONVersion: "1.1",
		Operations: map[string]awsapi.Operation{
			"ListClusters": {Name: "ListClusters", Invoke: func(ctx context.Context, body []byte) (any, error) {
				p, _ := awsapi.PrincipalFrom(ctx)
				return map[string]any{"clusterArns": []string{"arn:aws:ecs:us-east-1:" + p.AccountID + ":cluster/x"}}, nil
			}},
			"CreateCluster": {Name: "CreateCluster", Invoke: func(ctx context.Context, body []byte) (any, error) {
				return nil, awsapi.NotImplemented("ecs", "CreateCluster")
			}},
			"DeleteCluster": {Name: "DeleteCluster", Invoke: func(ctx context.Context, body []byte) (any, error) {
				return nil, errors.New("boom")
			}},
		},
	})
	s.SetReady()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts, s
}

func client(url, key, secret string) *ecs.Client {
	return ecs.New(ecs.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(key, secret, ""),
		RetryMaxAttempts: 1,
	})
}

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae.ErrorCode()
}

func TestEdgeSigV4(t *testing.T) {
	t.Parallel()
	ts, _ := edge(t, nil)
	ctx := t.Context()

	out, err := client(ts.URL, testKey, testSecret).ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil {
		t.Fatalf("signed request refused: %v", err)
	}
	if len(out.ClusterArns) != 1 || !strings.Contains(out.ClusterArns[0], "000000000000") {
		t.Fatalf("unexpected output %v", out.ClusterArns)
	}

	_, err = client(ts.URL, "AKIDUNKNOWN000000000", testSecret).ListClusters(ctx, &ecs.ListClustersInput{})
	if got := apiCode(t, err); got != awsapi.CodeUnrecognizedClient {
		t.Fatalf("unknown key: got %s", got)
	}
	_, err = client(ts.URL, testKey, "wrong-secret").ListClusters(ctx, &ecs.ListClustersInput{})
	if got := apiCode(t, err); got != awsapi.CodeInvalidSignature {
		t.Fatalf("wrong secret: got %s", got)
	}
}

func TestEdgeStaleDate(t *testing.T) {
	t.Parallel()
	ts, _ := edge(t, func() time.Time { return time.Now().Add(20 * time.Minute) })
	_, err := client(ts.URL, testKey, testSecret).ListClusters(t.Context(), &ecs.ListClustersInput{})
	if got := apiCode(t, err); got != awsapi.CodeInvalidSignature {
		t.Fatalf("stale date: got %s (%v)", got, err)
	}
	if !strings.Contains(err.Error(), "Signature expired") {
		t.Fatalf("message should say the signature expired: %v", err)
	}
}

func TestEdgeErrors(t *testing.T) {
	t.Parallel()
	ts, _ := edge(t, nil)
	c := client(ts.URL, testKey, testSecret)
	ctx := t.Context()

	_, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{})
	var re interface{ HTTPStatusCode() int }
	if got := apiCode(t, err); got != awsapi.CodeNotImplemented {
		t.Fatalf("unimplemented: got %s", got)
	}
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotImplemented {
		t.Fatalf("unimplemented: want HTTP 501, got %v", err)
	}
	if !strings.Contains(err.Error(), "CreateCluster") {
		t.Fatalf("message should name the operation: %v", err)
	}

	_, err = c.DeleteCluster(ctx, &ecs.DeleteClusterInput{Cluster: aws.String("x")})
	if got := apiCode(t, err); got != awsapi.CodeInternalFailure {
		t.Fatalf("internal: got %s", got)
	}

	_, err = c.DescribeClusters(ctx, &ecs.DescribeClustersInput{})
	if got := apiCode(t, err); got != awsapi.CodeUnknownOperation {
		t.Fatalf("unregistered operation: got %s", got)
	}

	_, err = c.ListClusters(ctx, &ecs.ListClustersInput{NextToken: aws.String(strings.Repeat("x", 2000))})
	if got := apiCode(t, err); got != awsapi.CodeRequestTooLarge {
		t.Fatalf("oversize body: got %s", got)
	}
}

func TestEdgeUnsignedAndHealth(t *testing.T) {
	t.Parallel()
	s := awsapi.NewServer(awsapi.ServerConfig{Credentials: awsapi.StaticCredentials{}})
	ts := httptest.NewServer(s)
	defer ts.Close()

	res, err := http.Get(ts.URL + "/_berth/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("health before ready: %d", res.StatusCode)
	}
	s.SetReady()
	res, _ = http.Get(ts.URL + "/_berth/health")
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("health after ready: %d", res.StatusCode)
	}

	req, _ := http.NewRequest(http.MethodPost, ts.URL, bytes.NewReader([]byte("{}")))
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(b), awsapi.CodeMissingAuthToken) {
		t.Fatalf("unsigned request: %d %s", res.StatusCode, b)
	}
	if res.Header.Get("x-amzn-RequestId") == "" {
		t.Fatal("no x-amzn-RequestId header")
	}
}
