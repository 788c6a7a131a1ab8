package scheduler

import (
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/cql"
)

// Snapshot is a cluster's instances, indexed for placement. Place and
// PlaceLinear never modify it and may run concurrently; Commit may not run
// concurrently with them.
type Snapshot struct {
	insts  []Instance
	byID   map[string]int
	idHash []uint64 // stable per instance ID: the seed of the tie-break rank
	// groups is the inverted index task group -> instance -> tasks, so a
	// request counts its group's tasks without visiting every instance.
	groups map[string]map[int32]int

	mu       sync.Mutex
	cols     map[string]*column // spread attributes, built on first use
	memberOf map[string][]bool  // static expressions, by canonical form
	exprs    map[string]*cql.Expr
	// gcounts is, per task group and spread attribute, the group's tasks
	// per value id of the attribute's column (built on first use).
	gcounts map[string]map[string][]int
	// runs are kept request indexes by request shape (place_cache.go);
	// log lists the instances changed since version logBase, so a kept
	// index catches up on those only.
	runs    map[string]*run
	log     []int32
	logBase uint64
}

// column maps each instance to a small id of its value of one attribute:
// 0 when it lacks the attribute.
type column struct {
	ids    []int32
	values []string // values[id-1]
	index  map[string]int32
}

var hashSeed = maphash.MakeSeed()

// NewSnapshot indexes insts, which it keeps (the caller must not change
// them afterwards except through Commit).
func NewSnapshot(insts []Instance) *Snapshot {
	s := &Snapshot{
		insts:    insts,
		byID:     make(map[string]int, len(insts)),
		idHash:   make([]uint64, len(insts)),
		groups:   map[string]map[int32]int{},
		cols:     map[string]*column{},
		memberOf: map[string][]bool{},
		exprs:    map[string]*cql.Expr{},
		gcounts:  map[string]map[string][]int{},
		runs:     map[string]*run{},
	}
	for i := range insts {
		in := &insts[i]
		s.byID[in.ID] = i
		s.idHash[i] = maphash.String(hashSeed, in.ID)
		for g, n := range in.Groups {
			if n > 0 {
				s.group(g)[int32(i)] = n
			}
		}
	}
	return s
}

func (s *Snapshot) group(g string) map[int32]int {
	m := s.groups[g]
	if m == nil {
		m = map[int32]int{}
		s.groups[g] = m
	}
	return m
}

// Len is the number of instances.
func (s *Snapshot) Len() int { return len(s.insts) }

// Instance returns the instance with id, as last committed.
func (s *Snapshot) Instance(id string) (Instance, bool) {
	i, ok := s.byID[id]
	if !ok {
		return Instance{}, false
	}
	return s.insts[i], true
}

func (s *Snapshot) column(attr string) *column {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.cols[attr]; c != nil {
		return c
	}
	c := &column{ids: make([]int32, len(s.insts)), index: map[string]int32{}}
	for i := range s.insts {
		c.set(i, s.insts[i].Attributes, attr)
	}
	s.cols[attr] = c
	return c
}

// staticMemberOf evaluates an expression that placement cannot change on
// every instance, once per snapshot.
func (s *Snapshot) staticMemberOf(e *cql.Expr) []bool {
	key := e.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.memberOf[key]; ok {
		return r
	}
	r := make([]bool, len(s.insts))
	for i := range s.insts {
		r[i] = e.Eval(view{s: s, i: i})
	}
	s.memberOf[key] = r
	s.exprs[key] = e
	return r
}

// Commit books placements (instance IDs, as in Result.Placements) of req on
// the snapshot, as the store would once they are written: the simulator
// and benchmarks use it to place request after request.
func (s *Snapshot) Commit(req Request, placements []string) { s.commit(req, placements, true) }

// CommitPending is Commit for tasks that are not running yet: they take
// their resources, ports and group places, but runningTasksCount (which
// counts RUNNING tasks only) does not change.
func (s *Snapshot) CommitPending(req Request, placements []string) { s.commit(req, placements, false) }

func (s *Snapshot) commit(req Request, placements []string, running bool) {
	for _, id := range placements {
		i, ok := s.byID[id]
		if !ok {
			continue
		}
		in := &s.insts[i]
		in.UsedCPU += req.CPU
		in.UsedMemory += req.Memory
		if len(req.Ports) > 0 {
			in.Ports = maps.Clone(in.Ports)
			if in.Ports == nil {
				in.Ports = map[int32]bool{}
			}
			for _, p := range req.Ports {
				in.Ports[p] = true
			}
		}
		if len(req.PortsUDP) > 0 {
			in.PortsUDP = maps.Clone(in.PortsUDP)
			if in.PortsUDP == nil {
				in.PortsUDP = map[int32]bool{}
			}
			for _, p := range req.PortsUDP {
				in.PortsUDP[p] = true
			}
		}
		if req.Awsvpc && in.AwsvpcSlots > 0 {
			in.AwsvpcSlots--
		}
		if running {
			in.RunningTasks++
		}
		if req.Group != "" {
			in.Groups = maps.Clone(in.Groups)
			if in.Groups == nil {
				in.Groups = map[string]int{}
			}
			in.Groups[req.Group]++
			s.group(req.Group)[int32(i)]++
			s.mu.Lock()
			s.countGroup(req.Group, i, 1)
			s.mu.Unlock()
		}
		s.mu.Lock()
		s.changed(i)
		s.mu.Unlock()
	}
}

// view shows instance i to a CQL expression, with the tasks a request has
// planned on it so far (planned nil: none).
type view struct {
	s       *Snapshot
	i       int
	planned int
	group   string
}

var _ cql.Instance = view{}

func (v view) in() *Instance { return &v.s.insts[v.i] }

func (v view) Attribute(name string) (string, bool) {
	a, ok := v.in().Attributes[name]
	return a, ok
}
func (v view) EC2InstanceID() string   { return v.in().EC2InstanceID }
func (v view) AgentConnected() bool    { return v.in().Connected }
func (v view) AgentVersion() string    { return v.in().AgentVersion }
func (v view) RegisteredAt() time.Time { return v.in().RegisteredAt }
func (v view) RunningTasksCount() int  { return v.in().RunningTasks + v.planned }
func (v view) HasTaskGroup(g string) bool {
	return v.in().Groups[g] > 0 || (v.planned > 0 && g == v.group)
}
func (v view) TaskGroups() []string {
	var out []string
	for g, n := range v.in().Groups {
		if n > 0 {
			out = append(out, g)
		}
	}
	if v.planned > 0 && v.in().Groups[v.group] == 0 {
		out = append(out, v.group)
	}
	slices.Sort(out)
	return out
}

// Set adds in to the snapshot, or replaces the instance with its ID, and
// keeps the indexes (groups, spread columns, static memberOf results)
// current for it: a long-lived snapshot follows the cluster one changed
// instance at a time instead of being rebuilt for every request. Set may
// not run concurrently with Place.
func (s *Snapshot) Set(in Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[in.ID]
	if !ok {
		i = len(s.insts)
		s.insts = append(s.insts, in)
		s.byID[in.ID] = i
		s.idHash = append(s.idHash, maphash.String(hashSeed, in.ID))
		for _, c := range s.cols {
			c.ids = append(c.ids, 0)
		}
		for key, r := range s.memberOf {
			s.memberOf[key] = append(r, false)
		}
	} else {
		for g, n := range s.insts[i].Groups {
			if n > 0 {
				s.ungroup(g, i)
				s.countGroup(g, i, -n)
			}
		}
		s.insts[i] = in
	}
	for attr, c := range s.cols {
		c.set(i, s.insts[i].Attributes, attr)
	}
	for g, n := range in.Groups {
		if n > 0 {
			s.group(g)[int32(i)] = n
			s.countGroup(g, i, n)
		}
	}
	s.changed(i)
	for key, r := range s.memberOf {
		r[i] = s.exprs[key].Eval(view{s: s, i: i})
	}
}

// Remove drops the instance with id (no-op when absent): the last instance
// takes its place in every index.
func (s *Snapshot) Remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[id]
	if !ok {
		return
	}
	last := len(s.insts) - 1
	for g, n := range s.insts[i].Groups {
		if n > 0 {
			s.ungroup(g, i)
			s.countGroup(g, i, -n)
		}
	}
	// Indexes move: kept request indexes start over.
	clear(s.runs)
	s.logBase += uint64(len(s.log))
	s.log = s.log[:0]
	if i != last {
		moved := s.insts[last]
		for g, n := range moved.Groups {
			if n > 0 {
				s.ungroup(g, last)
				s.group(g)[int32(i)] = n
			}
		}
		s.insts[i], s.idHash[i] = moved, s.idHash[last]
		s.byID[moved.ID] = i
		for _, c := range s.cols {
			c.ids[i] = c.ids[last]
		}
		for _, r := range s.memberOf {
			r[i] = r[last]
		}
	}
	delete(s.byID, id)
	s.insts[last] = Instance{}
	s.insts, s.idHash = s.insts[:last], s.idHash[:last]
	for _, c := range s.cols {
		c.ids = c.ids[:last]
	}
	for key, r := range s.memberOf {
		s.memberOf[key] = r[:last]
	}
}

// groupCounts is group g's tasks per value id of attr's column (shared:
// read only), built on first use and kept current by Set, Remove and
// Commit.
func (s *Snapshot) groupCounts(g, attr string) []int {
	col := s.column(attr)
	s.mu.Lock()
	defer s.mu.Unlock()
	byAttr := s.gcounts[g]
	if byAttr == nil {
		byAttr = map[string][]int{}
		s.gcounts[g] = byAttr
	}
	c, ok := byAttr[attr]
	if !ok {
		c = make([]int, len(col.values)+1)
		for i, n := range s.groups[g] {
			c[col.ids[i]] += n
		}
		byAttr[attr] = c
	}
	return c
}

// countGroup adds n tasks of group g on instance i to the kept counts.
// s.mu is held.
func (s *Snapshot) countGroup(g string, i, n int) {
	for attr, c := range s.gcounts[g] {
		id := int(s.cols[attr].ids[i])
		if id >= len(c) {
			c = append(c, make([]int, id+1-len(c))...)
			s.gcounts[g][attr] = c
		}
		c[id] += n
	}
}

// changed logs instance i for the kept request indexes. s.mu is held.
func (s *Snapshot) changed(i int) {
	if len(s.runs) == 0 {
		s.logBase += uint64(len(s.log)) + 1
		s.log = s.log[:0]
		return
	}
	if len(s.log) > 4*len(s.insts)+1024 {
		// Far behind: the kept indexes are rebuilt on their next use.
		clear(s.runs)
		s.logBase += uint64(len(s.log)) + 1
		s.log = s.log[:0]
		return
	}
	s.log = append(s.log, int32(i))
}

// ungroup drops instance i from group g's index.
func (s *Snapshot) ungroup(g string, i int) {
	if m := s.groups[g]; m != nil {
		delete(m, int32(i))
		if len(m) == 0 {
			delete(s.groups, g)
		}
	}
}

// set gives instance i the id of its value of attr, numbering a new value.
func (c *column) set(i int, attrs map[string]string, attr string) {
	v, ok := attrs[attr]
	if !ok {
		c.ids[i] = 0
		return
	}
	id, ok := c.index[v]
	if !ok {
		c.values = append(c.values, v)
		id = int32(len(c.values))
		c.index[v] = id
	}
	c.ids[i] = id
}
