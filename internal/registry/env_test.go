package registry

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/berth-dev/berth/internal/awsapi"
	"github.com/berth-dev/berth/internal/store"
)

const (
	testKey    = "AKIATESTREGISTRY0001"
	testSecret = "test/registry/secret/0000000000000000000"
	testAcct   = "000000000000"
	testRegion = "us-east-1"
)

// env is a registry behind a real edge on a loopback port, with a clock the
// test can move.
type env struct {
	t        testing.TB
	st       *store.Store
	reg      *Registry
	endpoint string
	host     string
	skew     atomic.Int64 // added to time.Now
}

type envOpts struct {
	autoCreate bool
	dataDir    string
	st         *store.Store
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	e := &env{t: t, st: o.st}
	if e.st == nil {
		st, err := store.Open(context.Background(), store.Config{DataDir: filepath.Join(o.dataDir, "etcd")})
		if err != nil {
			t.Fatalf("store: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		e.st = st
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.host = ln.Addr().String()
	e.endpoint = "http://" + e.host
	now := func() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }
	reg, err := New(context.Background(), Config{
		Store: e.st, AccountID: testAcct, Region: testRegion, RootDir: filepath.Join(o.dataDir, "registry"),
		Host: e.host, AutoCreateRepositories: o.autoCreate, Now: now,
	})
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	e.reg = reg
	edge := awsapi.NewServer(awsapi.ServerConfig{
		Credentials: awsapi.StaticCredentials{testKey: {Secret: testSecret, Principal: awsapi.Principal{
			AccessKeyID: testKey, AccountID: testAcct, ARN: "arn:aws:iam::" + testAcct + ":root"}}},
	})
	edge.Register(reg.Service())
	edge.Handle("/v2/", reg.Handler())
	edge.SetReady()
	srv := &http.Server{Handler: edge}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		reg.Close()
	})
	return e
}

func (e *env) ecr() *ecr.Client {
	return ecr.NewFromConfig(aws.Config{
		Region: testRegion, BaseEndpoint: aws.String(e.endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
	})
}

// advance moves the registry's clock.
func (e *env) advance(d time.Duration) { e.skew.Add(int64(d)) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func digestOf(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
