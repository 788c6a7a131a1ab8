package scheduler

import (
	"math/rand/v2"
	"testing"
)

// fitsPlain is the resource check, written independently of the scheduler.
func fitsPlain(in Instance, req Request) bool {
	return in.Status == StatusActive && in.Connected &&
		in.CPU-in.UsedCPU >= req.CPU && in.Memory-in.UsedMemory >= req.Memory
}

func TestPropertyBinpackNeverWorse(t *testing.T) {
	t.Parallel()
	for iter := range 50 {
		rng := rand.New(rand.NewPCG(uint64(iter), 1))
		s := NewSnapshot(cluster(5+rng.IntN(100), rng))
		field := []string{"cpu", "memory"}[iter%2]
		req := Request{Count: 1, CPU: int64(1 + rng.IntN(300)), Memory: int64(1 + rng.IntN(600)), Strategies: []Strategy{{"binpack", field}}}
		for step := range 200 {
			req.Seed = uint64(step)
			res := mustPlace(t, s, req)
			if len(res.Placements) == 0 {
				break
			}
			chosen, _ := s.Instance(res.Placements[0])
			remaining := func(in Instance) int64 {
				if field == "cpu" {
					return in.CPU - in.UsedCPU
				}
				return in.Memory - in.UsedMemory
			}
			for _, in := range s.insts {
				if fitsPlain(in, req) && remaining(in) < remaining(chosen) {
					t.Fatalf("iter %d step %d: chose %s with %d %s remaining, %s has %d", iter, step, chosen.ID, remaining(chosen), field, in.ID, remaining(in))
				}
			}
			s.Commit(req, res.Placements)
		}
	}
}

func TestPropertySpreadBalanced(t *testing.T) {
	t.Parallel()
	for iter := range 50 {
		rng := rand.New(rand.NewPCG(uint64(iter), 2))
		s := NewSnapshot(cluster(3+rng.IntN(60), rng))
		req := Request{Count: 1 + rng.IntN(200), CPU: int64(rng.IntN(200)), Memory: int64(rng.IntN(400)), Group: "service:web", Seed: uint64(iter),
			Strategies: []Strategy{{"spread", "attribute:ecs.availability-zone"}, {"binpack", "memory"}}}
		// Task by task: the chosen AZ never has more of the group than an
		// AZ that still had room.
		counts := map[string]int{}
		for step := range req.Count {
			one := req
			one.Count, one.Seed = 1, uint64(step)
			res := mustPlace(t, s, one)
			if len(res.Placements) == 0 {
				break
			}
			chosen, _ := s.Instance(res.Placements[0])
			az := chosen.Attributes["ecs.availability-zone"]
			for _, in := range s.insts {
				other := in.Attributes["ecs.availability-zone"]
				if fitsPlain(in, one) && counts[other] < counts[az] {
					t.Fatalf("iter %d: chose %s (%d tasks) while %s (%d tasks) had room", iter, az, counts[az], other, counts[other])
				}
			}
			counts[az]++
			s.Commit(one, res.Placements)
		}
		// One request of many tasks on a roomy cluster: within 1.
		roomy := NewSnapshot(cluster(3*(1+rng.IntN(20)), nil))
		res := mustPlace(t, roomy, Request{Count: 1 + rng.IntN(60), Memory: 10, Group: "g", Strategies: []Strategy{{"spread", "attribute:ecs.availability-zone"}}})
		lo, hi := 1<<30, 0
		for _, az := range azs {
			n := countBy(roomy, res.Placements, "ecs.availability-zone")[az]
			lo, hi = min(lo, n), max(hi, n)
		}
		if hi-lo > 1 {
			t.Errorf("iter %d: per-AZ counts range %d..%d", iter, lo, hi)
		}
	}
}

func TestPropertyDistinctInstanceAndNoOvercommit(t *testing.T) {
	t.Parallel()
	strategies := [][]Strategy{nil, {{"random", ""}}, {{"binpack", "cpu"}}, {{"spread", "attribute:ecs.availability-zone"}, {"random", ""}}, {{"spread", "host"}}}
	for iter := range 100 {
		rng := rand.New(rand.NewPCG(uint64(iter), 3))
		insts := cluster(1+rng.IntN(40), rng)
		for i := range insts {
			if rng.IntN(4) == 0 {
				insts[i].Groups = map[string]int{"g": 1}
			}
		}
		s := NewSnapshot(insts)
		for r := range 10 {
			req := Request{Count: 1 + rng.IntN(20), CPU: int64(rng.IntN(1500)), Memory: int64(rng.IntN(3000)), Group: "g", Seed: uint64(r),
				Strategies: strategies[rng.IntN(len(strategies))]}
			distinct := rng.IntN(2) == 0
			if distinct {
				req.Constraints = []Constraint{{Type: "distinctInstance"}}
			}
			res := mustPlace(t, s, req)
			if distinct {
				seen := map[string]bool{}
				for _, id := range res.Placements {
					in, _ := s.Instance(id)
					if seen[id] || in.Groups["g"] > 0 {
						t.Fatalf("iter %d: distinctInstance broken on %s", iter, id)
					}
					seen[id] = true
				}
			}
			s.Commit(req, res.Placements)
			for _, in := range s.insts {
				if in.UsedCPU > in.CPU || in.UsedMemory > in.Memory {
					t.Fatalf("iter %d: %s over-committed: cpu %d/%d memory %d/%d", iter, in.ID, in.UsedCPU, in.CPU, in.UsedMemory, in.Memory)
				}
			}
			if len(res.Placements) < req.Count && len(res.Failures) == 0 {
				t.Fatalf("iter %d: %d of %d placed but no failures", iter, len(res.Placements), req.Count)
			}
		}
	}
}
