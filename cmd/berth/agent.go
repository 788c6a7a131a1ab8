package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/agent"
	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/procmem"
	"github.com/berth-dev/berth/internal/runtime/docker"
)

func newAgentCmd() *cobra.Command {
	var configFile, logLevel, dockerHost string
	var faultAround bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a container agent: register this host with a cluster and run its tasks on Docker",
		Long: "Run a container agent (an ECS container instance) on the local Docker engine.\n" +
			"Configured by flags, by the ECS agent's variables (ECS_CLUSTER, ECS_INSTANCE_ATTRIBUTES,\n" +
			"ECS_RESERVED_MEMORY, ECS_CONTAINER_STOP_TIMEOUT, ECS_IMAGE_PULL_BEHAVIOR,\n" +
			"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION, ECS_AVAILABLE_LOGGING_DRIVERS, ...) or an\n" +
			"ecs.config-style file (--config). Requests are signed with the standard AWS credentials\n" +
			"(environment or profile); the endpoint is --endpoint or AWS_ENDPOINT_URL.\n" +
			"Example: . .berth/env && berth agent --cluster c1 --availability-zone us-east-1b --data-dir /tmp/a2",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := map[string]string{}
			for _, name := range config.FlagNames {
				if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
					flags[name] = f.Value.String()
				}
			}
			cfg, err := config.Load(config.Sources{File: configFile, Env: os.Environ(), Flags: flags})
			if err != nil {
				return err
			}
			if cfg.Endpoint == "" {
				return fmt.Errorf("no control plane endpoint: set --endpoint or AWS_ENDPOINT_URL")
			}
			log := newLogger(logLevel)
			// Nothing reads the agent's heap profile; sampling allocations
			// only costs (tracebacks over the binary's tables, buckets).
			runtime.MemProfileRate = 0
			if !faultAround {
				mapTouchedPagesOnly(log)
			}
			if _, set := os.LookupEnv("GOGC"); !set {
				debug.SetGCPercent(agentGCPercent)
			}
			awsCfg, err := awsconfig.LoadDefaultConfig(cmd.Context(), awsconfig.WithRegion(cfg.Region))
			if err != nil {
				return fmt.Errorf("loading AWS credentials: %w", err)
			}
			return runAgent(cmd.Context(), cfg, awsCfg, dockerHost, log, trimAfterStartup)
		},
	}
	fl := cmd.Flags()
	d := config.Default()
	fl.String("endpoint", "", "control plane URL (default $AWS_ENDPOINT_URL)")
	fl.String("region", d.Region, "AWS region of the control plane (or $AWS_REGION)")
	fl.String("cluster", d.Cluster, "cluster to join (or $ECS_CLUSTER)")
	fl.String("data-dir", d.DataDir, "directory for the instance identity and task state")
	fl.Int("cpu", 0, "CPU units to register (default 1024 per core)")
	fl.Int("memory", 0, "memory MiB to register (default the host's)")
	fl.Int("reserved-memory", 0, "MiB to keep out of the registered memory")
	fl.String("instance-type", d.InstanceType, "ecs.instance-type attribute")
	fl.String("availability-zone", "", "ecs.availability-zone attribute")
	fl.String("attributes", "", "custom attributes k=v,k2=v2")
	fl.String("metadata-listen", d.MetadataListen, "address of the task metadata endpoint")
	fl.String("subnet", "", "CIDR of this agent's awsvpc bridge network (default a free /24 in 172.30.0.0/16)")
	fl.StringVar(&configFile, "config", "", "ecs.config-style file of KEY=VALUE lines")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.BoolVar(&faultAround, "fault-around", false, "let the kernel map the executable 64 KiB around each page the agent touches\n"+
		"(the kernel's default; the agent maps single pages otherwise, see docs/agent-memory.md)")
	fl.StringVar(&dockerHost, "docker-host", "", "Docker engine address (default $DOCKER_HOST or the local socket)")
	return cmd
}

func newLogger(level string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// runAgent connects to Docker, loads Berth's images, registers and runs the
// agent until ctx ends. started, if set, runs in its own goroutine once the
// agent is registered.
func runAgent(ctx context.Context, cfg config.Config, awsCfg aws.Config, dockerHost string, log *slog.Logger,
	started func(context.Context, *agent.Agent, *slog.Logger)) error {
	rt, err := docker.New(ctx, dockerHost)
	if err != nil {
		return fmt.Errorf("the agent needs a Docker engine: %w", err)
	}
	defer rt.Close()
	if err := images.EnsureImages(ctx, rt, log); err != nil {
		return fmt.Errorf("loading berth images: %w", err)
	}
	a, err := agent.New(ctx, agent.Options{Config: cfg, Runtime: rt, AWS: awsCfg, Logger: log, Version: versionString()})
	if err != nil {
		return err
	}
	log.Info("berth agent running", "cluster", cfg.Cluster, "instance", a.InstanceARN(), "awsvpc_subnet", a.Subnet(),
		"metadata", a.MetadataAddr())
	if started != nil {
		go started(ctx, a, log)
	}
	return a.Run(ctx)
}

// mapTouchedPagesOnly asks the kernel to map the executable one page per
// fault in this process (procmem.MapTouchedPagesOnly): the pages the agent
// uses are scattered over the one binary, and each fault would otherwise map
// the 64 KiB around it. Without kernel support the agent works the same with
// a larger resident set.
func mapTouchedPagesOnly(log *slog.Logger) {
	n, err := procmem.MapTouchedPagesOnly()
	if err != nil {
		log.Info("the kernel keeps mapping the executable in 64 KiB blocks (larger resident memory, nothing else changes)",
			"reason", err, "needs", "Linux 6.7+ (x86-64) or 6.10+ (arm64) and userfaultfd(2) allowed (Docker's default seccomp profile denies it)")
		return
	}
	log.Debug("executable mapped one page per fault", "mib", n>>20)
}

// agentGCPercent is berth agent's GOGC unless the environment sets one. Its
// live heap is small (about 5 MiB, mostly what package initialisers built),
// so collecting at +25% instead of +100% costs little CPU and keeps the heap
// close to what is live: BenchmarkAgentRSS, same session, 25 vs 50: 19.2 vs
// 19.6 MiB with 50 tasks, 19.2 vs 20.2 MiB idle after them, for 0.79 vs
// 0.61 s of agent CPU over the whole run (50 task starts and stops).
const agentGCPercent = 25

// trimWait bounds how long the agent command waits for its first link
// before it trims start-up memory anyway (the control plane may be down).
const trimWait = 30 * time.Second

// trimAfterStartup gives back the memory that start-up used once the link is
// up: every package's init ran in this process (etcd, the registry, the ECS
// API are in the same binary) and left most of the executable mapped and
// garbage on the heap. Only `berth agent` does this; in `berth dev` the
// control plane shares the process and uses those pages.
func trimAfterStartup(ctx context.Context, a *agent.Agent, log *slog.Logger) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(trimWait)
	for waiting := true; waiting && !a.Connected(); {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			waiting = false // the pages init used are not needed later either way
		case <-tick.C:
		}
	}
	res := procmem.Trim()
	log.Debug("trimmed start-up memory", "executable_dropped_mib", res.Dropped>>20, "err", res.Err)
}
