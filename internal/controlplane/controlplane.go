package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/berth-dev/berth/internal/awsapi"
	"github.com/berth-dev/berth/internal/ecs"
	"github.com/berth-dev/berth/internal/registry"
	"github.com/berth-dev/berth/internal/store"
)

// Config is everything a control plane needs. `berth dev` and `berth server`
// build it from their flags.
type Config struct {
	// Listen is the edge address, e.g. 127.0.0.1:4566 (":0" picks a free port).
	Listen string
	// DataDir holds embedded etcd's data and the root credentials.
	DataDir string
	// EtcdEndpoints, when set, uses an existing etcd cluster.
	EtcdEndpoints []string
	AccountID     string
	Region        string
	// RootKey signs requests as the account root.
	RootKey RootKey
	// Dev enables dev-only endpoints (POST /_berth/reset).
	Dev bool
	// RegistryListen, when set, is a second address serving only the
	// registry's /v2/ (the edge serves it too); repository URIs name it.
	RegistryListen string
	// AutoCreateRepositories lets a push create a missing ECR repository.
	AutoCreateRepositories bool
	Logger                 *slog.Logger
}

// Defaults of a fresh install, as on AWS's local endpoints.
const (
	DefaultListen    = "127.0.0.1:4566"
	DefaultAccountID = "000000000000"
	DefaultRegion    = "us-east-1"
)

// ControlPlane is a running control plane.
type ControlPlane struct {
	cfg      Config
	store    *store.Store
	edge     *awsapi.Server
	http     *http.Server
	listener net.Listener
	done     chan error
	ecs      *ecs.Server
	registry *registry.Registry
	// stops run at Close, before the store closes.
	stops []func()
}

// Start opens the store, registers the APIs and starts serving. It returns
// once the edge answers requests.
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AccountID == "" {
		cfg.AccountID = DefaultAccountID
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	// Listen first: a port already in use is the most common start-up failure
	// and should not cost an etcd start.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w (is another berth running? choose another address with --listen)", cfg.Listen, err)
	}
	st, err := store.Open(ctx, store.Config{DataDir: cfg.DataDir, Endpoints: cfg.EtcdEndpoints, Logger: cfg.Logger})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("opening the state store: %w", err)
	}
	cp := &ControlPlane{cfg: cfg, store: st, listener: ln, done: make(chan error, 1)}
	cp.edge = awsapi.NewServer(awsapi.ServerConfig{
		Credentials: awsapi.StaticCredentials{cfg.RootKey.AccessKeyID: {
			Secret: cfg.RootKey.SecretAccessKey,
			Principal: awsapi.Principal{AccessKeyID: cfg.RootKey.AccessKeyID, AccountID: cfg.AccountID,
				ARN: "arn:aws:iam::" + cfg.AccountID + ":root"},
		}},
		Logger: cfg.Logger,
	})
	if err := cp.registerServices(ctx); err != nil {
		st.Close()
		ln.Close()
		return nil, err
	}
	if cfg.Dev {
		cp.edge.Handle("POST /_berth/reset", http.HandlerFunc(cp.handleReset))
	}
	cp.http = &http.Server{Handler: cp.edge, ReadHeaderTimeout: 10 * time.Second}
	go func() { cp.done <- cp.http.Serve(ln) }()
	cp.edge.SetReady()
	return cp, nil
}

// Endpoint is the URL clients use, e.g. http://127.0.0.1:4566.
func (cp *ControlPlane) Endpoint() string { return "http://" + cp.listener.Addr().String() }

// Store is the state store (for in-process components and tests).
func (cp *ControlPlane) Store() *store.Store { return cp.store }

// ECSServer is the ECS API's server (berth sim reads its placement stats).
func (cp *ControlPlane) ECSServer() *ecs.Server { return cp.ecs }

// Config returns the effective configuration.
func (cp *ControlPlane) Config() Config { return cp.cfg }

// Done is closed with the serve error if the listener fails.
func (cp *ControlPlane) Done() <-chan error { return cp.done }

// Close stops serving (waiting up to the context's deadline for requests in
// flight) and closes the store.
func (cp *ControlPlane) Close(ctx context.Context) error {
	for _, stop := range cp.stops {
		stop()
	}
	err := cp.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = cp.http.Close()
	}
	return errors.Join(err, cp.store.Close())
}

// handleReset wipes every object of every service back to a fresh start (dev
// only): test suites call it between tests. The root key is kept.
func (cp *ControlPlane) handleReset(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	res, err := cp.store.Client().Delete(ctx, "/berth/", clientv3.WithPrefix())
	if err != nil {
		http.Error(w, "reset failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if err := cp.afterReset(ctx, res.Header.Revision); err != nil {
		http.Error(w, "reset failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
