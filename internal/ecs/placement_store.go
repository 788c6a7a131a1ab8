package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/cql"
	"github.com/berth-dev/berth/internal/scheduler"
	"github.com/berth-dev/berth/internal/store"
)

// reservationRecord is what the tasks placed on one instance reserve, under
// reservations/<cluster>/<instance>. Placement (RunTask/StartTask) is its
// writer: it adds the new tasks and drops the ones whose status is STOPPED,
// in the same revision-guarded transaction that creates the tasks, so two
// placements can never both take the last room of an instance. Registration
// creates it, deregistration deletes it (guarded), and the stopped-task sweep
// drops the tasks it deletes.
//
// An entry counts while its task is not STOPPED: a task that stops frees its
// resources at once, whether or not its entry was pruned yet.
type reservationRecord struct {
	Tasks map[string]taskReservation `json:"tasks"`
}

// taskReservation is one task's share of an instance.
type taskReservation struct {
	resources
	IPv4 string `json:"ipv4,omitempty"`
}

func (s *Server) reservationsKey(cluster, id string) string {
	return s.key("reservations", cluster, id)
}

// readReservations reads an instance's reservations from the store (not the
// cache: its revision guards the next placement). rev is 0 when there is no
// record.
func (s *Server) readReservations(ctx context.Context, cluster, id string) (reservationRecord, int64, error) {
	r, rev, err := store.GetJSON[reservationRecord](ctx, s.st, s.reservationsKey(cluster, id))
	if errors.Is(err, store.ErrNotFound) {
		return reservationRecord{Tasks: map[string]taskReservation{}}, 0, nil
	}
	if r.Tasks == nil {
		r.Tasks = map[string]taskReservation{}
	}
	return r, rev, err
}

func (s *Server) cachedReservations(cluster, id string) reservationRecord {
	r, _, err := store.GetCachedJSON[reservationRecord](s.cache, s.reservationsKey(cluster, id))
	if err != nil || r.Tasks == nil {
		return reservationRecord{Tasks: map[string]taskReservation{}}
	}
	return r
}

// initialReservationsOp creates an instance's reservations record if it has
// none: empty for a new instance; for an instance re-registering under an
// ARN it had before a forced deregistration, its orphaned tasks again.
func (s *Server) initialReservationsOp(ctx context.Context, cluster, id string) (store.Op, bool) {
	if _, rev, err := s.readReservations(ctx, cluster, id); err != nil || rev != 0 {
		return store.Op{}, false
	}
	r := reservationRecord{Tasks: map[string]taskReservation{}}
	for _, kv := range s.cache.List(s.key("taskspecs", cluster) + "/") {
		var spec taskSpecRecord
		if json.Unmarshal(kv.Value, &spec) != nil || spec.InstanceID != id {
			continue
		}
		if st, ok := s.cachedStatus(cluster, spec.ID); ok && st.LastStatus != taskStopped {
			r.Tasks[spec.ID] = reservationOf(spec)
		}
	}
	b, _ := json.Marshal(r)
	return store.Op{Key: s.reservationsKey(cluster, id), Value: b, ExpectRev: 0}, true
}

func reservationOf(spec taskSpecRecord) taskReservation {
	r := taskReservation{resources: spec.Reserved}
	if spec.Network != nil {
		r.IPv4 = spec.Network.IPv4
	}
	return r
}

// taskStopped reports whether a task is known to be STOPPED. A task the
// cache has not seen (just created elsewhere) counts as not stopped, so
// staleness only ever over-reserves.
func (s *Server) taskIsStopped(cluster, id string) bool {
	st, ok := s.lastStatusOf(cluster, id)
	return ok && st == taskStopped
}

// usage is what the non-stopped tasks of an instance use and how many of them
// run or wait.
type usage struct {
	used             resources
	ips              []string
	running, pending int
}

func (s *Server) usageOf(cluster string, r reservationRecord) usage {
	var u usage
	for id, t := range r.Tasks {
		st, ok := s.lastStatusOf(cluster, id)
		if ok && st == taskStopped {
			continue
		}
		u.add(t, ok && st == taskRunning)
	}
	return u
}

// add counts a non-stopped task's reservation, running or still pending.
func (u *usage) add(t taskReservation, running bool) {
	u.used.CPU += t.CPU
	u.used.Memory += t.Memory
	u.used.Ports = append(u.used.Ports, t.Ports...)
	u.used.PortsUDP = append(u.used.PortsUDP, t.PortsUDP...)
	if t.IPv4 != "" {
		u.ips = append(u.ips, t.IPv4)
	}
	if running {
		u.running++
	} else {
		u.pending++
	}
}

// taskGroupsOf counts the non-stopped tasks of r by task group, for
// spread and distinctInstance.
func (s *Server) taskGroupsOf(cluster string, r reservationRecord) map[string]int {
	groups := map[string]int{}
	for id := range r.Tasks {
		if s.taskIsStopped(cluster, id) {
			continue
		}
		if spec, ok := s.taskSpecInfo(cluster, id); ok && spec.DesiredState != taskStopped {
			groups[spec.Group]++
		}
	}
	return groups
}

// cqlView is a container instance as the Cluster Query Language sees it,
// from the cache.
func (s *Server) cqlView(cluster string, rec instanceRecord, now time.Time) *cql.Static {
	r := s.cachedReservations(cluster, rec.ID)
	conn, has := s.agentConn(cluster, rec.ID)
	v := &cql.Static{
		Attributes: map[string]string{}, EC2ID: rec.EC2InstanceID, Connected: has && conn.live(now),
		Registered: rec.RegisteredAt, RunningTasks: s.usageOf(cluster, r).running,
	}
	if rec.VersionInfo != nil {
		v.Version = deref(rec.VersionInfo.AgentVersion)
	}
	for _, a := range s.cachedAttributes(cluster, rec.ID) {
		v.Attributes[a.Name] = a.Value
	}
	for g := range s.taskGroupsOf(cluster, r) {
		v.Groups = append(v.Groups, g)
	}
	return v
}

// instanceUsage reads an instance's usage from the cache.
func (s *Server) instanceUsage(cluster, id string) usage {
	return s.usageOf(cluster, s.cachedReservations(cluster, id))
}

// activeTaskCount is the number of non-stopped tasks in r.
func (s *Server) activeTaskCount(cluster, id string, r reservationRecord) int {
	u := s.usageOf(cluster, r)
	return u.running + u.pending
}

// remainingResources is registered minus used: CPU and MEMORY decrease, PORTS
// and PORTS_UDP (the unavailable ports) grow by the tasks' static ports.
func remainingResources(registered []ecsapi.Resource, used resources) []ecsapi.Resource {
	out := make([]ecsapi.Resource, 0, len(registered))
	for _, r := range registered {
		r.StringSetValue = slices.Clone(r.StringSetValue)
		switch deref(r.Name) {
		case "CPU":
			r = subtract(r, used.CPU)
		case "MEMORY":
			r = subtract(r, used.Memory)
		case "PORTS":
			r.StringSetValue = addPorts(r.StringSetValue, used.Ports)
		case "PORTS_UDP":
			r.StringSetValue = addPorts(r.StringSetValue, used.PortsUDP)
		}
		out = append(out, r)
	}
	return out
}

func subtract(r ecsapi.Resource, n int64) ecsapi.Resource {
	switch {
	case r.IntegerValue != nil:
		r.IntegerValue = ptr(*r.IntegerValue - int32(n))
	case r.LongValue != nil:
		r.LongValue = ptr(*r.LongValue - n)
	case r.DoubleValue != nil:
		r.DoubleValue = ptr(*r.DoubleValue - float64(n))
	}
	return r
}

func addPorts(set []string, ports []int32) []string {
	for _, p := range ports {
		v := strconv.Itoa(int(p))
		if !slices.Contains(set, v) {
			set = append(set, v)
		}
	}
	slices.SortFunc(set, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	return nonNil(set)
}

// resourceValue reads a numeric registered resource (0 when absent).
func resourceValue(rs []ecsapi.Resource, name string) int64 {
	for _, r := range rs {
		if deref(r.Name) != name {
			continue
		}
		switch {
		case r.IntegerValue != nil:
			return int64(*r.IntegerValue)
		case r.LongValue != nil:
			return *r.LongValue
		case r.DoubleValue != nil:
			return int64(*r.DoubleValue)
		}
	}
	return 0
}

// resourcePorts reads a STRINGSET port resource.
func resourcePorts(rs []ecsapi.Resource, name string) map[int32]bool {
	out := map[int32]bool{}
	for _, r := range rs {
		if deref(r.Name) != name {
			continue
		}
		for _, v := range r.StringSetValue {
			if n, err := strconv.Atoi(v); err == nil {
				out[int32(n)] = true
			}
		}
	}
	return out
}

// placementState is one read of a cluster for placement: the scheduler's
// snapshot of its instances, and each instance's placement view with the
// reservations record and the revision that guards the write.
type placementState struct {
	sched   *scheduler.Snapshot
	entries map[string]*snapEntry // by instance id
}

// reservation is instance id's reservations record and its revision (0
// when it has none).
func (ps placementState) reservation(id string) (reservationRecord, int64) {
	if e := ps.entries[id]; e != nil {
		return e.rec, e.rev
	}
	return reservationRecord{}, 0
}

// newPlacementState indexes entries (Connected set in each pi) for the
// scheduler, in instance ID order.
func newPlacementState(entries []*snapEntry) placementState {
	slices.SortFunc(entries, func(a, b *snapEntry) int { return strings.Compare(a.pi.ID, b.pi.ID) })
	ps := placementState{entries: make(map[string]*snapEntry, len(entries))}
	insts := make([]scheduler.Instance, len(entries))
	for i, e := range entries {
		ps.entries[e.pi.ID] = e
		insts[i] = schedInstance(e.pi)
	}
	ps.sched = scheduler.NewSnapshot(insts)
	return ps
}

// readPlacementState lists the cluster's reservations with the revisions
// that guard the write and combines them with the cached instances,
// attributes and link states. fromCache uses the cluster's kept snapshot
// (placement_snapshot.go): a stale revision only fails the guard, and the
// retry reads the store.
func (s *Server) readPlacementState(ctx context.Context, cluster string, fromCache bool) (placementState, error) {
	if fromCache {
		return s.cachedPlacementState(cluster), nil
	}
	prefix := s.key("reservations", cluster) + "/"
	kvs, _, err := s.st.List(ctx, prefix)
	if err != nil {
		return placementState{}, err
	}
	views := map[string]resView{}
	revs := map[string]int64{}
	for _, kv := range kvs {
		v, ok := s.reservationView(cluster, kv.Key, kv.ModRevision, kv.Value)
		if !ok {
			continue
		}
		id := store.LastPart(kv.Key)
		revs[id] = kv.ModRevision
		views[id] = v
	}
	now := s.now()
	var entries []*snapEntry
	for _, kv := range s.cache.List(s.key("instances", cluster) + "/") {
		iv, ok := s.placementView(cluster, kv)
		if !ok {
			continue
		}
		v, ok := views[iv.rec.ID]
		if !ok {
			// Registration creates the record and deregistration deletes it:
			// without one the instance is gone (the cache lags) or has not
			// re-registered since Berth added the record.
			continue
		}
		conn, has := memoJSON[agentConnRecord](s, iv.connKey)
		e := &snapEntry{pi: s.instanceOf(iv, v), conn: conn, hasConn: has, rec: v.rec, rev: revs[iv.rec.ID]}
		e.pi.Connected = has && conn.live(now)
		entries = append(entries, e)
	}
	return newPlacementState(entries), nil
}

// reservationOps are the guarded writes of the reservation records of the
// instances that got tasks: the new entries added, stopped tasks dropped.
func (s *Server) reservationOps(cluster string, ps placementState, add map[string]map[string]taskReservation) []store.Op {
	ids := make([]string, 0, len(add))
	for id := range add {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var ops []store.Op
	for _, inst := range ids {
		cur, rev := ps.reservation(inst)
		next := reservationRecord{Tasks: map[string]taskReservation{}}
		for id, t := range cur.Tasks {
			if !s.taskIsStopped(cluster, id) {
				next.Tasks[id] = t
			}
		}
		for id, t := range add[inst] {
			next.Tasks[id] = t
		}
		b, _ := json.Marshal(next)
		ops = append(ops, store.Op{Key: s.reservationsKey(cluster, inst), Value: b, ExpectRev: rev})
	}
	return ops
}
