package scheduler

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// benchCluster is n instances of 16 vCPU / 64 GiB over three AZs and four
// instance types.
func benchCluster(n int) []Instance {
	insts := cluster(n, nil)
	for i := range insts {
		insts[i].CPU, insts[i].Memory = 16384, 65536
	}
	return insts
}

var benchRequest = Request{
	CPU: 128, Memory: 256, Group: "service:web",
	Strategies:  []Strategy{{"spread", "attribute:ecs.availability-zone"}, {"binpack", "memory"}},
	Constraints: []Constraint{{"memberOf", "attribute:ecs.os-type == linux and not(attribute:ecs.instance-type == g4dn.xlarge)"}},
}

// BenchmarkPlace places 50,000 tasks (binpack + spread(AZ) + memberOf) on
// 1,000 and 5,000 instances in requests of 1, 10 (RunTask's maximum) and
// 50,000 (a service scaling at once), committing each request to the
// snapshot. It reports placements/s and the p99 time per placement (the
// request's time divided by its count).
func BenchmarkPlace(b *testing.B) {
	const tasks = 50000
	for _, algo := range []string{"indexed", "linear"} {
		for _, n := range []int{1000, 5000} {
			for _, batch := range []int{1, 10, tasks} {
				if algo == "linear" && batch == 1 && n == 5000 {
					continue // same per-task scan as batch 10, minutes longer
				}
				b.Run(fmt.Sprintf("%s/instances=%d/batch=%d", algo, n, batch), func(b *testing.B) {
					var lat []time.Duration
					var total time.Duration
					placed := 0
					for b.Loop() {
						s := NewSnapshot(benchCluster(n))
						for r := 0; r < tasks/batch; r++ {
							req := benchRequest
							req.Count, req.Seed = batch, uint64(r)
							start := time.Now()
							var res Result
							var err error
							if algo == "linear" {
								res, err = s.PlaceLinear(req)
							} else {
								res, err = s.Place(req)
							}
							d := time.Since(start)
							if err != nil || len(res.Placements) != batch {
								b.Fatalf("request %d: %v, %d placed: %s", r, err, len(res.Placements), res.Explanation(n))
							}
							total += d
							lat = append(lat, d/time.Duration(batch))
							placed += batch
							s.Commit(req, res.Placements)
						}
					}
					slices.Sort(lat)
					b.ReportMetric(float64(placed)/total.Seconds(), "placements/s")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs/placement")
					b.ReportMetric(0, "ns/op")
				})
			}
		}
	}
}
