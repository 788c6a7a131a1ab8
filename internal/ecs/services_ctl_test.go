package ecs

import "testing"

// TestPlanTaskReservation: the planner sees what a task reserves (binpack
// scale-in counts what stopping it frees).
func TestPlanTaskReservation(t *testing.T) {
	t.Parallel()
	got := planTask(taskSpecRecord{ID: "t", Reserved: resources{CPU: 256, Memory: 64}}, taskStatusRecord{LastStatus: taskRunning})
	if got.CPU != 256 || got.Memory != 64 {
		t.Fatalf("planTask reserves %d CPU %d MiB, want 256 and 64", got.CPU, got.Memory)
	}
}
