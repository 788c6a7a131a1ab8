package scheduler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// TestSetAndRemoveKeepIndexes changes a long-lived snapshot one instance at
// a time (new instances, changed attributes, usage and groups, removals)
// and checks after every step that it places exactly as a snapshot built
// from scratch over the same instances: the incremental indexes (groups,
// spread columns, static memberOf results) never go stale.
func TestSetAndRemoveKeepIndexes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	base := cluster(40, rng)
	s := NewSnapshot(slices.Clone(base))
	reqs := []Request{
		{Count: 7, CPU: 100, Memory: 200, Group: "g1", Strategies: []Strategy{{"spread", "attribute:ecs.availability-zone"}, {"binpack", "memory"}},
			Constraints: []Constraint{{"memberOf", "attribute:ecs.instance-type != g4dn.xlarge and agentConnected == true"}}},
		{Count: 3, CPU: 50, Memory: 50, Group: "g2", Strategies: []Strategy{{"spread", "attribute:rack"}, {"spread", "instanceId"}},
			Constraints: []Constraint{{"distinctInstance", ""}}},
		{Count: 1, CPU: 10, Memory: 10, Group: "g1", Constraints: []Constraint{{"memberOf", "attribute:rack exists"}}},
	}
	// Warm the caches the updates must keep current.
	for _, req := range reqs {
		mustPlace(t, s, req)
	}
	next := len(base)
	for step := range 300 {
		switch op := rng.IntN(10); {
		case op < 2: // a new instance
			in := cluster(1, rng)[0]
			in.ID, in.ARN = fmt.Sprintf("n%04d", next), fmt.Sprintf("arn:n%04d", next)
			next++
			if rng.IntN(2) == 0 {
				in.Attributes["rack"] = fmt.Sprintf("r%d", rng.IntN(5))
			}
			s.Set(in)
		case op < 4 && s.Len() > 1: // a removal
			s.Remove(s.insts[rng.IntN(s.Len())].ID)
		default: // a change
			in := s.insts[rng.IntN(s.Len())]
			in.Attributes = cloneAttrs(in.Attributes)
			switch rng.IntN(5) {
			case 0:
				in.Attributes["rack"] = fmt.Sprintf("r%d", rng.IntN(8)) // new values too
			case 1:
				in.Attributes["ecs.instance-type"] = types[rng.IntN(len(types))]
			case 2:
				in.Connected = !in.Connected
			case 3:
				in.UsedCPU, in.UsedMemory = int64(rng.IntN(int(in.CPU))), int64(rng.IntN(int(in.Memory)))
			case 4:
				in.Groups = map[string]int{"g1": rng.IntN(3), "g2": rng.IntN(2)}
			}
			s.Set(in)
		}
		fresh := NewSnapshot(slices.Clone(s.insts))
		for k, req := range reqs {
			req.Seed = uint64(step)
			got, want := mustPlace(t, s, req), mustPlace(t, fresh, req)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d request %d: incremental snapshot placed %v (%s), a fresh one %v (%s)",
					step, k, got.Placements, got.Explanation(s.Len()), want.Placements, want.Explanation(fresh.Len()))
			}
		}
		if !reflect.DeepEqual(s.groups, fresh.groups) {
			t.Fatalf("step %d: group index %v, fresh %v", step, s.groups, fresh.groups)
		}
	}
}

func cloneAttrs(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
