package controlplane_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/awsapi"
	berthecs "github.com/berth-dev/berth/internal/ecs"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/testcluster"
)

// benchEdge serves the real ECS API and a no-op service behind one edge, so
// the two differ only in the handler: the no-op is the baseline.
func benchEdge(b *testing.B) string {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	e, err := berthecs.New(ctx, berthecs.Config{Store: st, AccountID: "000000000000", Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	edge := awsapi.NewServer(awsapi.ServerConfig{Credentials: awsapi.StaticCredentials{
		testcluster.AccessKeyID: {Secret: testcluster.SecretAccessKey, Principal: awsapi.Principal{AccountID: "000000000000"}}}})
	edge.Register(e.Service())
	edge.Register(&awsapi.Service{Name: "noop", SigningName: "ecs", TargetPrefix: "BerthNoop", JSONVersion: "1.1",
		Operations: map[string]awsapi.Operation{"Noop": {Name: "Noop", Invoke: func(context.Context, []byte) (any, error) { return struct{}{}, nil }}}})
	edge.SetReady()
	ts := httptest.NewServer(edge)
	b.Cleanup(ts.Close)

	c := ecs.New(ecs.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testcluster.AccessKeyID, SecretAccessKey: testcluster.SecretAccessKey}, nil
		})})
	if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("bench"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("berth.local/sample-app:latest"), Memory: aws.Int32(128)}}}); err != nil {
		b.Fatal(err)
	}
	return ts.URL
}

// runSigned sends signed requests for target with body from parallel
// goroutines and reports requests/s and p99 latency.
func runSigned(b *testing.B, url, target, body string) {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: testcluster.AccessKeyID, SecretAccessKey: testcluster.SecretAccessKey}
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			t0 := time.Now()
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(body)))
			req.Header.Set("X-Amz-Target", target)
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			if err := signer.SignHTTP(context.Background(), creds, req, hash, "ecs", "us-east-1", time.Now()); err != nil {
				b.Error(err)
				return
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Errorf("%s: HTTP %d", target, res.StatusCode)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkEdge compares the full path of DescribeClusters and
// DescribeTaskDefinition with the no-op baseline behind the same listener.
func BenchmarkEdge(b *testing.B) {
	url := benchEdge(b)
	b.Run("Noop", func(b *testing.B) { runSigned(b, url, "BerthNoop.Noop", `{}`) })
	b.Run("DescribeClusters", func(b *testing.B) {
		runSigned(b, url, "AmazonEC2ContainerServiceV20141113.DescribeClusters", `{"clusters":["bench"],"include":["TAGS","SETTINGS"]}`)
	})
	b.Run("DescribeTaskDefinition", func(b *testing.B) {
		runSigned(b, url, "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition", `{"taskDefinition":"bench"}`)
	})
}
