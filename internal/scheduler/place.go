package scheduler

import (
	"math/rand/v2"
	"slices"
)

// Place places req on the snapshot: the indexed pipeline (see the package
// documentation). The error is a *ValidationError for a request ECS refuses.
func (s *Snapshot) Place(req Request) (Result, error) { return s.place(&req, false) }

// PlaceLinear is Place scanning every candidate for every task: the same
// filters, scores and tie-breaks (so the same placements unless a random
// strategy is used), without the index. It is the reference for tests and
// the baseline of the benchmarks.
func (s *Snapshot) PlaceLinear(req Request) (Result, error) { return s.place(&req, true) }

type vec [MaxStrategies]int64

// run is one request's plan overlay and index.
type run struct {
	s   *Snapshot
	req *Request
	c   *compiled

	static  [][]bool // static memberOf results
	groupOf map[int32]int
	planned []int32
	rej     []Filter // per instance: the filter that last rejected it

	cols     []*column // distinct spread attributes
	counts   [][]int   // per column: value id -> tasks of the group
	slot     []int     // per strategy: column index (spread attribute) or key index
	nKeys    int       // instance-level keys before the first random strategy
	randomAt int       // index of the first random strategy, or len(strategies)
	rng      *rand.Rand

	cells  []*cell
	cellOf []int32
	pos    []int32
	tied   []*cell
	cands  []int32

	cellIdx cellIndex // numbers the cells

	// A kept index (place_cache.go) also has these.
	kept    bool
	attrs   []string // per column: the spread attribute
	nvals   []int    // per column: values when the cells were numbered
	inHeap  []bool
	removed [numFilters + 1]int // instances per rejecting filter
	touched []int32             // instances the last request planned on
	version uint64              // the snapshot version it reflects
}

type entry struct {
	key  vec
	rank uint64
	i    int32
}

// cell holds the candidates sharing every spread attribute value, in a
// min-heap by (instance-level scores, rank).
type cell struct {
	h []entry
}

func (s *Snapshot) place(req *Request, linear bool) (Result, error) {
	c, err := compile(req)
	if err != nil {
		return Result{}, err
	}
	n := len(s.insts)
	r := &run{
		s: s, req: req, c: c,
		groupOf:  s.groups[req.Group],
		planned:  make([]int32, n),
		rej:      make([]Filter, n),
		randomAt: len(c.strategies),
		rng:      rand.New(rand.NewPCG(req.Seed, req.Seed^0x9e3779b97f4a7c15)),
	}
	for _, e := range c.memberOf {
		r.static = append(r.static, s.staticMemberOf(e))
	}
	r.layout(c)
	for j, col := range r.cols {
		r.counts[j] = make([]int, len(col.values)+1)
		copy(r.counts[j], s.groupCounts(req.Group, r.attrs[j]))
	}

	var res Result
	if req.Targets != nil {
		return r.placeTargets(), nil
	}
	if !linear && !req.InOrder && r.randomAt == len(c.strategies) {
		return s.placeKept(req, c), nil
	}
	// Building the heaps costs about two scans of the candidates: for one
	// or two tasks scanning is cheaper, with the same result.
	if req.Count < 3 {
		linear = true
	}
	if !linear {
		r.cellOf = make([]int32, n)
		r.pos = make([]int32, n)
	}
	// Two passes: filter and assign cells, then size each heap exactly.
	r.cellIdx.init(r.cols)
	var sizes []int32
	for i := range s.insts {
		if f := r.check(i); f != filterNone {
			r.rej[i] = f
			continue
		}
		res.Candidates++
		if linear {
			continue
		}
		r.cellFor(i)
		if len(sizes) < len(r.cells) {
			sizes = append(sizes, 0)
		}
		sizes[r.cellOf[i]]++
	}
	for k, cl := range r.cells {
		cl.h = make([]entry, 0, sizes[k])
	}
	for i := range s.insts {
		if linear || r.rej[i] != filterNone {
			continue
		}
		cl := r.cells[r.cellOf[i]]
		r.pos[i] = int32(len(cl.h))
		cl.h = append(cl.h, r.entry(i))
	}
	for _, cl := range r.cells {
		for j := len(cl.h)/2 - 1; j >= 0; j-- {
			r.down(cl, j)
		}
	}
	unplaced := 0
	for range req.Count {
		var i int
		if linear {
			i = r.pickLinear()
		} else {
			i = r.pick()
		}
		if i < 0 {
			unplaced++
			continue
		}
		res.Placements = append(res.Placements, s.insts[i].ID)
		r.book(i, linear)
	}
	r.finish(&res, unplaced > 0, false)
	return res, nil
}

// layout gives each strategy its slot: a column (one per distinct spread
// attribute) or an instance-level key; randomAt is the first random
// strategy. counts gets one (nil) entry per column.
func (r *run) layout(c *compiled) {
	r.randomAt = len(c.strategies)
	r.slot = make([]int, len(c.strategies))
	for k, st := range c.strategies {
		switch st.kind {
		case kindRandom:
			r.randomAt = min(r.randomAt, k)
		case kindSpreadAttribute:
			col := r.s.column(st.attr)
			r.slot[k] = slices.Index(r.cols, col)
			if r.slot[k] < 0 {
				r.slot[k] = len(r.cols)
				r.cols = append(r.cols, col)
				r.attrs = append(r.attrs, st.attr)
				r.counts = append(r.counts, nil)
			}
		default:
			if k < r.randomAt {
				r.slot[k] = r.nKeys
				r.nKeys++
			}
		}
	}
}

// check runs the filters on instance i with the tasks planned on it and
// returns the first that rejects it (filterNone: it fits). detail explains
// a rejection; it is only computed for failures.
func (r *run) check(i int) Filter {
	in := &r.s.insts[i]
	req := r.req
	if in.Status != StatusActive {
		return FilterStatus
	}
	if !in.Connected {
		return FilterAgent
	}
	if req.CapacityProvider != "" && in.CapacityProvider != req.CapacityProvider {
		return FilterCapacityProvider
	}
	for _, a := range req.Requires {
		v, ok := in.Attributes[a.Name]
		if !ok || (a.Value != nil && *a.Value != v) {
			return FilterAttributes
		}
	}
	for _, res := range r.static {
		if !res[i] {
			return FilterMemberOf
		}
	}
	p := int64(r.planned[i])
	if (p+1)*req.CPU > in.CPU-in.UsedCPU {
		return FilterCPU
	}
	if (p+1)*req.Memory > in.Memory-in.UsedMemory {
		return FilterMemory
	}
	for _, port := range req.Ports {
		if p > 0 || in.Ports[port] {
			return FilterPorts
		}
	}
	for _, port := range req.PortsUDP {
		if p > 0 || in.PortsUDP[port] {
			return FilterPortsUDP
		}
	}
	if req.Awsvpc {
		if in.AwsvpcSlots < 0 {
			return FilterAwsvpc
		}
		if sn, ok := in.Attributes[SubnetAttribute]; ok && len(req.Subnets) > 0 && !slices.Contains(req.Subnets, sn) {
			return FilterLocation
		}
		if int64(in.AwsvpcSlots) <= p {
			return FilterENI
		}
	}
	if r.c.distinct && r.groupTasks(i) > 0 {
		return FilterDistinctInstance
	}
	for _, e := range r.c.dynamic {
		if !e.Eval(view{s: r.s, i: i, planned: int(p), group: req.Group}) {
			return FilterMemberOf
		}
	}
	return filterNone
}

// groupTasks is the number of tasks of the request's group on instance i,
// planned ones included.
func (r *run) groupTasks(i int) int64 {
	return int64(r.groupOf[int32(i)]) + int64(r.planned[i])
}

// vector is instance i's score, one component per strategy before the
// first random one; lower is better.
func (r *run) vector(i int) vec {
	var v vec
	in := &r.s.insts[i]
	p := int64(r.planned[i])
	for k := range r.randomAt {
		switch st := r.c.strategies[k]; st.kind {
		case kindBinpackCPU:
			v[k] = in.CPU - in.UsedCPU - p*r.req.CPU
		case kindBinpackMemory:
			v[k] = in.Memory - in.UsedMemory - p*r.req.Memory
		case kindSpreadInstance:
			v[k] = r.groupTasks(i)
		case kindSpreadAttribute:
			j := r.slot[k]
			v[k] = int64(r.counts[j][r.cols[j].ids[i]])
		}
	}
	return v
}

// entry is instance i's heap entry: its instance-level scores (constant
// within a cell for spread attributes, so left out) and its rank.
func (r *run) entry(i int) entry {
	e := entry{rank: r.rank(i), i: int32(i)}
	if r.kept {
		e.rank = r.s.idHash[i] // request-independent: see pickKept
	}
	v := r.vector(i)
	for k := range r.randomAt {
		if r.c.strategies[k].kind != kindSpreadAttribute {
			e.key[r.slot[k]] = v[k]
		}
	}
	return e
}

// rank is the seeded tie-break: a permutation of the instances that
// depends on the request's seed and the instance's ID only.
func (r *run) rank(i int) uint64 {
	if r.req.InOrder {
		return uint64(i)
	}
	x := r.s.idHash[i] ^ r.req.Seed
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func compareVec(a, b *vec, n int) int {
	for k := range n {
		if a[k] != b[k] {
			if a[k] < b[k] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// better reports whether candidate i (score v) beats j (score w) when no
// random strategy decides.
func (r *run) better(i int, v *vec, j int, w *vec) bool {
	if c := compareVec(v, w, r.randomAt); c != 0 {
		return c < 0
	}
	ri, rj := r.rank(i), r.rank(j)
	if ri != rj {
		return ri < rj
	}
	return i < j
}

// book records a task on instance i and re-checks i, the only instance the
// placement changed.
func (r *run) book(i int, linear bool) {
	r.planned[i]++
	for j, col := range r.cols {
		r.counts[j][col.ids[i]]++
	}
	f := r.check(i)
	if f != filterNone {
		r.setRej(i, f)
	}
	if linear {
		return
	}
	cl := r.cells[r.cellOf[i]]
	if f != filterNone {
		r.remove(cl, int(r.pos[i]))
		if r.kept {
			r.inHeap[i] = false
		}
		return
	}
	k := r.pos[i]
	cl.h[k].key = r.entry(i).key
	r.fix(cl, int(k))
}

func itoa(p int32) string {
	if p == 0 {
		return "0"
	}
	var b [12]byte
	n := len(b)
	neg := p < 0
	u := int64(p)
	if neg {
		u = -u
	}
	for u > 0 {
		n--
		b[n] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

// detail names what made filter f reject instance i (the planned tasks
// unchanged since): the attribute, the port, the expression.
func (r *run) detail(i int, f Filter) string {
	in := &r.s.insts[i]
	p := r.planned[i]
	switch f {
	case FilterCapacityProvider:
		return in.CapacityProvider
	case FilterAttributes:
		for _, a := range r.req.Requires {
			v, ok := in.Attributes[a.Name]
			if !ok || (a.Value != nil && *a.Value != v) {
				return a.Name
			}
		}
	case FilterMemberOf:
		for k, res := range r.static {
			if !res[i] {
				return r.c.memberOf[k].String()
			}
		}
		for _, e := range r.c.dynamic {
			if !e.Eval(view{s: r.s, i: i, planned: int(p), group: r.req.Group}) {
				return e.String()
			}
		}
	case FilterPorts:
		for _, port := range r.req.Ports {
			if p > 0 || in.Ports[port] {
				return itoa(port)
			}
		}
	case FilterPortsUDP:
		for _, port := range r.req.PortsUDP {
			if p > 0 || in.PortsUDP[port] {
				return itoa(port)
			}
		}
	case FilterAwsvpc:
		return AwsvpcNetworkAttribute
	case FilterLocation:
		return in.Attributes[SubnetAttribute]
	}
	return ""
}

// cellIndex numbers the cells (combinations of spread attribute values):
// a dense table when the combinations are few, a map otherwise.
type cellIndex struct {
	dense  []int32 // combination -> cell+1
	sparse map[[MaxStrategies]int32]int32
	n      int32
}

func (c *cellIndex) init(cols []*column) {
	size := 1
	for _, col := range cols {
		size *= len(col.values) + 1
		if size > 1<<16 {
			c.sparse = map[[MaxStrategies]int32]int32{}
			return
		}
	}
	c.dense = make([]int32, size)
}

// get returns instance i's cell, numbering a new one n when first seen.
func (c *cellIndex) get(cols []*column, i int) int32 {
	if c.sparse == nil {
		k := 0
		for _, col := range cols {
			k = k*(len(col.values)+1) + int(col.ids[i])
		}
		if c.dense[k] == 0 {
			c.n++
			c.dense[k] = c.n
		}
		return c.dense[k] - 1
	}
	var key [MaxStrategies]int32
	for j, col := range cols {
		key[j] = col.ids[i]
	}
	ci, ok := c.sparse[key]
	if !ok {
		ci = c.n
		c.n++
		c.sparse[key] = ci
	}
	return ci
}
