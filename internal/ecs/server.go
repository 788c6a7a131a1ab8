package ecs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/awsapi"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/store"
)

// Config configures the ECS control plane.
type Config struct {
	Store     *store.Store
	AccountID string
	Region    string
	// Now is the clock; nil means time.Now. Store code never reads the clock:
	// handlers pass times in.
	Now    func() time.Time
	Logger *slog.Logger
}

// Server implements ecsapi.Handler.
type Server struct {
	ecsapi.Unimplemented
	cfg   Config
	st    *store.Store
	cache *store.Cache
	log   *slog.Logger
	// link is the agent link started by NewLink (DiscoverPollEndpoint
	// answers with its endpoint).
	link atomic.Pointer[Link]
	// stats times placements (placement_stats.go).
	stats placementStats
	// memo keeps values placement decodes from the cache (placement_memo.go).
	memo memo
	// pcache keeps each cluster's placement snapshot (placement_snapshot.go).
	pcache placementCache
	// launchMu serializes this server's placements per cluster (launch).
	launchMu sync.Map
	// launchQueues holds each cluster's launches waiting for a batch.
	launchQueues sync.Map
	// wire keeps the encoded task specs of agent payloads (link.go).
	wire wireCache
}

var _ ecsapi.Handler = (*Server)(nil)

// New builds the ECS control plane and starts its cache.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, st: cfg.Store, log: cfg.Logger}
	c, err := cfg.Store.Cache(ctx, s.key())
	if err != nil {
		return nil, fmt.Errorf("starting the ECS cache: %w", err)
	}
	s.cache = c
	return s, nil
}

// Service is the API description the edge registers.
func (s *Server) Service() *awsapi.Service { return ecsapi.NewService(s) }

// key builds a store key under this account and region's ECS prefix.
func (s *Server) key(parts ...string) string {
	return store.Key(append([]string{s.cfg.AccountID, s.cfg.Region, "ecs"}, parts...)...)
}

// now returns the current time at the wire precision.
func (s *Server) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

// Synced waits until the ECS cache has applied store revision rev (e.g. after
// a write made outside this package).
func (s *Server) Synced(ctx context.Context, rev int64) error { return s.synced(ctx, rev) }

// synced waits until the cache has applied rev, so the caller's next
// Describe/List sees the write it just made.
func (s *Server) synced(ctx context.Context, rev int64) error {
	if err := s.cache.WaitRevision(ctx, rev); err != nil {
		return fmt.Errorf("waiting for the cache to apply revision %d: %w", rev, err)
	}
	return nil
}

// newID returns a 32-hex-character id, the long ECS id format.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// deref returns *p or the zero value.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// awsapiTime converts a stored time to the wire type (nil for zero).
func awsapiTime(t time.Time) *awsapi.Time { return awsapi.TimePtr(t) }
