package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCgroupsEnsureAndRemove makes a task cgroup on the host's real
// cgroupfs (the agent runs as root next to a cgroupfs-driven engine), reads
// its limits back and removes it.
func TestCgroupsEnsureAndRemove(t *testing.T) {
	root := "/sys/fs/cgroup"
	v2 := false
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		v2 = true
	}
	version := "1"
	if v2 {
		version = "2"
	}
	agentID := "test-" + newToken()[:8]
	cg := DetectCgroups(root, "cgroupfs", version, agentID)
	if cg == nil {
		t.Fatalf("cannot manage cgroups under %s: this test (and task-level limits) need root and a writable cgroupfs", root)
	}
	t.Cleanup(cg.RemoveAll)
	parent, err := cg.Ensure("task1", 256, 64)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/berth/" + agentID + "/task1"; parent != want {
		t.Errorf("cgroup parent %q, want %q", parent, want)
	}
	read := func(parts ...string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(append([]string{root}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	rel := filepath.Join("berth", agentID, "task1")
	if v2 {
		if got := read(rel, "memory.max"); got != "67108864" {
			t.Errorf("memory.max %s", got)
		}
		if got := read(rel, "cpu.max"); got != "25000 100000" {
			t.Errorf("cpu.max %s", got)
		}
	} else {
		if got := read("memory", rel, "memory.limit_in_bytes"); got != "67108864" {
			t.Errorf("memory.limit_in_bytes %s", got)
		}
		if got := read("cpu", rel, "cpu.cfs_quota_us"); got != "25000" {
			t.Errorf("cpu.cfs_quota_us %s", got)
		}
	}
	// Again (a container created after a restart): same parent, no error.
	if p, err := cg.Ensure("task1", 256, 64); err != nil || p != parent {
		t.Fatalf("Ensure again: %q %v", p, err)
	}
	if err := cg.Remove("task1"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(root, "memory", rel), filepath.Join(root, "cpu", rel), filepath.Join(root, rel)} {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s still exists", d)
		}
	}
	if err := cg.Remove("task1"); err != nil {
		t.Errorf("Remove of a removed cgroup: %v", err)
	}
	if DetectCgroups(root, "systemd", version, agentID) != nil {
		t.Error("a systemd-driven engine's cgroups are not the agent's to make")
	}
}
