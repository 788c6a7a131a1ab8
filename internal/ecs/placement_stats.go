package ecs

import (
	"sync/atomic"
	"time"
)

// PlacementStats is where the time of RunTask and StartTask placements went
// since the server started, summed over all placements (concurrent ones
// overlap): reading the cluster, the scheduler, the guarded store
// transaction, and waiting for the cache to catch up with it. berth sim
// reports the store's share from it.
type PlacementStats struct {
	Launches  int64         // placement requests (RunTask, StartTask, service batches) answered
	Batches   int64         // store transactions they took (several queued launches share one)
	Tasks     int64         // tasks placed
	Conflicts int64         // transactions refused by a revision guard and retried
	Wait      time.Duration // queued behind this server's other placements in the cluster, per launch
	Total     time.Duration // placing batches: read, schedule, transaction, sync
	Read      time.Duration // reading reservations and building the snapshot
	Schedule  time.Duration // scheduler.Place and building the writes
	Txn       time.Duration // the store transaction
	Sync      time.Duration // waiting for the cache to see the transaction
}

// placementStats are the counters behind PlacementStats.
type placementStats struct {
	launches, batches, tasks, conflicts atomic.Int64
	wait, total, read, schedule, txn    atomic.Int64 // nanoseconds
	syncDur                             atomic.Int64
}

func addSince(c *atomic.Int64, t time.Time) time.Time {
	now := time.Now()
	c.Add(int64(now.Sub(t)))
	return now
}

// PlacementStats returns the placement time counters.
func (s *Server) PlacementStats() PlacementStats {
	p := &s.stats
	return PlacementStats{
		Launches: p.launches.Load(), Batches: p.batches.Load(), Tasks: p.tasks.Load(), Conflicts: p.conflicts.Load(),
		Wait: time.Duration(p.wait.Load()), Total: time.Duration(p.total.Load()), Read: time.Duration(p.read.Load()),
		Schedule: time.Duration(p.schedule.Load()), Txn: time.Duration(p.txn.Load()), Sync: time.Duration(p.syncDur.Load()),
	}
}
