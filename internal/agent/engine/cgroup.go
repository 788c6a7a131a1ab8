package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Task cgroups. ECS puts the containers of a task that has task-level cpu
// or memory in one cgroup of the task (/ecs/<task id>) that carries those
// limits, so they bound the task's containers together; each container's
// own cpu shares and memory limits apply inside it. Berth does the same
// under berth/<agent id>/<task id> of the host's cgroupfs hierarchy and
// hands the path to Docker as the containers' cgroup parent.

// Cgroups manages task cgroups on the host of a cgroupfs-driven engine.
type Cgroups struct {
	// Root is the cgroup mount ("/sys/fs/cgroup"); V2 when it is the
	// unified hierarchy.
	Root string
	V2   bool
	// Parent is the agent's cgroup below Root ("berth/<agent id>").
	Parent string
}

// DetectCgroups returns the task cgroups of the local host for an engine
// with the given cgroup driver and version ("1" or "2"), or nil when the
// agent cannot manage them (another driver, no writable cgroupfs): tasks
// then cap each container at the task's limits.
func DetectCgroups(root, driver, version, agentID string) *Cgroups {
	if driver != "cgroupfs" {
		return nil
	}
	c := &Cgroups{Root: root, V2: version == "2", Parent: filepath.Join("berth", agentID)}
	probe := filepath.Join(root, "memory")
	if c.V2 {
		probe = root
	}
	if unix.Access(probe, unix.W_OK) != nil {
		return nil
	}
	return c
}

// cfsPeriod is the CFS period the cpu quota is expressed in (µs).
const cfsPeriod = 100000

// Ensure creates task id's cgroup with its limits (cpu in CPU units, 0: no
// limit; memory in MiB, 0: no limit) and returns the cgroup parent the
// task's containers take. It may be called again for the same task.
func (c *Cgroups) Ensure(id string, cpu, memMiB int) (string, error) {
	rel := filepath.Join(c.Parent, id)
	limit, quota := "", ""
	if memMiB > 0 {
		limit = strconv.FormatInt(int64(memMiB)<<20, 10)
	}
	if cpu > 0 {
		quota = strconv.Itoa(max(cpu*cfsPeriod/1024, 1000))
	}
	if c.V2 {
		if err := c.enableV2(rel); err != nil {
			return "", err
		}
		dir := filepath.Join(c.Root, rel)
		if limit != "" {
			if err := write(dir, "memory.max", limit); err != nil {
				return "", err
			}
		}
		if quota != "" {
			if err := write(dir, "cpu.max", quota+" "+strconv.Itoa(cfsPeriod)); err != nil {
				return "", err
			}
		}
		return "/" + rel, nil
	}
	if limit != "" {
		dir := filepath.Join(c.Root, "memory", rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if err := write(dir, "memory.limit_in_bytes", limit); err != nil {
			return "", err
		}
	}
	if quota != "" {
		dir := filepath.Join(c.Root, "cpu", rel)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		if err := write(dir, "cpu.cfs_period_us", strconv.Itoa(cfsPeriod)); err != nil {
			return "", err
		}
		if err := write(dir, "cpu.cfs_quota_us", quota); err != nil {
			return "", err
		}
	}
	return "/" + rel, nil
}

// enableV2 creates rel in the unified hierarchy with the cpu and memory
// controllers enabled from the root down to it.
func (c *Cgroups) enableV2(rel string) error {
	if err := os.MkdirAll(filepath.Join(c.Root, rel), 0o755); err != nil {
		return err
	}
	// A controller is enabled in a child only if its parent enables it.
	dir := c.Root
	for _, p := range strings.Split(rel, string(filepath.Separator)) {
		if err := write(dir, "cgroup.subtree_control", "+cpu +memory"); err != nil {
			return err
		}
		dir = filepath.Join(dir, p)
	}
	return write(dir, "cgroup.subtree_control", "+cpu +memory")
}

// Remove deletes task id's cgroup (in every hierarchy the engine created it
// in) once its containers are gone.
func (c *Cgroups) Remove(id string) error {
	roots, err := c.hierarchies()
	if err != nil {
		return err
	}
	rel := filepath.Join(c.Parent, id)
	var errs []error
	for _, r := range roots {
		if err := os.Remove(filepath.Join(r, rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RemoveAll deletes the cgroups of every task of the agent and the agent's
// own, in every hierarchy: for an agent removed for good (tests). It is best
// effort: what cannot go (a cgroup with processes in it) stays.
func (c *Cgroups) RemoveAll() {
	roots, _ := c.hierarchies()
	for _, r := range roots {
		dir := filepath.Join(r, c.Parent)
		tasks, _ := os.ReadDir(dir)
		for _, e := range tasks {
			if e.IsDir() {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
		_ = os.Remove(dir)
	}
}

// hierarchies returns the directories task cgroups may be under: Root in
// the unified hierarchy, each controller's mount below Root in v1.
func (c *Cgroups) hierarchies() ([]string, error) {
	if c.V2 {
		return []string{c.Root}, nil
	}
	entries, err := os.ReadDir(c.Root)
	var roots []string
	for _, e := range entries {
		if e.IsDir() {
			roots = append(roots, filepath.Join(c.Root, e.Name()))
		}
	}
	return roots, err
}

func write(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
		return fmt.Errorf("setting %s of the task cgroup: %w", file, err)
	}
	return nil
}
