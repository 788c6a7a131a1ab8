package ecs

import (
	"maps"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/scheduler"
	"github.com/berth-dev/berth/internal/store"
)

// Placement used to rebuild a cluster's snapshot on every RunTask: list
// every instance and reservation record and read every task's status and
// spec, which grew with the cluster. placementCache keeps one snapshot per
// cluster instead, derived once and kept current from the store cache's
// events: an event marks only the instance it concerns dirty (its record,
// attributes, link state, reservations, or the status or spec of one of
// its tasks) and the next placement re-derives just those.
//
// Events reach the subscriber after the cache applied them, in revision
// order. A placement uses the snapshot only when every change up to the
// cache's revision is either in it or marked dirty: the subscriber has
// processed the events up to that revision, or the snapshot was built from
// the cache at it. Otherwise, after a short wait, it rebuilds the cluster's
// snapshot from the cache. The
// revision-guarded transaction stays the safety net: reservations read
// stale fail their guard and the retry reads the store.

// placementCache is the server's per-cluster placement snapshots.
type placementCache struct {
	once     sync.Once
	mu       sync.Mutex
	clusters map[string]*clusterSnap
	// lastRev is the highest revision of an event the subscriber processed;
	// changed is closed (and replaced) when it grows.
	lastRev int64
	changed chan struct{}
	base    string // s.key() + "/"
	// Counters (tests and PlacementStats-like checks).
	rebuilds, derived int64
}

// clusterSnap is one cluster's snapshot.
type clusterSnap struct {
	built bool
	// builtAt is the cache revision read before the last full build: the
	// build reflects every change up to it, processed or not.
	builtAt  int64
	entries  map[string]*snapEntry // by instance id
	dirty    map[string]bool
	taskInst map[string]string // task id -> instance id of the entries
	// sched is the scheduler's snapshot of the entries, kept current one
	// instance at a time (nil: to build from the entries). It changes only
	// under the cluster's launch mutex (cachedPlacementState's callers).
	sched *scheduler.Snapshot
	// nextExpiry is the earliest time a connected entry's link state
	// expires: until then no entry's Connected can flip by itself.
	nextExpiry time.Time
}

// snapEntry is one instance as placement sees it, except Connected (it
// depends on the time: computed from conn at each read).
type snapEntry struct {
	pi      placementInstance // Connected as last given to the scheduler
	conn    agentConnRecord
	hasConn bool
	rec     reservationRecord
	rev     int64 // the reservations record's mod revision
}

// catchUpWait bounds how long a placement waits for the subscriber to
// process the events the cache already applied before rebuilding.
const catchUpWait = 20 * time.Millisecond

func (s *Server) placementCacheInit() *placementCache {
	pc := &s.pcache
	pc.once.Do(func() {
		pc.clusters = map[string]*clusterSnap{}
		pc.changed = make(chan struct{})
		pc.base = s.key() + "/"
		s.cache.Subscribe(s.onPlacementEvent)
	})
	return pc
}

// onPlacementEvent marks the instance an event concerns dirty.
func (s *Server) onPlacementEvent(ev store.Event) {
	pc := &s.pcache
	kind, cluster, id := "", "", ""
	if rest, ok := strings.CutPrefix(ev.KV.Key, pc.base); ok {
		parts := strings.SplitN(rest, "/", 4)
		if len(parts) >= 3 {
			kind = parts[0]
			cluster, _ = store.UnescapePart(parts[1])
			id, _ = store.UnescapePart(parts[2])
		}
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if cs := pc.clusters[cluster]; cs != nil && cs.built && id != "" {
		switch kind {
		case "instances", "attributes", "agents", "reservations":
			cs.dirty[id] = true
		case "tasks", "taskspecs":
			if inst, ok := cs.taskInst[id]; ok {
				cs.dirty[inst] = true
			}
		}
	}
	if ev.KV.ModRevision < pc.lastRev {
		// Out of order: the cache re-listed. Start every snapshot over.
		for _, cs := range pc.clusters {
			cs.built = false
		}
	}
	if ev.KV.ModRevision > pc.lastRev {
		pc.lastRev = ev.KV.ModRevision
		close(pc.changed)
		pc.changed = make(chan struct{})
	}
}

// caughtUp waits (up to catchUpWait) until the subscriber processed the
// events up to the cache's current revision.
func (pc *placementCache) caughtUp(rev int64) bool {
	var timer *time.Timer
	for {
		pc.mu.Lock()
		last, ch := pc.lastRev, pc.changed
		pc.mu.Unlock()
		if last >= rev {
			return true
		}
		if timer == nil {
			timer = time.NewTimer(catchUpWait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		}
	}
}

// cachedPlacementState is readPlacementState from the cache, through the
// cluster's kept snapshot. The caller holds the cluster's launch mutex: the
// scheduler snapshot it returns is updated in place by the next call.
func (s *Server) cachedPlacementState(cluster string) placementState {
	pc := s.placementCacheInit()
	rev := s.cache.Revision()
	pc.mu.Lock()
	cs := pc.clusters[cluster]
	if cs == nil {
		cs = &clusterSnap{}
		pc.clusters[cluster] = cs
	}
	caught := cs.built && cs.builtAt >= rev
	pc.mu.Unlock()
	if !caught {
		caught = pc.caughtUp(rev)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	now := s.now()
	if !cs.built || !caught {
		pc.rebuilds++
		cs.builtAt = s.cache.Revision()
		cs.entries, cs.dirty, cs.taskInst, cs.sched = map[string]*snapEntry{}, map[string]bool{}, map[string]string{}, nil
		for _, kv := range s.cache.List(s.key("instances", cluster) + "/") {
			if id := store.LastPart(kv.Key); id != "" {
				s.deriveEntry(cs, cluster, id, now)
			}
		}
		cs.built = true
	} else {
		for id := range cs.dirty {
			s.deriveEntry(cs, cluster, id, now)
		}
		clear(cs.dirty)
	}
	if cs.sched == nil {
		entries := make([]*snapEntry, 0, len(cs.entries))
		cs.nextExpiry = time.Time{}
		for _, e := range cs.entries {
			e.pi.Connected = e.hasConn && e.conn.live(now)
			cs.expiresAt(e)
			entries = append(entries, e)
		}
		ps := newPlacementState(entries)
		cs.sched = ps.sched
	} else if !cs.nextExpiry.IsZero() && !now.Before(cs.nextExpiry) {
		// A link state expired: mark the agents that stopped answering.
		cs.nextExpiry = time.Time{}
		for _, e := range cs.entries {
			if live := e.hasConn && e.conn.live(now); live != e.pi.Connected {
				e.pi.Connected = live
				cs.sched.Set(schedInstance(e.pi))
			}
			cs.expiresAt(e)
		}
	}
	return placementState{sched: cs.sched, entries: cs.entries}
}

// expiresAt counts a connected entry's expiry in nextExpiry.
func (cs *clusterSnap) expiresAt(e *snapEntry) {
	if e.pi.Connected && (cs.nextExpiry.IsZero() || e.conn.ExpiresAt.Before(cs.nextExpiry)) {
		cs.nextExpiry = e.conn.ExpiresAt
	}
}

// deriveEntry re-derives instance id of cluster from the cache (removing it
// when it has no record or no reservations record) and gives it to the
// scheduler snapshot when there is one. pc.mu is held.
func (s *Server) deriveEntry(cs *clusterSnap, cluster, id string, now time.Time) {
	s.pcache.derived++
	if old := cs.entries[id]; old != nil {
		for tid := range old.rec.Tasks {
			if cs.taskInst[tid] == id {
				delete(cs.taskInst, tid)
			}
		}
	}
	e, ok := s.placementEntry(cluster, id)
	if !ok {
		if _, had := cs.entries[id]; had {
			delete(cs.entries, id)
			if cs.sched != nil {
				cs.sched.Remove(id)
			}
		}
		return
	}
	e.pi.Connected = e.hasConn && e.conn.live(now)
	cs.entries[id] = e
	for tid := range e.rec.Tasks {
		cs.taskInst[tid] = id
	}
	if cs.sched != nil {
		cs.sched.Set(schedInstance(e.pi))
		cs.expiresAt(e)
	}
}

// placementEntry derives one instance from the cache, as readPlacementState
// does.
func (s *Server) placementEntry(cluster, id string) (*snapEntry, bool) {
	ikv, ok := s.cache.Get(s.instanceKey(cluster, id))
	if !ok {
		return nil, false
	}
	iv, ok := s.placementView(cluster, ikv)
	if !ok {
		return nil, false
	}
	rkv, ok := s.cache.Get(s.reservationsKey(cluster, id))
	if !ok {
		return nil, false
	}
	v, ok := s.reservationView(cluster, rkv.Key, rkv.ModRevision, rkv.Value)
	if !ok {
		return nil, false
	}
	conn, has := memoJSON[agentConnRecord](s, iv.connKey)
	pi := s.instanceOf(iv, v)
	return &snapEntry{pi: pi, conn: conn, hasConn: has, rec: v.rec, rev: rkv.ModRevision}, true
}

// instanceOf is the placement instance of an instance view and its
// reservations (Connected unset).
func (s *Server) instanceOf(iv instView, v resView) placementInstance {
	rec := iv.rec
	u, groups := s.load(v)
	pi := placementInstance{
		ID: rec.ID, ARN: iv.arn, Status: rec.Status,
		Attributes: s.attributeMap(iv.attrsKey),
		CPU:        iv.cpu, Memory: iv.memory,
		UsedCPU: u.used.CPU, UsedMemory: u.used.Memory,
		Ports: iv.ports, PortsUDP: iv.portsUDP,

		EC2InstanceID: rec.EC2InstanceID, RegisteredAt: rec.RegisteredAt,
		CapacityProvider: rec.CapacityProvider, RunningTasks: u.running,
		Groups: groups,
	}
	if len(u.used.Ports) > 0 {
		pi.Ports = maps.Clone(pi.Ports)
	}
	if len(u.used.PortsUDP) > 0 {
		pi.PortsUDP = maps.Clone(pi.PortsUDP)
	}
	if len(u.ips) > 0 {
		pi.UsedIPs = map[netip.Addr]bool{}
	}
	if rec.VersionInfo != nil {
		pi.AgentVersion = deref(rec.VersionInfo.AgentVersion)
	}
	for _, p := range u.used.Ports {
		pi.Ports[p] = true
	}
	for _, p := range u.used.PortsUDP {
		pi.PortsUDP[p] = true
	}
	for _, ip := range u.ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			pi.UsedIPs[a] = true
		}
	}
	if p, err := netip.ParsePrefix(pi.Attributes[awsvpcSubnetAttr]); err == nil && p.Addr().Is4() {
		pi.Subnet = p.Masked()
	}
	return pi
}
