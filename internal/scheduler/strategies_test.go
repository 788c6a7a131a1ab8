package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBinpack(t *testing.T) {
	t.Parallel()
	insts := cluster(4, nil)
	insts[0].UsedMemory = 1000
	insts[1].UsedMemory = 7000 // least remaining that still fits
	insts[2].UsedMemory = 8000 // does not fit 512
	insts[3].UsedMemory = 3000
	s := NewSnapshot(insts)
	res := mustPlace(t, s, Request{Count: 3, Memory: 512, Strategies: []Strategy{{"binpack", "memory"}}})
	if want := []string{"i0001", "i0001", "i0003"}; !slices.Equal(res.Placements, want) {
		t.Errorf("placements = %v, want %v", res.Placements, want)
	}
	res = mustPlace(t, s, Request{Count: 1, CPU: 100, Strategies: []Strategy{{"binpack", "cpu"}}})
	if len(res.Placements) != 1 {
		t.Fatalf("no placement")
	}
}

func TestSpreadAZThenBinpack(t *testing.T) {
	t.Parallel()
	insts := cluster(6, nil) // AZs a b c a b c
	insts[3].UsedMemory = 4000
	insts[4].UsedMemory = 4000
	insts[5].UsedMemory = 4000
	insts[0].Groups = map[string]int{"service:web": 2} // AZ a already has two
	s := NewSnapshot(insts)
	res := mustPlace(t, s, Request{Count: 4, Memory: 512, Group: "service:web",
		Strategies: []Strategy{{"spread", "attribute:ecs.availability-zone"}, {"binpack", "memory"}}})
	// b and c first (packed onto the fuller instances 4 and 5), then both
	// again, since a holds two.
	want := map[string]int{"i0004": 2, "i0005": 2}
	got := map[string]int{}
	for _, id := range res.Placements {
		got[id]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("placements = %v, want %v", res.Placements, want)
	}
}

func TestSpreadInstance(t *testing.T) {
	t.Parallel()
	s := NewSnapshot(cluster(5, nil))
	res := mustPlace(t, s, Request{Count: 12, Group: "g", Strategies: []Strategy{{"spread", "instanceId"}}})
	per := map[string]int{}
	for _, id := range res.Placements {
		per[id]++
	}
	for id, n := range per {
		if n < 2 || n > 3 {
			t.Errorf("%s has %d tasks, want 2 or 3: %v", id, n, per)
		}
	}
}

func TestRandomIsSeeded(t *testing.T) {
	t.Parallel()
	s := NewSnapshot(cluster(50, nil))
	req := Request{Count: 20, Strategies: []Strategy{{"random", ""}}, Seed: 42}
	a, b := mustPlace(t, s, req), mustPlace(t, s, req)
	if !slices.Equal(a.Placements, b.Placements) {
		t.Errorf("same seed, different placements")
	}
	req.Seed = 43
	c := mustPlace(t, s, req)
	if slices.Equal(a.Placements, c.Placements) {
		t.Errorf("different seeds, same placements")
	}
	distinct := map[string]bool{}
	for _, id := range a.Placements {
		distinct[id] = true
	}
	if len(distinct) < 10 {
		t.Errorf("random placed 20 tasks on %d instances", len(distinct))
	}
}

func TestRandomUniform(t *testing.T) {
	t.Parallel()
	// Behind a spread on AZ, random picks evenly within the chosen AZ.
	s := NewSnapshot(cluster(6, nil))
	hits := map[string]int{}
	for seed := range uint64(3000) {
		res := mustPlace(t, s, Request{Count: 1, Seed: seed, Strategies: []Strategy{{"spread", "attribute:ecs.availability-zone"}, {"random", ""}}})
		hits[res.Placements[0]]++
	}
	for id, n := range hits {
		if n < 350 || n > 650 {
			t.Errorf("%s chosen %d times of 3000, want about 500: %v", id, n, hits)
		}
	}
	if len(hits) != 6 {
		t.Errorf("not every instance chosen: %v", hits)
	}
}

// TestIndexedMatchesLinear places random requests on random clusters with
// both algorithms: without a random strategy they must agree exactly.
func TestIndexedMatchesLinear(t *testing.T) {
	t.Parallel()
	strategies := []Strategy{
		{"binpack", "cpu"}, {"binpack", "memory"}, {"spread", "instanceId"},
		{"spread", "attribute:ecs.availability-zone"}, {"spread", "attribute:ecs.instance-type"},
		{"spread", "attribute:rack"},
	}
	exprs := []string{"", "attribute:ecs.instance-type != c5.xlarge", "runningTasksCount < 4", "not(task:group == g1)"}
	for iter := range 300 {
		rng := rand.New(rand.NewPCG(uint64(iter), 7))
		insts := cluster(1+rng.IntN(60), rng)
		for i := range insts {
			if rng.IntN(3) == 0 {
				insts[i].Attributes["rack"] = fmt.Sprint(rng.IntN(4))
			}
			insts[i].Groups = map[string]int{"g1": rng.IntN(2), "g2": rng.IntN(3)}
			insts[i].RunningTasks = insts[i].Groups["g1"] + insts[i].Groups["g2"]
		}
		req := Request{Count: 1 + rng.IntN(40), CPU: int64(rng.IntN(600)), Memory: int64(rng.IntN(1200)), Group: []string{"g1", "g2", "g3"}[rng.IntN(3)], Seed: rng.Uint64()}
		for range rng.IntN(4) {
			req.Strategies = append(req.Strategies, strategies[rng.IntN(len(strategies))])
		}
		if e := exprs[rng.IntN(len(exprs))]; e != "" {
			req.Constraints = append(req.Constraints, Constraint{"memberOf", e})
		}
		if rng.IntN(4) == 0 {
			req.Constraints = append(req.Constraints, Constraint{Type: "distinctInstance"})
		}
		s := NewSnapshot(insts)
		a := mustPlace(t, s, req)
		b, err := s.PlaceLinear(req)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Placements, b.Placements) || fmt.Sprint(a.Failures) != fmt.Sprint(b.Failures) || fmt.Sprint(a.Explain) != fmt.Sprint(b.Explain) {
			t.Fatalf("iteration %d, %+v:\nindexed %v %v\nlinear  %v %v", iter, req, a.Placements, a.Explain, b.Placements, b.Explain)
		}
	}
}

func TestInOrderIsFirstFit(t *testing.T) {
	t.Parallel()
	s := NewSnapshot(cluster(3, nil))
	res := mustPlace(t, s, Request{Count: 5, CPU: 1500, InOrder: true})
	if want := []string{"i0000", "i0000", "i0001", "i0001", "i0002"}; !slices.Equal(res.Placements, want) {
		t.Errorf("placements = %v, want %v", res.Placements, want)
	}
}
