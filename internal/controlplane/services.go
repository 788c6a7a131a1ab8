package controlplane

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/ecs"
	"github.com/berth-dev/berth/internal/registry"
	"github.com/berth-dev/berth/internal/service"
)

// registerServices builds every API and registers it on the edge, with the
// agent link beside the ECS API.
func (cp *ControlPlane) registerServices(ctx context.Context) error {
	e, err := ecs.New(ctx, ecs.Config{Store: cp.store, AccountID: cp.cfg.AccountID, Region: cp.cfg.Region, Logger: cp.cfg.Logger})
	if err != nil {
		return fmt.Errorf("starting ECS: %w", err)
	}
	cp.ecs = e
	cp.edge.Register(e.Service())
	link := e.NewLink(ecs.LinkConfig{Verify: cp.edge.VerifyRequest, Endpoint: advertisedEndpoint(cp.listener.Addr())})
	cp.edge.Handle("GET "+agentproto.Path, link)
	// Until leader election lands every server sweeps; the sweep's guarded
	// deletes make concurrent sweeps harmless.
	stopSweeper := e.StartSweeper(ecs.SweepConfig{})
	// Hijacked WebSockets outlive http.Server.Shutdown: close the link (and
	// the sweeper) explicitly before the store.
	cp.stops = append(cp.stops, link.Close, stopSweeper)
	// The service controller runs on the elected leader only; Close resigns.
	svc := service.Start(service.Config{ECS: e, Store: cp.store, AccountID: cp.cfg.AccountID, Region: cp.cfg.Region, Logger: cp.cfg.Logger})
	cp.stops = append(cp.stops, svc.Stop)
	return cp.startRegistry(ctx)
}

// startRegistry starts the image registry: the ECR API on the edge, /v2/ on
// the edge and on cfg.RegistryListen if set, and its maintenance loop
// (lifecycle policies, garbage collection).
func (cp *ControlPlane) startRegistry(ctx context.Context) error {
	host := registryHost(cp.listener.Addr())
	var regLn net.Listener
	if cp.cfg.RegistryListen != "" {
		ln, err := net.Listen("tcp", cp.cfg.RegistryListen)
		if err != nil {
			return fmt.Errorf("listening on %s for the registry: %w (choose another address with --registry-listen)", cp.cfg.RegistryListen, err)
		}
		regLn, host = ln, registryHost(ln.Addr())
	}
	reg, err := registry.New(ctx, registry.Config{
		Store: cp.store, AccountID: cp.cfg.AccountID, Region: cp.cfg.Region,
		RootDir: filepath.Join(cp.cfg.DataDir, "registry"), Host: host,
		AutoCreateRepositories: cp.cfg.AutoCreateRepositories, Logger: cp.cfg.Logger,
	})
	if err != nil {
		if regLn != nil {
			regLn.Close()
		}
		return fmt.Errorf("starting the registry: %w", err)
	}
	cp.registry = reg
	cp.edge.Register(reg.Service())
	cp.edge.Handle("/v2/", reg.Handler())
	stopMaintenance := reg.StartMaintenance(registry.MaintenanceConfig{})
	cp.stops = append(cp.stops, stopMaintenance)
	if regLn != nil {
		srv := &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(regLn) }()
		cp.stops = append(cp.stops, func() { _ = srv.Close() })
	}
	cp.stops = append(cp.stops, reg.Close)
	return nil
}

// Registry is the built-in image registry (for the dev command and tests).
func (cp *ControlPlane) Registry() *registry.Registry { return cp.registry }

// registryHost is the host:port Docker pushes to: the listener's address,
// with 127.0.0.1 for an unspecified address, since Docker trusts loopback
// registries without TLS.
func registryHost(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ap.Addr().IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", fmt.Sprint(ap.Port()))
	}
	return ap.String()
}

// advertisedEndpoint is the URL agents are told to use: the listener's
// address, with the host name instead of an unspecified address (0.0.0.0).
func advertisedEndpoint(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil || !ap.Addr().IsUnspecified() {
		return "http://" + addr.String()
	}
	host, err := os.Hostname()
	if err != nil {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(ap.Port()))
}

// afterReset waits until every API's cache has seen the wipe at rev, so the
// next request after a reset reads an empty state.
func (cp *ControlPlane) afterReset(ctx context.Context, rev int64) error {
	if err := cp.ecs.Synced(ctx, rev); err != nil {
		return err
	}
	return cp.registry.Synced(ctx, rev)
}
