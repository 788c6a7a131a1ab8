package agenttest

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/berth-dev/berth/internal/agent"
	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/agent/engine"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
)

// Defaults of Options' zero values.
const (
	// DefaultStopTimeout is short so stopping a task does not wait the ECS
	// agent's 30 s for a container that ignores SIGTERM.
	DefaultStopTimeout = 5 * time.Second
	// DefaultResources (CPU units and MiB) leave room for several agents
	// on one engine whatever the machine has.
	DefaultResources = 4096
)

// Options configure an agent of a test. Zero values take the defaults noted.
type Options struct {
	// AWS is the control plane's SDK configuration; its region is the agent's.
	AWS aws.Config
	// Endpoint is the control plane's URL; Cluster the cluster to join.
	Endpoint, Cluster string
	// DataDir keeps the agent's state; default a fresh directory of the test.
	// Pass the same one to start an agent again as the same instance.
	DataDir string
	// CPU (units) and Memory (MiB) registered; default DefaultResources.
	CPU, Memory int
	// AvailabilityZone and InstanceType, when set, replace config.Default's.
	AvailabilityZone, InstanceType string
	// Attributes are added to the custom attributes.
	Attributes map[string]string
	// StopTimeout is ECS_CONTAINER_STOP_TIMEOUT; default DefaultStopTimeout.
	StopTimeout time.Duration
	// Configure, when set, changes anything else last.
	Configure func(*config.Config)
}

// Agent is a running in-process agent.
type Agent struct {
	*agent.Agent
	cancel context.CancelFunc
	done   chan struct{}
}

// Stop stops the agent and waits until Run returned; its tasks' containers
// run on. It may be called more than once (it is also a cleanup of Start).
func (a *Agent) Stop() {
	a.cancel()
	<-a.done
}

// Start runs an agent on the local Docker engine (failing the test without
// one) with the task metadata endpoint on an ephemeral port. When the test
// ends it is stopped, then its containers, volumes, networks and task
// cgroups are removed (see Remove). Start does not wait for the agent to
// connect: see WaitConnected.
func Start(t testing.TB, opts Options) *Agent {
	t.Helper()
	rt := dockertest.Runtime(t)
	cfg := config.Default()
	cfg.Endpoint, cfg.Cluster, cfg.Region = opts.Endpoint, opts.Cluster, opts.AWS.Region
	cfg.DataDir = opts.DataDir
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(t.TempDir(), "agent")
	}
	cfg.StopTimeout = cmp.Or(opts.StopTimeout, DefaultStopTimeout)
	cfg.CPU, cfg.Memory = cmp.Or(opts.CPU, DefaultResources), cmp.Or(opts.Memory, DefaultResources)
	cfg.MetadataListen = "0.0.0.0:0"
	if opts.AvailabilityZone != "" {
		cfg.AvailabilityZone = opts.AvailabilityZone
	}
	if opts.InstanceType != "" {
		cfg.InstanceType = opts.InstanceType
	}
	maps.Copy(cfg.Attributes, opts.Attributes)
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := agent.New(ctx, agent.Options{Config: cfg, Runtime: rt, AWS: opts.AWS, Version: "test"})
	if err != nil {
		t.Fatalf("starting the agent: %v", err)
	}
	t.Cleanup(func() { Remove(t, rt, a.AgentID()) })
	// Not the test's context: a test may stop the agent and keep going.
	rctx, rcancel := context.WithCancel(context.Background())
	ra := &Agent{Agent: a, cancel: rcancel, done: make(chan struct{})}
	go func() {
		defer close(ra.done)
		if err := a.Run(rctx); err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	t.Cleanup(ra.Stop) // before Remove: cleanups run last first
	return ra
}

// Remove force-removes what the agent agentID made in rt (containers with
// their volumes, named volumes, networks) and its tasks' cgroups, as a
// stopped agent leaves them. Errors other than "not found" fail the test.
func Remove(t testing.TB, rt runtime.Runtime, agentID string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := runtime.Filter{Labels: map[string]string{engine.LabelAgent: agentID}}
	list, _ := rt.ListContainers(ctx, f)
	for _, c := range list {
		if err := rt.RemoveContainer(ctx, c.ID, runtime.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("cleanup: %v", err)
		}
	}
	vols, _ := rt.ListVolumes(ctx, f)
	for _, v := range vols {
		_ = rt.RemoveVolume(ctx, v.Name, true)
	}
	// After the containers: a cgroup with processes in it cannot go.
	// The version decides what DetectCgroups probes (v1's memory hierarchy,
	// or the unified root), so it is found first.
	version := "1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		version = "2"
	}
	if cg := engine.DetectCgroups("/sys/fs/cgroup", "cgroupfs", version, agentID); cg != nil {
		cg.RemoveAll()
	}
	nets, _ := rt.ListNetworks(ctx, f)
	for _, n := range nets {
		if err := rt.RemoveNetwork(ctx, n.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// WaitConnected waits up to 30 s until the control plane describes the
// container instance as agentConnected, failing the test otherwise.
func WaitConnected(t testing.TB, client *ecs.Client, cluster, instanceARN string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := client.DescribeContainerInstances(t.Context(), &ecs.DescribeContainerInstancesInput{
			Cluster: aws.String(cluster), ContainerInstances: []string{instanceARN}})
		if err == nil && len(out.ContainerInstances) == 1 && out.ContainerInstances[0].AgentConnected {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("instance %s never connected", instanceARN)
}
