package plan

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// fleet is a steady REPLICA service (one COMPLETED deployment, every task
// RUNNING for a while) on instances, for scale-in tests.
type fleet struct {
	now   time.Time
	svc   Service
	st    Status
	insts []Instance
	tasks []Task
}

func newFleet(strategies ...PlacementStrategy) *fleet {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	dep := DeploymentID(now.Add(-time.Hour))
	f := &fleet{now: now}
	f.svc = Service{Cluster: "c", Name: "web", Strategy: Replica, Status: "ACTIVE", DeploymentID: dep,
		TaskDefinition: "td:1", DeploymentCreatedAt: now.Add(-time.Hour), MinHealthyPercent: 0, MaxPercent: 200,
		PlacementStrategies: strategies}
	f.st = Status{Deployments: []Deployment{{ID: dep, Status: Primary, TaskDefinition: "td:1",
		CreatedAt: now.Add(-time.Hour), RolloutState: Completed}}}
	return f
}

// instance adds an instance in zone az with memory MiB remaining.
func (f *fleet) instance(id, az string, memory int64) {
	f.insts = append(f.insts, Instance{ID: id, Status: "ACTIVE", Connected: true,
		Attributes: map[string]string{"ecs.availability-zone": az}, RemainingCPU: 1024, RemainingMemory: memory})
}

// run adds n running tasks (64 MiB, 128 CPU units each) on instance id,
// each a minute newer than the last.
func (f *fleet) run(id string, n int) {
	for range n {
		i := len(f.tasks)
		f.tasks = append(f.tasks, Task{ID: fmt.Sprintf("t%02d", i), DeploymentID: f.svc.DeploymentID, InstanceID: id,
			LastStatus: TaskRunning, CreatedAt: f.now.Add(-time.Hour + time.Duration(i)*time.Minute),
			StartedAt: f.now.Add(-time.Hour + time.Duration(i)*time.Minute), CPU: 128, Memory: 64})
	}
}

func (f *fleet) scale(desired int) Plan {
	svc := f.svc
	svc.DesiredCount = desired
	return Reconcile(Input{Now: f.now, Service: svc, Status: f.st, Tasks: slices.Clone(f.tasks), Instances: f.insts})
}

// left counts the tasks p does not stop by key (instance id, or zone when
// byZone).
func (f *fleet) left(p Plan, byZone bool) map[string]int {
	stopped := map[string]bool{}
	for _, s := range p.Stop {
		stopped[s.TaskID] = true
	}
	zone := map[string]string{}
	for _, in := range f.insts {
		zone[in.ID] = in.Attributes["ecs.availability-zone"]
	}
	out := map[string]int{}
	for _, t := range f.tasks {
		if stopped[t.ID] {
			continue
		}
		if byZone {
			out[zone[t.InstanceID]]++
		} else {
			out[t.InstanceID]++
		}
	}
	return out
}

func formatCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func TestScaleInChoice(t *testing.T) {
	t.Parallel()
	spread := func(f string) PlacementStrategy { return PlacementStrategy{Type: "spread", Field: f} }
	binpack := func(f string) PlacementStrategy { return PlacementStrategy{Type: "binpack", Field: f} }
	az := spread("attribute:ecs.availability-zone")
	for _, tc := range []struct {
		name       string
		strategies []PlacementStrategy
		setup      func(f *fleet)
		desired    int
		byZone     bool
		want       string // tasks left by instance (or zone)
	}{
		{
			// 3 AZs with 3/2/1 tasks: the default stops from the fullest AZ.
			name: "default AZ spread", desired: 3, byZone: true, want: "a=1 b=1 c=1",
			setup: func(f *fleet) {
				f.instance("a1", "a", 4096)
				f.instance("a2", "a", 4096)
				f.instance("b1", "b", 4096)
				f.instance("c1", "c", 4096)
				f.run("a1", 2)
				f.run("a2", 1)
				f.run("b1", 2)
				f.run("c1", 1)
			},
		},
		{
			// Within an AZ the default then stops from the fullest instance.
			name: "default then instances", desired: 4, want: "a1=1 a2=1 b1=2",
			setup: func(f *fleet) {
				f.instance("a1", "a", 4096)
				f.instance("a2", "a", 4096)
				f.instance("b1", "b", 4096)
				f.run("a1", 3)
				f.run("a2", 1)
				f.run("b1", 2)
			},
		},
		{
			// binpack memory: stop where the most memory remains after the
			// stop, counting what earlier stops freed (1100 -> 1164 -> 1228,
			// then 1040 + 64 beats 1000 + 64).
			name: "binpack memory", strategies: []PlacementStrategy{binpack("memory")}, desired: 3,
			want: "i1=2 i2=1",
			setup: func(f *fleet) {
				f.instance("i1", "a", 1000)
				f.instance("i2", "a", 1040)
				f.instance("i3", "b", 1100)
				f.run("i1", 2)
				f.run("i2", 2)
				f.run("i3", 2)
			},
		},
		{
			name: "binpack cpu", strategies: []PlacementStrategy{binpack("cpu")}, desired: 2, want: "i1=2",
			setup: func(f *fleet) {
				f.instance("i1", "a", 4096)
				f.instance("i2", "a", 4096)
				f.insts[1].RemainingCPU = 2048
				f.run("i1", 2)
				f.run("i2", 2)
			},
		},
		{
			name: "spread instanceId", strategies: []PlacementStrategy{spread("instanceId")}, desired: 3,
			want: "i1=1 i2=1 i3=1",
			setup: func(f *fleet) {
				f.instance("i1", "a", 4096)
				f.instance("i2", "a", 4096)
				f.instance("i3", "a", 4096)
				f.run("i1", 4)
				f.run("i2", 1)
				f.run("i3", 1)
			},
		},
		{
			name: "spread host", strategies: []PlacementStrategy{spread("host")}, desired: 2, want: "i1=1 i2=1",
			setup: func(f *fleet) {
				f.instance("i1", "a", 4096)
				f.instance("i2", "a", 4096)
				f.run("i1", 3)
				f.run("i2", 1)
			},
		},
		{
			// A custom attribute; an instance without it counts as its own
			// value.
			name: "spread custom attribute", strategies: []PlacementStrategy{spread("attribute:rack")}, desired: 3,
			want: "r1=1 r2=1 x=1",
			setup: func(f *fleet) {
				f.instance("r1", "a", 4096)
				f.instance("r2", "a", 4096)
				f.instance("x", "a", 4096)
				f.insts[0].Attributes["rack"] = "one"
				f.insts[1].Attributes["rack"] = "two"
				f.run("r1", 3)
				f.run("r2", 2)
				f.run("x", 2)
			},
		},
		{
			// spread AZ first, binpack memory breaks ties within an AZ: AZ a
			// (4 tasks) gives both stops, from a2 where more memory remains.
			name: "spread AZ then binpack", strategies: []PlacementStrategy{az, binpack("memory")}, desired: 4,
			want: "a1=2 b1=2",
			setup: func(f *fleet) {
				f.instance("a1", "a", 100)
				f.instance("a2", "a", 900)
				f.instance("b1", "b", 500)
				f.run("a1", 2)
				f.run("a2", 2)
				f.run("b1", 2)
			},
		},
		{
			// binpack first: the AZ spread only breaks its ties (a1 and b1
			// tie on memory; AZ a has more tasks, though b1's is newer).
			name: "binpack then spread AZ", strategies: []PlacementStrategy{binpack("memory"), az}, desired: 5,
			want: "a1=1 a2=2 b1=2",
			setup: func(f *fleet) {
				f.instance("a1", "a", 900)
				f.instance("a2", "a", 100)
				f.instance("b1", "b", 900)
				f.run("a1", 2)
				f.run("a2", 2)
				f.run("b1", 2)
			},
		},
		{
			// A pending task goes before healthy ones, whatever the spread.
			name: "not healthy first", desired: 3, want: "a1=3",
			setup: func(f *fleet) {
				f.instance("a1", "a", 4096)
				f.instance("b1", "b", 4096)
				f.run("a1", 3)
				f.run("b1", 1)
				f.tasks[3].LastStatus, f.tasks[3].StartedAt = "PENDING", time.Time{}
			},
		},
		{
			// Protected tasks in the fullest AZ stay; the unprotected ones
			// go, even though that unbalances the AZs.
			name: "protected held", desired: 4, byZone: true, want: "a=3 b=1",
			setup: func(f *fleet) {
				f.instance("a1", "a", 4096)
				f.instance("b1", "b", 4096)
				f.instance("c1", "c", 4096)
				f.run("a1", 3)
				f.run("b1", 2)
				f.run("c1", 1)
				for i := range 3 {
					f.tasks[i].ProtectedUntil = f.now.Add(time.Hour)
				}
			},
		},
		{
			// The newest task is on the fuller instance, so the spread
			// alone picks it (TestScaleInNewestOnTies covers a real tie).
			name: "newest on the fuller instance", desired: 2, want: "i1=1 i2=1",
			setup: func(f *fleet) {
				f.instance("i1", "a", 4096)
				f.instance("i2", "a", 4096)
				f.run("i1", 1)
				f.run("i2", 1)
				f.run("i1", 1) // newest, on i1
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFleet(tc.strategies...)
			tc.setup(f)
			p := f.scale(tc.desired)
			if got := formatCounts(f.left(p, tc.byZone)); got != tc.want {
				t.Errorf("left %s, want %s (stops %+v)", got, tc.want, p.Stop)
			}
			if again := f.scale(tc.desired); !slices.Equal(again.Stop, p.Stop) {
				t.Errorf("not deterministic: %+v then %+v", p.Stop, again.Stop)
			}
		})
	}
}

// TestScaleInNewestOnTies: after every strategy ties, the newest task
// stops first.
func TestScaleInNewestOnTies(t *testing.T) {
	t.Parallel()
	f := newFleet()
	f.instance("i1", "a", 4096)
	f.run("i1", 3)
	p := f.scale(2)
	if len(p.Stop) != 1 || p.Stop[0].TaskID != "t02" {
		t.Fatalf("stopped %+v, want the newest t02", p.Stop)
	}
}

// TestScaleInProtectedOnlyWhenNeeded: scale-in beyond the unprotected tasks
// holds the protected ones and waits for their protection to expire.
func TestScaleInProtectedOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	f := newFleet()
	f.instance("a1", "a", 4096)
	f.instance("b1", "b", 4096)
	f.run("a1", 3)
	f.run("b1", 1)
	f.tasks[0].ProtectedUntil = f.now.Add(time.Minute)
	f.tasks[1].ProtectedUntil = f.now.Add(time.Minute)
	p := f.scale(0)
	if len(p.Stop) != 2 || p.Wait != time.Minute {
		t.Fatalf("stop %+v wait %v, want the 2 unprotected tasks and a 1m wait", p.Stop, p.Wait)
	}
	for _, s := range p.Stop {
		if s.TaskID == "t00" || s.TaskID == "t01" {
			t.Fatalf("stopped protected task %s", s.TaskID)
		}
	}
}

// TestScaleInRandom: the random strategy is a fixed order by task id, not
// the age order.
func TestScaleInRandom(t *testing.T) {
	t.Parallel()
	orders := map[string]bool{}
	for n := range 8 {
		f := newFleet(PlacementStrategy{Type: "random"})
		f.instance("i1", "a", 4096)
		f.run("i1", 4)
		for i := range f.tasks {
			f.tasks[i].ID = fmt.Sprintf("r%d-%d", n, i)
		}
		p := f.scale(3)
		if len(p.Stop) != 1 {
			t.Fatalf("stopped %+v", p.Stop)
		}
		if again := f.scale(3); !slices.Equal(again.Stop, p.Stop) {
			t.Fatalf("random scale-in not reproducible: %+v then %+v", p.Stop, again.Stop)
		}
		orders[p.Stop[0].TaskID[strings.Index(p.Stop[0].TaskID, "-"):]] = true
	}
	if len(orders) < 2 {
		t.Errorf("random scale-in always stopped the same position: %v", orders)
	}
}

// TestScaleInSpreadProperty: with the default strategies, scale-in from N to
// M tasks on random instances in random AZs stops N-M tasks, the spread of
// tasks per AZ (max - min) does not grow beyond 1, and no AZ or instance
// that lost tasks ends with 2 fewer than another (greedy from the fullest).
// With random protections, protected tasks stop only when nothing else can.
func TestScaleInSpreadProperty(t *testing.T) {
	t.Parallel()
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 77))
		f := newFleet()
		zones := 1 + rng.IntN(4)
		zoneOf := map[string]string{}
		for z := range zones {
			for i := range 1 + rng.IntN(3) {
				id := fmt.Sprintf("z%d-i%d", z, i)
				f.instance(id, fmt.Sprint("z", z), int64(1000+rng.IntN(4)*100))
				zoneOf[id] = fmt.Sprint("z", z)
			}
		}
		n := 1 + rng.IntN(24)
		for range n {
			f.run(f.insts[rng.IntN(len(f.insts))].ID, 1)
		}
		rng.Shuffle(len(f.tasks), func(i, j int) { f.tasks[i], f.tasks[j] = f.tasks[j], f.tasks[i] })
		protect := seed%3 == 0
		unprotected := n
		if protect {
			for i := range f.tasks {
				if rng.IntN(3) == 0 {
					f.tasks[i].ProtectedUntil = f.now.Add(time.Hour)
					unprotected--
				}
			}
		}
		m := rng.IntN(n)
		p := f.scale(m)
		ctx := fmt.Sprintf("seed %d: %d -> %d, before %s", seed, n, m, formatCounts(f.left(Plan{}, false)))
		if want := min(n-m, unprotected); len(p.Stop) != want {
			t.Fatalf("%s: stopped %d tasks, want %d", ctx, len(p.Stop), want)
		}
		if protect {
			for _, s := range p.Stop {
				for _, tk := range f.tasks {
					if tk.ID == s.TaskID && !tk.ProtectedUntil.IsZero() {
						t.Fatalf("%s: stopped protected task %s", ctx, s.TaskID)
					}
				}
			}
			continue
		}
		zoneBefore, zoneAfter := f.left(Plan{}, true), f.left(p, true)
		instBefore, instAfter := f.left(Plan{}, false), f.left(p, false)
		spread := func(c map[string]int) int {
			lo, hi := n, 0
			for z := range zones {
				v := c[fmt.Sprint("z", z)]
				lo, hi = min(lo, v), max(hi, v)
			}
			return hi - lo
		}
		if spread(zoneAfter) > max(spread(zoneBefore), 1) {
			t.Fatalf("%s: AZ spread grew from %s to %s", ctx, formatCounts(zoneBefore), formatCounts(zoneAfter))
		}
		maxZone := 0
		for _, v := range zoneAfter {
			maxZone = max(maxZone, v)
		}
		for z, v := range zoneBefore {
			if zoneAfter[z] < v && zoneAfter[z] < maxZone-1 {
				t.Fatalf("%s: AZ %s went from %d to %d while another keeps %d", ctx, z, v, zoneAfter[z], maxZone)
			}
		}
		for id, v := range instBefore {
			if instAfter[id] >= v {
				continue
			}
			for other, w := range instAfter {
				if zoneOf[other] == zoneOf[id] && instAfter[id] < w-1 {
					t.Fatalf("%s: instance %s went from %d to %d while %s in its AZ keeps %d", ctx, id, v, instAfter[id], other, w)
				}
			}
		}
	}
}
