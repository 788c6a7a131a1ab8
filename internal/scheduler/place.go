package scheduler

import (
	"math/rand/v2"
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
	rej     []rejection

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
}

type rejection struct {
	f      Filter
	detail string
}

type entry struct {
	key  vec
	rank uint64
	i    int32
}

// cell holds the candidates sharing every spread attribute value, in a
// min-heap by (instance-level scores, rank).
type cell struct {
	vals []int32
	h    []entry
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
		rej:      make([]rejection, n),
		randomAt: len(c.strategies),
		rng:      rand.New(rand.NewPCG(req.Seed, req.Seed^0x9e3779b97f4a7c15)),
	}
	for _, e := range c.memberOf {
		r.static = append(r.static, s.staticMemberOf(e))
	}
	r.slot = make([]int, len(c.strategies))
	for k, st := range c.strategies {
		switch st.kind {
		case kindRandom:
			if k < r.randomAt {
				r.randomAt = k
			}
		case kindSpreadAttribute:
			col := s.column(st.attr)
			r.slot[k] = -1
			for j, have := range r.cols {
				if have == col {
					r.slot[k] = j
				}
			}
			if r.slot[k] < 0 {
				r.slot[k] = len(r.cols)
				r.cols = append(r.cols, col)
				counts := make([]int, len(col.values)+1)
				for i, tasks := range r.groupOf {
					counts[col.ids[i]] += tasks
				}
				r.counts = append(r.counts, counts)
			}
		default:
			if k < r.randomAt {
				r.slot[k] = r.nKeys
				r.nKeys++
			}
		}
	}

	var res Result
	if req.Targets != nil {
		return r.placeTargets(), nil
	}
	if !linear {
		r.cellOf = make([]int32, n)
		r.pos = make([]int32, n)
	}
	cellIdx := map[[MaxStrategies]int32]int32{}
	for i := range s.insts {
		if f, d := r.check(i); f != filterNone {
			r.rej[i] = rejection{f, d}
			continue
		}
		res.Candidates++
		if linear {
			continue
		}
		var ck [MaxStrategies]int32
		for j, col := range r.cols {
			ck[j] = col.ids[i]
		}
		ci, ok := cellIdx[ck]
		if !ok {
			ci = int32(len(r.cells))
			cellIdx[ck] = ci
			r.cells = append(r.cells, &cell{vals: append([]int32(nil), ck[:len(r.cols)]...)})
		}
		cl := r.cells[ci]
		r.cellOf[i] = ci
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

// check runs the filters on instance i with the tasks planned on it.
func (r *run) check(i int) (Filter, string) {
	in := &r.s.insts[i]
	req := r.req
	if in.Status != StatusActive {
		return FilterStatus, in.Status
	}
	if !in.Connected {
		return FilterAgent, ""
	}
	if req.CapacityProvider != "" && in.CapacityProvider != req.CapacityProvider {
		return FilterCapacityProvider, in.CapacityProvider
	}
	for _, a := range req.Requires {
		v, ok := in.Attributes[a.Name]
		if !ok || (a.Value != nil && *a.Value != v) {
			return FilterAttributes, a.Name
		}
	}
	for k, res := range r.static {
		if !res[i] {
			return FilterMemberOf, r.c.memberOf[k].String()
		}
	}
	p := int64(r.planned[i])
	if (p+1)*req.CPU > in.CPU-in.UsedCPU {
		return FilterCPU, ""
	}
	if (p+1)*req.Memory > in.Memory-in.UsedMemory {
		return FilterMemory, ""
	}
	for _, port := range req.Ports {
		if p > 0 || in.Ports[port] {
			return FilterPorts, itoa(port)
		}
	}
	for _, port := range req.PortsUDP {
		if p > 0 || in.PortsUDP[port] {
			return FilterPortsUDP, itoa(port)
		}
	}
	if req.Awsvpc {
		if in.AwsvpcSlots < 0 {
			return FilterAwsvpc, AwsvpcNetworkAttribute
		}
		if int64(in.AwsvpcSlots) <= p {
			return FilterENI, ""
		}
	}
	if r.c.distinct && r.groupTasks(i) > 0 {
		return FilterDistinctInstance, ""
	}
	for _, e := range r.c.dynamic {
		if !e.Eval(view{s: r.s, i: i, planned: int(p), group: req.Group}) {
			return FilterMemberOf, e.String()
		}
	}
	return filterNone, ""
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
	f, d := r.check(i)
	if f != filterNone {
		r.rej[i] = rejection{f, d}
	}
	if linear {
		return
	}
	cl := r.cells[r.cellOf[i]]
	if f != filterNone {
		r.remove(cl, int(r.pos[i]))
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
