package controlplane

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/internal/ecs"
)

// registerServices builds every API and registers it on the edge.
func (cp *ControlPlane) registerServices(ctx context.Context) error {
	e, err := ecs.New(ctx, ecs.Config{Store: cp.store, AccountID: cp.cfg.AccountID, Region: cp.cfg.Region, Logger: cp.cfg.Logger})
	if err != nil {
		return fmt.Errorf("starting ECS: %w", err)
	}
	cp.ecs = e
	cp.edge.Register(e.Service())
	return nil
}

// afterReset waits until every API's cache has seen the wipe at rev, so the
// next request after a reset reads an empty state.
func (cp *ControlPlane) afterReset(ctx context.Context, rev int64) error {
	return cp.ecs.Synced(ctx, rev)
}
