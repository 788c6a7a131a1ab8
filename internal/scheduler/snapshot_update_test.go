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

// TestKeptIndexMatchesLinear places request after request of a few shapes
// on one long-lived snapshot — committing them, and changing, adding and
// removing instances in between — and checks that every placement through
// the kept indexes equals a scan of every instance (PlaceLinear):
// placements, candidates, explanation and failures.
func TestKeptIndexMatchesLinear(t *testing.T) {
	t.Parallel()
	strategies := [][]Strategy{
		{{"spread", "attribute:ecs.availability-zone"}, {"binpack", "memory"}},
		{{"binpack", "cpu"}},
		{{"spread", "instanceId"}},
		{{"spread", "attribute:rack"}, {"spread", "attribute:ecs.availability-zone"}, {"binpack", "cpu"}},
		nil,
	}
	constraints := [][]Constraint{
		nil,
		{{"memberOf", "attribute:ecs.instance-type != c5.xlarge"}},
		{{"memberOf", "runningTasksCount < 6"}},
		{{"distinctInstance", ""}},
		{{"memberOf", "not(task:group == g2)"}, {"memberOf", "agentConnected == true"}},
	}
	for iter := range 40 {
		rng := rand.New(rand.NewPCG(uint64(iter), 11))
		insts := cluster(5+rng.IntN(80), rng)
		for i := range insts {
			if rng.IntN(2) == 0 {
				insts[i].Attributes["rack"] = fmt.Sprint(rng.IntN(3))
			}
		}
		s := NewSnapshot(insts)
		var shapes []Request
		for range 3 {
			shapes = append(shapes, Request{CPU: int64(20 + rng.IntN(400)), Memory: int64(20 + rng.IntN(900)),
				Group: []string{"g1", "g2"}[rng.IntN(2)], Strategies: strategies[rng.IntN(len(strategies))],
				Constraints: constraints[rng.IntN(len(constraints))]})
		}
		next := 0
		for step := range 60 {
			req := shapes[rng.IntN(len(shapes))]
			req.Count, req.Seed = 1+rng.IntN(6), rng.Uint64()
			linear, err := s.PlaceLinear(req)
			if err != nil {
				t.Fatal(err)
			}
			kept := mustPlace(t, s, req)
			if !slices.Equal(kept.Placements, linear.Placements) || kept.Candidates != linear.Candidates ||
				fmt.Sprint(kept.Failures) != fmt.Sprint(linear.Failures) || fmt.Sprint(kept.Explain) != fmt.Sprint(linear.Explain) {
				t.Fatalf("iteration %d step %d, %+v:\nkept   %v %d %v %v\nlinear %v %d %v %v", iter, step, req,
					kept.Placements, kept.Candidates, kept.Explain, kept.Failures, linear.Placements, linear.Candidates, linear.Explain, linear.Failures)
			}
			if rng.IntN(4) > 0 {
				s.Commit(req, kept.Placements)
			}
			switch rng.IntN(8) {
			case 0:
				in := cluster(1, rng)[0]
				in.ID = fmt.Sprintf("n%03d", next)
				next++
				if rng.IntN(2) == 0 {
					in.Attributes["rack"] = fmt.Sprint(rng.IntN(5)) // sometimes a new value
				}
				s.Set(in)
			case 1:
				if s.Len() > 1 {
					s.Remove(s.insts[rng.IntN(s.Len())].ID)
				}
			case 2, 3:
				in := s.insts[rng.IntN(s.Len())]
				in.Attributes = cloneAttrs(in.Attributes)
				in.Groups = map[string]int{"g1": rng.IntN(2), "g2": rng.IntN(2)}
				in.UsedCPU, in.UsedMemory = int64(rng.IntN(int(in.CPU))), int64(rng.IntN(int(in.Memory)))
				in.Connected = rng.IntN(5) > 0
				if rng.IntN(3) == 0 {
					in.Status = "DRAINING"
				} else {
					in.Status = StatusActive
				}
				s.Set(in)
			}
		}
	}
}

// TestCommitPending: pending tasks take their resources, ports and group
// places but do not count as running (runningTasksCount counts RUNNING
// tasks, as the store's view does).
func TestCommitPending(t *testing.T) {
	t.Parallel()
	s := NewSnapshot(cluster(1, nil))
	req := Request{Count: 1, CPU: 100, Memory: 200, Ports: []int32{8080}, Group: "g"}
	s.CommitPending(req, []string{"i0000"})
	in, _ := s.Instance("i0000")
	if in.UsedCPU != 100 || in.UsedMemory != 200 || !in.Ports[8080] || in.Groups["g"] != 1 || in.RunningTasks != 0 {
		t.Fatalf("after CommitPending: %+v", in)
	}
	res := mustPlace(t, s, Request{Count: 1, Constraints: []Constraint{{"memberOf", "runningTasksCount == 0"}}})
	if len(res.Placements) != 1 {
		t.Fatalf("a pending task counted as running: %s", res.Explanation(1))
	}
	s.Commit(req, nil)
	s.Commit(Request{Count: 1}, []string{"i0000"})
	if in, _ := s.Instance("i0000"); in.RunningTasks != 1 {
		t.Fatalf("Commit: running %d, want 1", in.RunningTasks)
	}
}
