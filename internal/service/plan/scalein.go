package plan

import (
	"cmp"
	"hash/fnv"
	"slices"
	"strings"
)

// Choosing the tasks to stop (ECS-SEMANTICS.md §3.13, scale-in as the mirror
// image of placement). The next task to stop is the best one by, in order:
//
//  1. unprotected before protected (protected ones are then held, not
//     stopped);
//  2. not healthy (pending, unhealthy, stopping) before healthy: stopping
//     them costs no healthy capacity;
//  3. the placement strategies, lexicographically, each scoring what
//     removing the task leaves:
//     - spread(field): the task whose field value (its instance for
//     instanceId/host, an attribute's value otherwise, "" when the
//     instance lacks it) has the most remaining tasks, so the values
//     stay balanced;
//     - binpack(cpu|memory): the task whose instance will have the most of
//     that resource remaining after it stops;
//     - random: a hash of the task id (the planner reads no randomness,
//     so the same input stops the same tasks);
//  4. newest first, then id.
//
// The choice is greedy: each stop updates the counts and remaining
// resources the next choice reads.

type strategyKind uint8

const (
	spreadInstance strategyKind = iota
	spreadAttribute
	binpackCPU
	binpackMemory
	randomOrder
)

type strategy struct {
	kind strategyKind
	attr string // spreadAttribute
}

// strategies compiles the service's placement strategies (the default for
// a REPLICA service without any). Entries the API would have rejected are
// skipped; strategies after a random one cannot break ties and are dropped.
func (r *reconciler) strategies() []strategy {
	pss := r.svc.PlacementStrategies
	if len(pss) == 0 && r.svc.Strategy != Daemon {
		pss = DefaultStrategies
	}
	var out []strategy
	for _, ps := range pss {
		switch ps.Type {
		case "spread":
			switch {
			case ps.Field == "instanceId" || ps.Field == "host":
				out = append(out, strategy{kind: spreadInstance})
			case strings.HasPrefix(ps.Field, "attribute:") && len(ps.Field) > len("attribute:"):
				out = append(out, strategy{kind: spreadAttribute, attr: strings.TrimPrefix(ps.Field, "attribute:")})
			}
		case "binpack":
			switch strings.ToLower(ps.Field) {
			case "cpu":
				out = append(out, strategy{kind: binpackCPU})
			case "memory":
				out = append(out, strategy{kind: binpackMemory})
			}
		case "random":
			return append(out, strategy{kind: randomOrder})
		}
	}
	return out
}

// scaleIn is the distribution of a set of remaining tasks over the values
// each strategy reads.
type scaleIn struct {
	r          *reconciler
	strategies []strategy
	instances  map[string]Instance
	counts     []map[string]int // per spread strategy: value -> remaining tasks
	freeCPU    map[string]int64 // instance -> remaining CPU
	freeMemory map[string]int64
}

// newScaleIn starts from remaining, the tasks whose spread counts: the
// service's tasks that stay when nothing is stopped.
func (r *reconciler) newScaleIn(remaining []Task) *scaleIn {
	s := &scaleIn{r: r, strategies: r.strategies(), instances: map[string]Instance{},
		freeCPU: map[string]int64{}, freeMemory: map[string]int64{}}
	for _, in := range r.in.Instances {
		s.instances[in.ID] = in
		s.freeCPU[in.ID], s.freeMemory[in.ID] = in.RemainingCPU, in.RemainingMemory
	}
	s.counts = make([]map[string]int, len(s.strategies))
	for k, st := range s.strategies {
		if st.kind == spreadInstance || st.kind == spreadAttribute {
			s.counts[k] = map[string]int{}
		}
	}
	for _, t := range remaining {
		s.add(t, 1)
	}
	return s
}

// value is what spread strategy k reads of task t.
func (s *scaleIn) value(k int, t Task) string {
	if s.strategies[k].kind == spreadInstance {
		return t.InstanceID
	}
	return s.instances[t.InstanceID].Attributes[s.strategies[k].attr]
}

func (s *scaleIn) add(t Task, n int) {
	for k := range s.strategies {
		if s.counts[k] != nil {
			s.counts[k][s.value(k, t)] += n
		}
	}
}

// remove records that t stops: its values lose a task and its instance
// gains what it reserved.
func (s *scaleIn) remove(t Task) {
	if s == nil {
		return
	}
	s.add(t, -1)
	s.freeCPU[t.InstanceID] += t.CPU
	s.freeMemory[t.InstanceID] += t.Memory
}

// score is strategy k's score for stopping t now; lower stops first.
func (s *scaleIn) score(k int, t Task) int64 {
	switch s.strategies[k].kind {
	case binpackCPU:
		return -(s.freeCPU[t.InstanceID] + t.CPU)
	case binpackMemory:
		return -(s.freeMemory[t.InstanceID] + t.Memory)
	case randomOrder:
		h := fnv.New64a()
		h.Write([]byte(t.ID))
		return int64(h.Sum64() >> 1)
	default:
		return -int64(s.counts[k][s.value(k, t)])
	}
}

// compare orders two candidates: negative when a should stop before b.
func (s *scaleIn) compare(a, b Task) int {
	if c := s.r.priority(a, b); c != 0 {
		return c
	}
	for k := range s.strategies {
		if c := cmp.Compare(s.score(k, a), s.score(k, b)); c != 0 {
			return c
		}
	}
	return newestFirst(a, b)
}

// best is the index of the candidate to stop next.
func (s *scaleIn) best(cands []Task) int {
	bi := 0
	for i := 1; i < len(cands); i++ {
		if s.compare(cands[i], cands[bi]) < 0 {
			bi = i
		}
	}
	return bi
}

// priority orders what comes before the strategies: unprotected before
// protected (as ECS chooses tasks on scale-in), then not healthy before
// healthy.
func (r *reconciler) priority(a, b Task) int {
	return cmp.Or(falseFirst(r.protected(a), r.protected(b)), falseFirst(Healthy(a), Healthy(b)))
}

// falseFirst orders false before true.
func falseFirst(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// newestFirst is the last tie-break: newest first, then by id.
func newestFirst(a, b Task) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// take removes the candidate to stop next from *cands and returns it (the
// first one for a nil s: cands are in order already).
func (s *scaleIn) take(cands *[]Task) Task {
	i := 0
	if s != nil {
		i = s.best(*cands)
	}
	t := (*cands)[i]
	*cands = slices.Delete(*cands, i, i+1)
	return t
}
