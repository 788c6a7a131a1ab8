package controlplane

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/ecs"
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
	return nil
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
	return cp.ecs.Synced(ctx, rev)
}
