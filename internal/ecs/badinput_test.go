package ecs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/berth-dev/berth/internal/testcluster"
)

// rawCall sends a signed request with an arbitrary body, as a misbehaving
// client would, and returns the status and the decoded error body.
func rawCall(t *testing.T, endpoint, op, body string) (int, map[string]any) {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	req, _ := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader([]byte(body)))
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	creds := aws.Credentials{AccessKeyID: testcluster.AccessKeyID, SecretAccessKey: testcluster.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ecs", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	cases := []struct {
		name, op, body, code, msg string
	}{
		{"malformed JSON", "CreateCluster", `{"clusterName": "x"`, "SerializationException", ""},
		{"not an object", "CreateCluster", `[1,2]`, "SerializationException", ""},
		{"wrong type", "CreateCluster", `{"clusterName": 5}`, "SerializationException", "clusterName"},
		{"wrong nested type", "CreateCluster", `{"clusterName": "x", "tags": {"key": "a"}}`, "SerializationException", "tags"},
		{"trailing data", "CreateCluster", `{"clusterName": "x"} {}`, "SerializationException", ""},
		{"bad enum", "CreateCluster", `{"clusterName": "x", "settings": [{"name": "bogus", "value": "enabled"}]}`, "InvalidParameterException", "settings.1.member.name"},
		{"missing required", "RegisterTaskDefinition", `{"family": "f"}`, "InvalidParameterException", "containerDefinitions"},
		{"out of range", "CreateCluster", `{"clusterName": "x", "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 5000}]}`, "InvalidParameterException", "weight"},
		{"too long", "CreateCluster", `{"clusterName": "x", "tags": [{"key": "` + strings.Repeat("k", 129) + `", "value": "v"}]}`, "InvalidParameterException", "length"},
		{"bad ARN", "ListTagsForResource", `{"resourceArn": "arn:aws:s3:::bucket"}`, "InvalidParameterException", "ARN"},
		{"oversize", "CreateCluster", `{"clusterName": "x", "pad": "` + strings.Repeat("a", 9<<20) + `"}`, "RequestEntityTooLargeException", ""},
	}
	for _, tc := range cases {
		status, body := rawCall(t, cp.Endpoint(), tc.op, tc.body)
		if status < 400 || status >= 500 || body["__type"] != tc.code {
			t.Errorf("%s: got HTTP %d %v, want %s", tc.name, status, body, tc.code)
			continue
		}
		if msg, _ := body["message"].(string); tc.msg != "" && !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: message %q should mention %q", tc.name, msg, tc.msg)
		}
	}
	out, err := cp.ECS().ListClusters(t.Context(), &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.ClusterArns) != 0 {
		t.Fatalf("bad input created clusters: %v", out.ClusterArns)
	}
}
