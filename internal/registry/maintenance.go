package registry

import (
	"context"
	"errors"
	"time"
)

// MaintenanceConfig tunes the periodic maintenance: lifecycle policy expiry,
// then garbage collection of unreferenced blobs.
type MaintenanceConfig struct {
	// Interval between runs (default 1 hour).
	Interval time.Duration
	// GCGrace keeps blobs younger than it (default 1 hour), so a push in
	// progress on another server never loses a layer it uploaded.
	GCGrace time.Duration
}

// StartMaintenance runs Maintain every cfg.Interval until stop is called or
// the registry is closed.
func (r *Registry) StartMaintenance(cfg MaintenanceConfig) (stop func()) {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Hour
	}
	if cfg.GCGrace <= 0 {
		cfg.GCGrace = time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	after := context.AfterFunc(r.bgCtx, cancel)
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := r.Maintain(ctx, cfg.GCGrace); err != nil && ctx.Err() == nil {
					r.log.Warn("registry maintenance", "err", err)
				}
			}
		}
	}()
	return func() { after(); cancel() }
}

// Maintain applies every repository's lifecycle policy, then collects
// garbage older than grace.
func (r *Registry) Maintain(ctx context.Context, grace time.Duration) error {
	_, err := r.ApplyLifecyclePolicies(ctx)
	if ctx.Err() != nil {
		return err
	}
	_, gcErr := r.CollectGarbage(ctx, grace)
	return errors.Join(err, gcErr)
}
