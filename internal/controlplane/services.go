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
	cp.edge.Register(e.Service())
	return nil
}

// afterReset recreates what a fresh install has (nothing yet: the default
// cluster arrives with the agent).
func (cp *ControlPlane) afterReset(ctx context.Context) error { return nil }
