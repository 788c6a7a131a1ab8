package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/berth-dev/berth/internal/store"
)

// Stopped tasks stay describable for at least StoppedRetention after they
// stop, then the sweep deletes them (spec, status, tags and their entry in
// the instance's reservations, in one guarded transaction), together with
// clientToken records older than the retention. It is a plain periodic loop
// for now; the leader-only controllers will run it on one server.

// SweepConfig tunes the stopped-task sweep.
type SweepConfig struct {
	// Interval between sweeps (default 5 minutes).
	Interval time.Duration
	// Retention is how long a stopped task stays (default 1 hour, ECS's
	// documented minimum).
	Retention time.Duration
}

// StartSweeper runs Sweep every cfg.Interval until stop is called or the
// store closes.
func (s *Server) StartSweeper(cfg SweepConfig) (stop func()) {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	after := context.AfterFunc(s.st.Client().Ctx(), cancel)
	go func() {
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n, err := s.Sweep(ctx, cfg.Retention); err != nil && ctx.Err() == nil {
					s.log.Warn("stopped-task sweep", "err", err)
				} else if n > 0 {
					s.log.Debug("stopped-task sweep", "deleted", n)
				}
			}
		}
	}()
	return func() { after(); cancel() }
}

// Sweep deletes the tasks that stopped more than retention ago (default 1
// hour) by the server's clock, and expired clientToken records. It returns
// how many tasks it deleted.
func (s *Server) Sweep(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		retention = defaultStoppedRetention
	}
	cutoff := s.now().Add(-retention)
	n := 0
	var errs []error
	for _, kv := range s.cache.List(s.key("tasks") + "/") {
		var st taskStatusRecord
		if json.Unmarshal(kv.Value, &st) != nil || st.LastStatus != taskStopped || st.StoppedAt.After(cutoff) {
			continue
		}
		if err := s.deleteTask(ctx, st); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	for _, kv := range s.cache.List(s.key("runtokens") + "/") {
		var tr runTokenRecord
		if json.Unmarshal(kv.Value, &tr) != nil || tr.CreatedAt.After(cutoff) {
			continue
		}
		if _, err := s.st.Delete(ctx, kv.Key, kv.ModRevision); err != nil && !errors.Is(err, store.ErrConflict) {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// deleteTask removes one stopped task.
func (s *Server) deleteTask(ctx context.Context, st taskStatusRecord) error {
	for attempt := 0; ; attempt++ {
		stKV, err := s.st.Get(ctx, s.taskStatusKey(st.Cluster, st.ID))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		ops := []store.Op{{Key: stKV.Key, Delete: true, ExpectRev: stKV.ModRevision},
			s.tagsOp(s.taskARN(st.Cluster, st.ID), nil)}
		if specKV, err := s.st.Get(ctx, s.taskSpecKey(st.Cluster, st.ID)); err == nil {
			ops = append(ops, store.Op{Key: specKV.Key, Delete: true, ExpectRev: specKV.ModRevision})
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r, rev, err := s.readReservations(ctx, st.Cluster, st.InstanceID)
		if err != nil {
			return err
		}
		if _, ok := r.Tasks[st.ID]; ok && rev != 0 {
			delete(r.Tasks, st.ID)
			b, _ := json.Marshal(r)
			ops = append(ops, store.Op{Key: s.reservationsKey(st.Cluster, st.InstanceID), Value: b, ExpectRev: rev})
		}
		_, err = s.st.Txn(ctx, ops...)
		if errors.Is(err, store.ErrConflict) && attempt < store.UpdateAttempts {
			continue
		}
		return err
	}
}
