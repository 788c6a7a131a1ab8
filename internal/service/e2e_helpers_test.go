package service_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/agent/agenttest"
	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/controlplane"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
	"github.com/berth-dev/berth/internal/testcluster"
)

// These tests run real agents on the local Docker engine (several agents
// share one engine) against an in-process control plane, and drive it with
// the official SDK. They fail, never skip, without an engine.

// env is a control plane, a cluster and its agents.
type env struct {
	t       testing.TB
	c       *ecs.Client
	cluster string
	awsCfg  aws.Config
	url     string
	agents  []*agenttest.Agent
}

func newEnv(t testing.TB, agents int) *env {
	t.Helper()
	dockertest.Runtime(t) // fail early and clearly without an engine
	cp := testcluster.Start(t, testcluster.Options{})
	cfg := cp.AWSConfig()
	cfg.RetryMaxAttempts = 3 // polling through a busy machine: retry transport errors
	e := &env{t: t, c: ecs.NewFromConfig(cfg), cluster: fmt.Sprint("svc", time.Now().UnixNano()%1e9), awsCfg: cp.AWSConfig(), url: cp.Endpoint()}
	e.createCluster()
	for range agents {
		e.addAgent()
	}
	return e
}

func (e *env) createCluster() {
	if _, err := e.c.CreateCluster(e.t.Context(), &ecs.CreateClusterInput{ClusterName: aws.String(e.cluster)}); err != nil {
		e.t.Fatal(err)
	}
}

// addAgent starts an agent joined to the cluster, its configuration changed
// by opts, and waits until it is connected.
func (e *env) addAgent(opts ...func(*config.Config)) *agenttest.Agent {
	e.t.Helper()
	a := agenttest.Start(e.t, agenttest.Options{AWS: e.awsCfg, Endpoint: e.url, Cluster: e.cluster, StopTimeout: 2 * time.Second,
		Configure: func(c *config.Config) {
			for _, o := range opts {
				o(c)
			}
		}})
	agenttest.WaitConnected(e.t, e.c, e.cluster, a.InstanceARN())
	e.agents = append(e.agents, a)
	return a
}

// inZone sets an agent's Availability Zone (attribute
// ecs.availability-zone).
func inZone(az string) func(*config.Config) {
	return func(c *config.Config) { c.AvailabilityZone = az }
}

func (e *env) eventually(timeout time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// registerApp registers the sample app (bridge, ephemeral host port) with
// extra args, e.g. --exit-after.
func (e *env) registerApp(family string, args ...string) string {
	e.t.Helper()
	out, err := e.c.RegisterTaskDefinition(e.t.Context(), &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(family), NetworkMode: types.NetworkModeBridge,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String(images.SampleApp), Memory: aws.Int32(32), Command: args,
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(0)}},
		}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
}

func (e *env) service(name string) types.Service {
	e.t.Helper()
	out, err := e.c.DescribeServices(e.t.Context(), &ecs.DescribeServicesInput{Cluster: aws.String(e.cluster), Services: []string{name}})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(out.Services) != 1 {
		e.t.Fatalf("service %s: %+v", name, out.Failures)
	}
	return out.Services[0]
}

// allTasks describes every task of the service, STOPPED ones included
// (they stay listed for an hour). A task whose desired status changes
// between the two listings appears in both and is described once.
func (e *env) allTasks(service string) []types.Task {
	e.t.Helper()
	var arns []string
	seen := map[string]bool{}
	// RUNNING first: desired status only goes from RUNNING to STOPPED, so
	// no task slips between the listings.
	for _, ds := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		p := ecs.NewListTasksPaginator(e.c, &ecs.ListTasksInput{Cluster: aws.String(e.cluster), ServiceName: aws.String(service), DesiredStatus: ds, MaxResults: aws.Int32(100)})
		for p.HasMorePages() {
			out, err := p.NextPage(e.t.Context())
			if err != nil {
				e.t.Fatal(err)
			}
			for _, arn := range out.TaskArns {
				if !seen[arn] {
					seen[arn] = true
					arns = append(arns, arn)
				}
			}
		}
	}
	var tasks []types.Task
	for chunk := range slices.Chunk(arns, 100) {
		out, err := e.c.DescribeTasks(e.t.Context(), &ecs.DescribeTasksInput{Cluster: aws.String(e.cluster), Tasks: chunk})
		if err != nil {
			e.t.Fatal(err)
		}
		tasks = append(tasks, out.Tasks...)
	}
	return tasks
}

// tasks describes the service's tasks that are not STOPPED (any desired
// status).
func (e *env) tasks(service string) []types.Task {
	e.t.Helper()
	return slices.DeleteFunc(e.allTasks(service), func(tk types.Task) bool { return aws.ToString(tk.LastStatus) == "STOPPED" })
}

// census counts a service's tasks as a rollout's bounds see them.
type census struct {
	// running: desired and last status RUNNING (healthy, as these task
	// definitions have no health checks); active: desired RUNNING and not
	// STOPPED (what the controller counts toward maximumPercent).
	running, active int
	// notStopped: any task not STOPPED, one told to stop but still running
	// included (ECS's "RUNNING or PENDING state").
	notStopped int
	// byTD counts running tasks by task definition.
	byTD map[string]int
}

func countTasks(tasks []types.Task) census {
	c := census{byTD: map[string]int{}}
	for _, tk := range tasks {
		st := aws.ToString(tk.LastStatus)
		if st == "STOPPED" {
			continue
		}
		c.notStopped++
		if aws.ToString(tk.DesiredStatus) != "RUNNING" {
			continue
		}
		c.active++
		if st == "RUNNING" {
			c.running++
			c.byTD[aws.ToString(tk.TaskDefinitionArn)]++
		}
	}
	return c
}

// running counts RUNNING tasks of the service (healthy, as these task
// definitions have no health checks) and RUNNING or PENDING ones.
func (e *env) running(service string) (running, active int, byTD map[string]int) {
	e.t.Helper()
	c := countTasks(e.tasks(service))
	return c.running, c.active, c.byTD
}

func (e *env) waitStable(service string, timeout time.Duration) {
	e.t.Helper()
	w := ecs.NewServicesStableWaiter(e.c, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, 500*time.Millisecond
	})
	if err := w.Wait(e.t.Context(), &ecs.DescribeServicesInput{Cluster: aws.String(e.cluster), Services: []string{service}}, timeout); err != nil {
		s := e.service(service)
		e.t.Fatalf("services-stable %s: %v\nrunning %d desired %d deployments %+v\nevents %q", service, err, s.RunningCount, s.DesiredCount, s.Deployments, messages(s))
	}
}

// waitCompleted waits until the service's only deployment is COMPLETED.
func (e *env) waitCompleted(service string, timeout time.Duration) {
	e.t.Helper()
	e.eventually(timeout, service+" COMPLETED", func() bool {
		s := e.service(service)
		return len(s.Deployments) == 1 && s.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted
	})
}

func messages(s types.Service) []string {
	var out []string
	for _, ev := range s.Events {
		out = append(out, aws.ToString(ev.Message))
	}
	return out
}

func hasMessage(s types.Service, substr string) bool {
	for _, m := range messages(s) {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

// freeAddr picks a loopback address for a control plane that must keep its
// port across a restart.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startControlPlane(t testing.TB, dataDir, listen string) *controlplane.ControlPlane {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, err := controlplane.Start(ctx, controlplane.Config{Listen: listen, DataDir: dataDir, Dev: true,
		RootKey: controlplane.RootKey{AccessKeyID: testcluster.AccessKeyID, SecretAccessKey: testcluster.SecretAccessKey}})
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	return cp
}

func clientFor(cp *controlplane.ControlPlane) (aws.Config, *ecs.Client) {
	cfg := aws.Config{Region: cp.Config().Region, BaseEndpoint: aws.String(cp.Endpoint()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testcluster.AccessKeyID, testcluster.SecretAccessKey, "")}
	polling := cfg
	polling.RetryMaxAttempts = 3
	return cfg, ecs.NewFromConfig(polling)
}
