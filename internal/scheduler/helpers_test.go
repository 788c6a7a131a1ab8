package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

var azs = []string{"us-east-1a", "us-east-1b", "us-east-1c"}
var types = []string{"t3.small", "m5.large", "c5.xlarge", "g4dn.xlarge"}

// cluster builds n ACTIVE, connected instances spread over three AZs and
// four instance types, with cpu/memory varying when rng is set.
func cluster(n int, rng *rand.Rand) []Instance {
	out := make([]Instance, n)
	for i := range out {
		cpu, mem := int64(4096), int64(8192)
		if rng != nil {
			cpu = int64(1024 * (1 + rng.IntN(4)))
			mem = int64(2048 * (1 + rng.IntN(4)))
		}
		out[i] = Instance{
			ID:        fmt.Sprintf("i%04d", i),
			ARN:       fmt.Sprintf("arn:aws:ecs:us-east-1:000000000000:container-instance/c/i%04d", i),
			Status:    StatusActive,
			Connected: true,
			Attributes: map[string]string{
				"ecs.availability-zone": azs[i%len(azs)],
				"ecs.instance-type":     types[(i/3)%len(types)],
				"ecs.os-type":           "linux",
			},
			EC2InstanceID: fmt.Sprintf("i-%08x", i),
			CPU:           cpu,
			Memory:        mem,
			Ports:         map[int32]bool{22: true},
			AwsvpcSlots:   -1,
		}
		if rng != nil {
			out[i].UsedCPU = int64(rng.IntN(int(cpu / 2)))
			out[i].UsedMemory = int64(rng.IntN(int(mem / 2)))
		}
	}
	return out
}

func mustPlace(t testing.TB, s *Snapshot, req Request) Result {
	t.Helper()
	res, err := s.Place(req)
	if err != nil {
		t.Fatalf("Place: %v", err)
	}
	return res
}

func countBy(s *Snapshot, placements []string, attr string) map[string]int {
	out := map[string]int{}
	for _, id := range placements {
		in, _ := s.Instance(id)
		out[in.Attributes[attr]]++
	}
	return out
}

func ptr[T any](v T) *T { return &v }
