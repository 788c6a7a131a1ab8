package scheduler

// pick returns the best candidate by the request's strategies, or -1.
// Every heap holds only feasible instances, so the top of each cell is its
// best; cells are compared by their top's full score.
func (r *run) pick() int {
	var (
		best  *cell
		bestV vec
	)
	random := r.randomAt < len(r.c.strategies)
	r.tied = r.tied[:0]
	for _, cl := range r.cells {
		if len(cl.h) == 0 {
			continue
		}
		top := int(cl.h[0].i)
		v := r.vector(top)
		if best == nil {
			best, bestV = cl, v
			r.tied = append(r.tied, cl)
			continue
		}
		if random {
			switch compareVec(&v, &bestV, r.randomAt) {
			case -1:
				best, bestV = cl, v
				r.tied = append(r.tied[:0], cl)
			case 0:
				r.tied = append(r.tied, cl)
			}
			continue
		}
		if r.better(top, &v, int(best.h[0].i), &bestV) {
			best, bestV = cl, v
		}
	}
	if best == nil {
		return -1
	}
	if !random {
		return int(best.h[0].i)
	}
	return r.pickRandom()
}

// pickRandom chooses uniformly among the candidates of the tied cells whose
// instance-level scores before the random strategy equal their top's.
func (r *run) pickRandom() int {
	if r.nKeys == 0 {
		// Every candidate of a tied cell ties: sample the heaps directly.
		total := 0
		for _, cl := range r.tied {
			total += len(cl.h)
		}
		n := r.rng.IntN(total)
		for _, cl := range r.tied {
			if n < len(cl.h) {
				return int(cl.h[n].i)
			}
			n -= len(cl.h)
		}
	}
	r.cands = r.cands[:0]
	for _, cl := range r.tied {
		r.collect(cl, 0, &cl.h[0].key)
	}
	return int(r.cands[r.rng.IntN(len(r.cands))])
}

// collect appends the entries of cl's heap below k whose first nKeys scores
// equal top: they form a subtree containing the root.
func (r *run) collect(cl *cell, k int, top *vec) {
	if k >= len(cl.h) || compareVec(&cl.h[k].key, top, r.nKeys) != 0 {
		return
	}
	r.cands = append(r.cands, cl.h[k].i)
	r.collect(cl, 2*k+1, top)
	r.collect(cl, 2*k+2, top)
}

// pickLinear is pick by scanning every candidate.
func (r *run) pickLinear() int {
	best := -1
	var bestV vec
	random := r.randomAt < len(r.c.strategies)
	ties := 0
	for i := range r.s.insts {
		if r.rej[i] != filterNone {
			continue
		}
		v := r.vector(i)
		if best < 0 {
			best, bestV, ties = i, v, 1
			continue
		}
		if random {
			switch compareVec(&v, &bestV, r.randomAt) {
			case -1:
				best, bestV, ties = i, v, 1
			case 0:
				// Reservoir sampling: uniform among the ties.
				ties++
				if r.rng.IntN(ties) == 0 {
					best = i
				}
			}
			continue
		}
		if r.better(i, &v, best, &bestV) {
			best, bestV = i, v
		}
	}
	return best
}

// Heap operations; pos tracks where each instance sits.

func (r *run) less(a, b *entry) bool {
	if c := compareVec(&a.key, &b.key, r.nKeys); c != 0 {
		return c < 0
	}
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.i < b.i
}

func (r *run) swap(cl *cell, a, b int) {
	cl.h[a], cl.h[b] = cl.h[b], cl.h[a]
	r.pos[cl.h[a].i] = int32(a)
	r.pos[cl.h[b].i] = int32(b)
}

func (r *run) up(cl *cell, k int) {
	for k > 0 {
		p := (k - 1) / 2
		if !r.less(&cl.h[k], &cl.h[p]) {
			return
		}
		r.swap(cl, k, p)
		k = p
	}
}

func (r *run) down(cl *cell, k int) {
	n := len(cl.h)
	for {
		m := k
		if l := 2*k + 1; l < n && r.less(&cl.h[l], &cl.h[m]) {
			m = l
		}
		if rt := 2*k + 2; rt < n && r.less(&cl.h[rt], &cl.h[m]) {
			m = rt
		}
		if m == k {
			return
		}
		r.swap(cl, k, m)
		k = m
	}
}

func (r *run) fix(cl *cell, k int) {
	i := cl.h[k].i
	r.up(cl, k)
	r.down(cl, int(r.pos[i]))
}

func (r *run) remove(cl *cell, k int) {
	last := len(cl.h) - 1
	if k != last {
		r.swap(cl, k, last)
	}
	cl.h = cl.h[:last]
	if k < last {
		r.fix(cl, k)
	}
}
