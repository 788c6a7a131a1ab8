package scheduler

import (
	"fmt"
	"strings"
)

// Kept request indexes. Building a request's index (filters on every
// instance, heaps per cell) costs about two scans of the cluster, as much
// as placing one task by scanning; a cluster places the same shapes of
// request again and again (a service's tasks, a family's RunTask calls).
// So the snapshot keeps the index of each request shape it saw — the
// filter verdict of every instance and the cells' heaps, at the
// snapshot's version — and the next request of that shape brings it up to
// date with only the instances changed since (Set, Commit) and the ones
// the previous request planned on, then places. A placement on 5,000
// instances then costs a few heap operations instead of a scan.
//
// A kept index orders each heap by the instance-level scores and a
// request-independent rank; the request's seeded tie-break is applied
// among the candidates that tie on every score, which the heaps hand out
// as a subtree. The result is the same as PlaceLinear's.

// maxKeptRuns bounds the kept indexes of a snapshot.
const maxKeptRuns = 32

// filterUnset marks an instance a kept index has not checked yet.
const filterUnset = numFilters

// shapeKey is everything of a request except Count, Seed and Targets:
// requests of one shape share a kept index.
func shapeKey(req *Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d|%d|%v|%v|%t|%q|%q|%q|", req.CPU, req.Memory, req.Ports, req.PortsUDP, req.Awsvpc, req.Subnets, req.Group, req.CapacityProvider)
	for _, a := range req.Requires {
		if a.Value != nil {
			fmt.Fprintf(&b, "r%q=%q|", a.Name, *a.Value)
		} else {
			fmt.Fprintf(&b, "r%q|", a.Name)
		}
	}
	for _, c := range req.Constraints {
		fmt.Fprintf(&b, "c%q%q|", c.Type, c.Expression)
	}
	for _, st := range req.Strategies {
		fmt.Fprintf(&b, "s%q%q|", st.Type, st.Field)
	}
	return b.String()
}

// version is the snapshot's change count. s.mu is held.
func (s *Snapshot) version() uint64 { return s.logBase + uint64(len(s.log)) }

// placeKept places req through the kept index of its shape. The request
// has no random strategy, no targets and no InOrder.
func (s *Snapshot) placeKept(req *Request, c *compiled) Result {
	key := shapeKey(req)
	s.mu.Lock()
	r := s.runs[key]
	delete(s.runs, key)
	s.mu.Unlock()
	if r == nil || !r.catchUp(req, c) {
		r = s.newKeptRun(req, c)
	}
	res := r.placeKeptCount()
	s.mu.Lock()
	if len(s.runs) >= maxKeptRuns {
		for k := range s.runs {
			delete(s.runs, k)
			break
		}
	}
	s.runs[key] = r
	s.mu.Unlock()
	return res
}

// prepare sets the request-dependent parts of a run: the request, its
// static memberOf results, its group's index and spread counts.
func (r *run) prepare(req *Request, c *compiled) {
	s := r.s
	r.req, r.c = req, c
	r.groupOf = s.groups[req.Group]
	r.static = r.static[:0]
	for _, e := range c.memberOf {
		r.static = append(r.static, s.staticMemberOf(e))
	}
	for j, col := range r.cols {
		counts := r.counts[j][:0]
		counts = append(counts, make([]int, len(col.values)+1)...)
		copy(counts, s.groupCounts(req.Group, r.attrs[j]))
		r.counts[j] = counts
	}
}

// newKeptRun builds the index of req's shape from scratch.
func (s *Snapshot) newKeptRun(req *Request, c *compiled) *run {
	n := len(s.insts)
	r := &run{s: s, kept: true}
	r.layout(c)
	r.prepare(req, c)
	for _, col := range r.cols {
		r.nvals = append(r.nvals, len(col.values))
	}
	r.cellIdx.init(r.cols)
	r.planned = make([]int32, n)
	r.rej = make([]Filter, n)
	r.cellOf = make([]int32, n)
	r.pos = make([]int32, n)
	r.inHeap = make([]bool, n)
	for i := range n {
		r.rej[i] = filterUnset
		if f := r.check(i); f != filterNone {
			r.setRej(i, f)
			continue
		}
		r.setRej(i, filterNone)
		r.insert(i)
	}
	for _, cl := range r.cells {
		for j := len(cl.h)/2 - 1; j >= 0; j-- {
			r.down(cl, j)
		}
	}
	s.mu.Lock()
	r.version = s.version()
	s.mu.Unlock()
	return r
}

// cellFor is instance i's cell, created when first seen.
func (r *run) cellFor(i int) *cell {
	ci := r.cellIdx.get(r.cols, i)
	if int(ci) == len(r.cells) {
		r.cells = append(r.cells, &cell{})
	}
	r.cellOf[i] = ci
	return r.cells[ci]
}

// catchUp brings a kept index to the snapshot's version for req: it
// re-checks the instances changed since and the ones the last request
// planned on. It reports false when the index must be rebuilt instead
// (instances removed, new spread values, changes no longer logged).
func (r *run) catchUp(req *Request, c *compiled) bool {
	s := r.s
	for j, col := range r.cols {
		if len(col.values) != r.nvals[j] {
			return false
		}
	}
	s.mu.Lock()
	if r.version < s.logBase || len(s.insts) < len(r.rej) {
		s.mu.Unlock()
		return false
	}
	changed := append([]int32(nil), s.log[r.version-s.logBase:]...)
	r.version = s.version()
	s.mu.Unlock()
	r.prepare(req, c)
	for n := len(r.rej); n < len(s.insts); n++ {
		r.planned = append(r.planned, 0)
		r.rej = append(r.rej, filterUnset)
		r.cellOf = append(r.cellOf, 0)
		r.pos = append(r.pos, 0)
		r.inHeap = append(r.inHeap, false)
		changed = append(changed, int32(n))
	}
	for _, i := range r.touched {
		r.planned[i] = 0
	}
	for _, i := range append(r.touched, changed...) {
		r.refresh(int(i))
	}
	r.touched = r.touched[:0]
	return true
}

// refresh re-checks instance i and puts it where it belongs.
func (r *run) refresh(i int) {
	if r.inHeap[i] {
		r.remove(r.cells[r.cellOf[i]], int(r.pos[i]))
		r.inHeap[i] = false
	}
	f := r.check(i)
	r.setRej(i, f)
	if f != filterNone {
		return
	}
	cl := r.insert(i)
	r.up(cl, len(cl.h)-1)
}

// insert appends feasible instance i to its cell's heap (not yet sifted).
func (r *run) insert(i int) *cell {
	cl := r.cellFor(i)
	r.pos[i] = int32(len(cl.h))
	cl.h = append(cl.h, r.entry(i))
	r.inHeap[i] = true
	return cl
}

// setRej records filter f's verdict on instance i, keeping the kept
// index's per-filter counts.
func (r *run) setRej(i int, f Filter) {
	if r.kept {
		if old := r.rej[i]; old != filterNone && old != filterUnset {
			r.removed[old]--
		}
		if f != filterNone {
			r.removed[f]++
		}
	}
	r.rej[i] = f
}

// placeKeptCount places the request's Count tasks on the caught-up index.
func (r *run) placeKeptCount() Result {
	var res Result
	for _, cl := range r.cells {
		res.Candidates += len(cl.h)
	}
	unplaced := 0
	for range r.req.Count {
		i := r.pickKept()
		if i < 0 {
			unplaced++
			continue
		}
		if r.planned[i] == 0 {
			r.touched = append(r.touched, int32(i))
		}
		res.Placements = append(res.Placements, r.s.insts[i].ID)
		r.book(i, false)
	}
	if unplaced > 0 {
		r.finish(&res, true, false)
		return res
	}
	for f := FilterStatus; f < numFilters; f++ {
		if r.removed[f] > 0 {
			res.Explain = append(res.Explain, Step{Filter: f, Removed: r.removed[f]})
		}
	}
	return res
}

// pickKept is pick on a kept index: the best score among the cells' tops,
// then the request's seeded tie-break among every candidate with that
// score.
func (r *run) pickKept() int {
	var bestV vec
	r.tied = r.tied[:0]
	for _, cl := range r.cells {
		if len(cl.h) == 0 {
			continue
		}
		v := r.vector(int(cl.h[0].i))
		if len(r.tied) == 0 {
			bestV = v
			r.tied = append(r.tied, cl)
			continue
		}
		switch compareVec(&v, &bestV, r.randomAt) {
		case -1:
			bestV = v
			r.tied = append(r.tied[:0], cl)
		case 0:
			r.tied = append(r.tied, cl)
		}
	}
	if len(r.tied) == 0 {
		return -1
	}
	r.cands = r.cands[:0]
	for _, cl := range r.tied {
		r.collect(cl, 0, &cl.h[0].key)
	}
	best, bestRank := -1, uint64(0)
	for _, c := range r.cands {
		i := int(c)
		if rk := r.rank(i); best < 0 || rk < bestRank || (rk == bestRank && i < best) {
			best, bestRank = i, rk
		}
	}
	return best
}
