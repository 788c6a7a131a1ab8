package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/sim"
)

func newSimCmd() *cobra.Command {
	var cfg sim.Config
	var quiet bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Measure the scheduler: the real control plane against simulated container instances",
		Long: `sim starts a control plane on a temporary directory, registers --instances simulated
container instances (spread over three availability zones and five instance types; they
run nothing and report every task RUNNING at once), and places --tasks tasks with RunTask
(spread by availability zone, binpack memory, memberOf instance type) from --clients
concurrent clients. It prints progress, then one summary line: placements/s including the
store transaction, RunTask p50/p99 latency, per-AZ balance, bin-packing density and the
share of placement time spent in the store transaction.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !quiet {
				cfg.Progress = cmd.ErrOrStderr()
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("--cpuprofile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			res, err := sim.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Summary())
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Instances, "instances", 100, "simulated container instances")
	f.IntVar(&cfg.Tasks, "tasks", 1000, "tasks to place")
	f.IntVar(&cfg.Clients, "clients", 16, "concurrent RunTask clients")
	f.IntVar(&cfg.PerCall, "count", 10, "tasks per RunTask call (1-10)")
	f.IntVar(&cfg.TaskCPU, "task-cpu", 128, "CPU units each task reserves (the simulated instances have 512-4096)")
	f.IntVar(&cfg.TaskMemory, "task-memory", 256, "MiB each task reserves (the simulated instances have 512-16384)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the control plane's store (default: a temporary one, removed at the end)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	return cmd
}
