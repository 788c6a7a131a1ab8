// Package sim is berth sim: the real control plane (edge, ECS API, agent
// link, scheduler, store) in-process on a temporary directory, N simulated
// container instances that register and connect like agents but run nothing
// (each answers its payloads at once, reporting tasks RUNNING through
// SubmitTaskStateChange), and concurrent RunTask clients placing M tasks
// with spread(availability zone) + binpack(memory) + memberOf. It measures
// placement throughput and latency, the distribution's quality and the
// share of placement time spent in the store transaction.
package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/controlplane"
	becs "github.com/berth-dev/berth/internal/ecs"
)

// Config is one simulation.
type Config struct {
	Instances int // simulated container instances
	Tasks     int // tasks to place
	Clients   int // concurrent RunTask callers (default 16)
	PerCall   int // tasks per RunTask, 1-10 (default 10)
	// TaskCPU and TaskMemory are each task's CPU units and MiB (default
	// 128 and 256).
	TaskCPU, TaskMemory int
	// DataDir holds the control plane's store; default a temporary
	// directory removed at the end.
	DataDir string
	// Progress receives progress lines while the simulation runs; nil for
	// none.
	Progress io.Writer
}

// Task shape and placement rules of the simulation.
const (
	defaultTaskCPU    = 128
	defaultTaskMemory = 256
	memberOf          = "attribute:ecs.instance-type != t3.nano"
)

// Result is what a simulation measured.
type Result struct {
	Instances, Eligible int // instances, and those memberOf admits
	Requested, Placed   int
	Failures            int // failures[] entries of RunTask answers
	Calls               int
	Elapsed             time.Duration // placing only (after every instance connected)
	Setup               time.Duration // control plane start, registration, links
	P50, P99            time.Duration // RunTask latency
	PerCall, Clients    int
	PerAZ               map[string]int
	UsedInstances       int
	MemDensity, CPUDens float64 // reserved/registered over instances with tasks
	Reported            int64   // RUNNING transitions the simulated agents submitted
	Stats               becs.PlacementStats
}

// PlacementsPerSec is the client-side throughput: tasks placed by RunTask,
// store transaction and cache sync included, per second.
func (r Result) PlacementsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Placed) / r.Elapsed.Seconds()
}

// StoreShare is the share of server-side placement time spent in the
// store transaction.
func (r Result) StoreShare() float64 { return share(r.Stats.Txn, r.Stats.Total) }

func share(part, total time.Duration) float64 {
	if total <= 0 {
		return 0
	}
	return float64(part) / float64(total)
}

// Summary is the result in one line.
func (r Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "berth sim: %d of %d tasks placed on %d instances in %s: %.0f placements/s (RunTask incl. store transaction and cache sync; %d clients, %d tasks per call)",
		r.Placed, r.Requested, r.Instances, r.Elapsed.Round(time.Millisecond), r.PlacementsPerSec(), r.Clients, r.PerCall)
	fmt.Fprintf(&b, "; RunTask latency p50 %s p99 %s", r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond))
	zs := make([]string, 0, len(r.PerAZ))
	lo, hi := -1, 0
	for _, z := range zones {
		n := r.PerAZ[z]
		zs = append(zs, fmt.Sprintf("%s %d", z, n))
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	fmt.Fprintf(&b, "; per-AZ %s (max-min %d)", strings.Join(zs, " / "), hi-lo)
	fmt.Fprintf(&b, "; bin-packing: %d of %d eligible instances used, %.0f%% memory and %.0f%% CPU reserved on them",
		r.UsedInstances, r.Eligible, 100*r.MemDensity, 100*r.CPUDens)
	st := r.Stats
	fmt.Fprintf(&b, "; store transaction %.0f%% of placement time (read %.0f%%, scheduler %.0f%%, cache sync %.0f%%; %d conflicts retried)",
		100*r.StoreShare(), 100*share(st.Read, st.Total), 100*share(st.Schedule, st.Total), 100*share(st.Sync, st.Total), st.Conflicts)
	if st.Batches > 0 {
		fmt.Fprintf(&b, "; %d transactions, %.1f RunTask calls each", st.Batches, float64(st.Launches)/float64(st.Batches))
	}
	if st.Tasks > 0 {
		fmt.Fprintf(&b, "; scheduler alone %.0f placements/s", float64(st.Tasks)/st.Schedule.Seconds())
	}
	if r.Failures > 0 {
		fmt.Fprintf(&b, "; %d failures", r.Failures)
	}
	return b.String()
}

// Run runs one simulation.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Instances < 1 || cfg.Tasks < 1 {
		return Result{}, errors.New("sim needs at least one instance and one task")
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 16
	}
	if cfg.PerCall <= 0 || cfg.PerCall > 10 {
		cfg.PerCall = 10
	}
	if cfg.TaskCPU < 0 || cfg.TaskMemory < 0 {
		return Result{}, errors.New("sim: --task-cpu and --task-memory must not be negative")
	}
	if cfg.TaskCPU == 0 {
		cfg.TaskCPU = defaultTaskCPU
	}
	if cfg.TaskMemory == 0 {
		cfg.TaskMemory = defaultTaskMemory
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	setupStart := time.Now()
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "berth-sim-")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	secret := make([]byte, 20)
	_, _ = rand.Read(secret)
	key := controlplane.RootKey{AccessKeyID: "AKIABERTHSIM00000001", SecretAccessKey: hex.EncodeToString(secret)}
	cp, err := controlplane.Start(ctx, controlplane.Config{Listen: "127.0.0.1:0", DataDir: cfg.DataDir, RootKey: key})
	if err != nil {
		return Result{}, fmt.Errorf("starting the control plane: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = cp.Close(cctx)
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 1024, 1024
	awsCfg := aws.Config{Region: cp.Config().Region, BaseEndpoint: aws.String(cp.Endpoint()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, ""),
		HTTPClient:  &http.Client{Transport: tr}}
	client := ecs.NewFromConfig(awsCfg)
	const cluster = "sim"
	if _, err := client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(cluster)}); err != nil {
		return Result{}, err
	}
	if _, err := client.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("sim"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("sim:latest"),
			Cpu: int32(cfg.TaskCPU), Memory: aws.Int32(int32(cfg.TaskMemory))}}}); err != nil {
		return Result{}, err
	}

	// The simulated agents' transitions go through a pool of submitters.
	reports := make(chan report, 4096)
	var reported atomic.Int64
	var rwg sync.WaitGroup
	for range 16 {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case r := <-reports:
					if submit(ctx, client, r) == nil && r.status == "RUNNING" {
						reported.Add(1)
					}
				}
			}
		}()
	}
	defer func() { cancel(); rwg.Wait() }()

	agents := make([]*simAgent, cfg.Instances)
	for i := range agents {
		agents[i] = &simAgent{client: client, cluster: cluster, zone: zones[i%len(zones)],
			typ: instanceTypes[(i/len(zones))%len(instanceTypes)], reports: reports}
	}
	if err := parallel(ctx, agents, 32, func(a *simAgent) error {
		if err := a.register(ctx); err != nil {
			return err
		}
		return a.connect(ctx, awsCfg, cp.Endpoint())
	}); err != nil {
		return Result{}, err
	}
	fmt.Fprintf(progress, "sim: %d instances registered; waiting for their links\n", cfg.Instances)
	if err := waitConnected(ctx, client, cluster, cfg.Instances); err != nil {
		return Result{}, err
	}
	res := Result{Instances: cfg.Instances, Requested: cfg.Tasks, Clients: cfg.Clients, PerCall: cfg.PerCall,
		PerAZ: map[string]int{}, Setup: time.Since(setupStart)}
	byARN := map[string]*simAgent{}
	for _, a := range agents {
		byARN[a.arn] = a
		if a.typ.Name != "t3.nano" {
			res.Eligible++
		}
	}
	fmt.Fprintf(progress, "sim: %d instances connected in %s; placing %d tasks\n", cfg.Instances, res.Setup.Round(time.Millisecond), cfg.Tasks)

	// The RunTask clients.
	var (
		remaining = int64(cfg.Tasks)
		placed    atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		onInst    = map[string]int{}
		firstErr  error
	)
	take := func() int {
		for {
			r := atomic.LoadInt64(&remaining)
			if r <= 0 {
				return 0
			}
			n := min(r, int64(cfg.PerCall))
			if atomic.CompareAndSwapInt64(&remaining, r, r-n) {
				return int(n)
			}
		}
	}
	in := func(n int) *ecs.RunTaskInput {
		return &ecs.RunTaskInput{Cluster: aws.String(cluster), TaskDefinition: aws.String("sim"), Count: aws.Int32(int32(n)),
			PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String(memberOf)}},
			PlacementStrategy: []types.PlacementStrategy{
				{Type: types.PlacementStrategyTypeSpread, Field: aws.String("attribute:ecs.availability-zone")},
				{Type: types.PlacementStrategyTypeBinpack, Field: aws.String("memory")}}}
	}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				p := placed.Load()
				el := time.Since(start)
				fmt.Fprintf(progress, "sim: %6d/%d tasks placed in %5.1fs (%.0f placements/s), %d reported RUNNING\n",
					p, cfg.Tasks, el.Seconds(), float64(p)/el.Seconds(), reported.Load())
			}
		}
	}()
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := take(); n > 0; n = take() {
				t0 := time.Now()
				out, err := client.RunTask(ctx, in(n))
				lat := time.Since(t0)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				latencies = append(latencies, lat)
				res.Calls++
				res.Failures += len(out.Failures)
				for _, t := range out.Tasks {
					arn := aws.ToString(t.ContainerInstanceArn)
					onInst[arn]++
					if a := byARN[arn]; a != nil {
						res.PerAZ[a.zone]++
					}
				}
				mu.Unlock()
				placed.Add(int64(len(out.Tasks)))
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	close(done)
	if firstErr != nil {
		return Result{}, fmt.Errorf("RunTask: %w", firstErr)
	}
	res.Placed = int(placed.Load())
	res.Stats = cp.ECSServer().PlacementStats()
	slices.Sort(latencies)
	res.P50, res.P99 = quantile(latencies, 0.50), quantile(latencies, 0.99)
	var usedMem, regMem, usedCPU, regCPU float64
	for arn, n := range onInst {
		a := byARN[arn]
		if a == nil || n == 0 {
			continue
		}
		res.UsedInstances++
		usedMem += float64(n * cfg.TaskMemory)
		usedCPU += float64(n * cfg.TaskCPU)
		regMem += float64(a.typ.Memory)
		regCPU += float64(a.typ.CPU)
	}
	if regMem > 0 {
		res.MemDensity, res.CPUDens = usedMem/regMem, usedCPU/regCPU
	}
	// Give the agents a moment to report what was just placed.
	for deadline := time.Now().Add(5 * time.Second); reported.Load() < int64(res.Placed) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	res.Reported = reported.Load()
	return res, nil
}

// quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// parallel runs f on every item with at most n at once; the first error
// wins.
func parallel[T any](ctx context.Context, items []T, n int, f func(T) error) error {
	sem := make(chan struct{}, n)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(it); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// waitConnected waits until n instances of the cluster show a connected
// agent.
func waitConnected(ctx context.Context, c *ecs.Client, cluster string, n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	got := 0
	for time.Now().Before(deadline) {
		got = 0
		p := ecs.NewListContainerInstancesPaginator(c, &ecs.ListContainerInstancesInput{Cluster: aws.String(cluster),
			Filter: aws.String("agentConnected == true")})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			got += len(out.ContainerInstanceArns)
		}
		if got >= n {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("only %d of %d simulated instances connected within 2 minutes", got, n)
}
