package service_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/runtime/docker/dockertest"
)

// TestE2EScaleAndReplace: 0 -> 5 -> 2 tasks; a task whose container is
// killed is replaced.
func TestE2EScaleAndReplace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	ctx := t.Context()
	td := e.registerApp("scale")
	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	e.waitStable("web", 30*time.Second)
	if _, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String("web"), DesiredCount: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	e.waitStable("web", time.Minute)
	if r, _, _ := e.running("web"); r != 5 {
		t.Fatalf("%d running, want 5", r)
	}
	// Kill one task's container: the agent reports it stopped and the
	// controller starts a replacement.
	victim := e.tasks("web")[0]
	rt := dockertest.Runtime(t)
	if err := rt.KillContainer(ctx, aws.ToString(victim.Containers[0].RuntimeId), "KILL"); err != nil {
		t.Fatal(err)
	}
	e.eventually(time.Minute, "a replacement for the killed task", func() bool {
		n := 0
		for _, tk := range e.tasks("web") { // one snapshot
			if aws.ToString(tk.TaskArn) == aws.ToString(victim.TaskArn) {
				return false
			}
			if aws.ToString(tk.LastStatus) == "RUNNING" && aws.ToString(tk.DesiredStatus) == "RUNNING" {
				n++
			}
		}
		return n == 5
	})
	if !hasMessage(e.service("web"), "has started 1 tasks") {
		t.Errorf("no event for the replacement: %q", messages(e.service("web")))
	}
	if _, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String("web"), DesiredCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	e.waitStable("web", time.Minute)
	e.eventually(30*time.Second, "2 tasks left", func() bool { return len(e.tasks("web")) == 2 })
	s := e.service("web")
	if s.RunningCount != 2 || !hasMessage(s, "running tasks: (task ") || !hasMessage(s, "has reached a steady state.") {
		t.Fatalf("service %d running, events %q", s.RunningCount, messages(s))
	}
}

// TestE2ERollingUpdate: 4 tasks, 50/200, a new revision: by polling, never
// fewer than 2 healthy nor more than 8 running (a task told to stop counts
// until it has stopped); the rollout completes.
func TestE2ERollingUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	ctx := t.Context()
	td1 := e.registerApp("roll")
	td2 := e.registerApp("roll", "--port", "8080")
	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td1), DesiredCount: aws.Int32(4),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(200)}}); err != nil {
		t.Fatal(err)
	}
	e.waitStable("web", time.Minute)
	start := time.Now()
	if _, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String("web"), TaskDefinition: aws.String(td2)}); err != nil {
		t.Fatal(err)
	}
	minHealthy, maxActive, maxNotStopped, polls := 4, 0, 0, 0
	var completed time.Duration
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		c := countTasks(e.tasks("web"))
		polls++
		// maxPercent bounds running plus pending tasks: an over-start shows
		// first as PENDING, and a stopped task counts until it is STOPPED.
		minHealthy, maxActive, maxNotStopped = min(minHealthy, c.running), max(maxActive, c.active), max(maxNotStopped, c.notStopped)
		s := e.service("web")
		if len(s.Deployments) == 1 && s.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted &&
			aws.ToString(s.Deployments[0].TaskDefinition) == td2 && c.byTD[td2] == 4 && c.running == 4 {
			completed = time.Since(start)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if completed == 0 {
		s := e.service("web")
		t.Fatalf("rollout not completed: %+v\nevents %q", s.Deployments, messages(s))
	}
	t.Logf("rolling update of 4 tasks (50/200): COMPLETED after %s; %d polls saw between %d and %d running (%d not STOPPED)", completed.Round(time.Millisecond), polls, minHealthy, maxActive, maxNotStopped)
	if minHealthy < 2 || maxActive > 8 || maxNotStopped > 8 {
		t.Fatalf("saw %d healthy at the lowest, %d wanted running or pending and %d not STOPPED at the highest, want >= 2, <= 8 and <= 8", minHealthy, maxActive, maxNotStopped)
	}
	e.waitStable("web", 30*time.Second)
}

// TestE2ECircuitBreakerRollback: a revision whose container exits at once
// fails its deployment and the service returns to the last COMPLETED one.
func TestE2ECircuitBreakerRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	ctx := t.Context()
	good := e.registerApp("cb")
	bad := e.registerApp("cb", "--exit-after", "1ms", "--exit-code", "3")
	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(good), DesiredCount: aws.Int32(2),
		DeploymentConfiguration: &types.DeploymentConfiguration{DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}}); err != nil {
		t.Fatal(err)
	}
	e.waitCompleted("web", time.Minute) // the rollback target
	upd, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String("web"), TaskDefinition: aws.String(bad)})
	if err != nil {
		t.Fatal(err)
	}
	badID := aws.ToString(upd.Service.Deployments[0].Id)
	deadline := time.Now().Add(time.Minute)
	for !hasMessage(e.service("web"), "deployment "+badID+" deployment failed: tasks failed to start.") {
		if time.Now().After(deadline) {
			s := e.service("web")
			var stopped []string
			out, _ := e.c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(e.cluster), DesiredStatus: types.DesiredStatusStopped})
			if len(out.TaskArns) > 0 {
				d, _ := e.c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(e.cluster), Tasks: out.TaskArns})
				for _, tk := range d.Tasks {
					stopped = append(stopped, aws.ToString(tk.LastStatus)+" "+string(tk.StopCode)+" "+aws.ToString(tk.StoppedReason))
				}
			}
			t.Fatalf("no circuit breaker: deployments %+v\nevents %q\nstopped %q", s.Deployments, messages(s), stopped)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.waitStable("web", 2*time.Minute)
	e.waitCompleted("web", 30*time.Second)
	s := e.service("web")
	d := s.Deployments[0]
	if aws.ToString(d.TaskDefinition) != good || d.RolloutState != types.DeploymentRolloutStateCompleted || aws.ToString(s.TaskDefinition) != good {
		t.Fatalf("after rollback: service td %s, deployment %+v", aws.ToString(s.TaskDefinition), d)
	}
	if _, _, byTD := e.running("web"); byTD[good] != 2 || byTD[bad] != 0 {
		t.Fatalf("running by revision: %v", byTD)
	}
}

// TestE2EDaemonJoin: a DAEMON service on three agents runs three tasks, one
// per instance; a fourth agent that joins gets one too; when one instance is
// DRAINING its task stops, three keep running, and none is placed on it.
func TestE2EDaemonJoin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3)
	ctx := t.Context()
	td := e.registerApp("daemon")
	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("d"),
		TaskDefinition: aws.String(td), SchedulingStrategy: types.SchedulingStrategyDaemon}); err != nil {
		t.Fatal(err)
	}
	perInstance := func(want int) bool {
		m := map[string]int{}
		for _, tk := range e.tasks("d") {
			if aws.ToString(tk.LastStatus) == "RUNNING" {
				m[aws.ToString(tk.ContainerInstanceArn)]++
			}
		}
		if len(m) != want {
			return false
		}
		for _, n := range m {
			if n != 1 {
				return false
			}
		}
		return true
	}
	e.eventually(time.Minute, "one task on each of 3 instances", func() bool { return perInstance(3) })
	e.waitStable("d", time.Minute)
	e.addAgent()
	e.eventually(time.Minute, "one task on each of 4 instances", func() bool { return perInstance(4) })
	e.waitStable("d", time.Minute)
	if s := e.service("d"); s.DesiredCount != 4 || s.RunningCount != 4 {
		t.Fatalf("daemon service desired %d running %d", s.DesiredCount, s.RunningCount)
	}

	drained := e.agents[0].InstanceARN()
	before := map[string]bool{}
	var drainedTask string
	for _, tk := range e.allTasks("d") {
		before[aws.ToString(tk.TaskArn)] = true
		if aws.ToString(tk.ContainerInstanceArn) == drained && aws.ToString(tk.LastStatus) == "RUNNING" {
			drainedTask = aws.ToString(tk.TaskArn)
		}
	}
	if drainedTask == "" {
		t.Fatalf("no daemon task running on %s", drained)
	}
	if _, err := e.c.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String(e.cluster),
		ContainerInstances: []string{drained}, Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	// drainedLeft polls every task: none launched since the drain may be on
	// the draining instance; it reports whether the instance's task has
	// stopped and the three others run one task each.
	drainedLeft := func() bool {
		m := map[string]int{}
		off := true
		for _, tk := range e.allTasks("d") {
			arn, in, st := aws.ToString(tk.TaskArn), aws.ToString(tk.ContainerInstanceArn), aws.ToString(tk.LastStatus)
			if in == drained && !before[arn] {
				t.Fatalf("daemon task %s (%s) placed on the draining instance", arn, st)
			}
			if in == drained && st != "STOPPED" {
				off = false
			}
			if st == "RUNNING" && aws.ToString(tk.DesiredStatus) == "RUNNING" {
				m[in]++
			}
		}
		if !off || len(m) != 3 || m[drained] != 0 {
			return false
		}
		for _, n := range m {
			if n != 1 {
				return false
			}
		}
		return true
	}
	e.eventually(time.Minute, "the draining instance's task stopped and one task on each of 3 others", drainedLeft)
	e.waitStable("d", time.Minute)
	// Steady, and it stays so: nothing comes back to the draining instance.
	for range 10 {
		if !drainedLeft() {
			t.Fatalf("after the drain settled: not one task on each of the 3 other instances")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if s := e.service("d"); s.DesiredCount != 3 || s.RunningCount != 3 {
		t.Fatalf("daemon service with a draining instance: desired %d running %d", s.DesiredCount, s.RunningCount)
	}
	out, err := e.c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(e.cluster), Tasks: []string{drainedTask}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 1 || aws.ToString(out.Tasks[0].LastStatus) != "STOPPED" || out.Tasks[0].StopCode != types.TaskStopCodeServiceSchedulerInitiated {
		t.Fatalf("the draining instance's task: %+v", out.Tasks)
	}
	t.Logf("drained task stopped: %s", aws.ToString(out.Tasks[0].StoppedReason))
}

// TestE2EDrain: the tasks of a DRAINING instance move to the others.
func TestE2EDrain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	ctx := t.Context()
	td := e.registerApp("drain")
	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td), DesiredCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	e.waitStable("web", time.Minute)
	drained := e.agents[0].InstanceARN()
	if _, err := e.c.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String(e.cluster),
		ContainerInstances: []string{drained}, Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	e.eventually(time.Minute, "all tasks off the draining instance", func() bool {
		n := 0
		for _, tk := range e.tasks("web") {
			if aws.ToString(tk.ContainerInstanceArn) == drained {
				return false
			}
			if aws.ToString(tk.LastStatus) == "RUNNING" {
				n++
			}
		}
		return n == 4
	})
	e.waitStable("web", time.Minute)
}

// TestE2ERestartMidRollout: the control plane (and so the controller) is
// restarted during a rollout; the rollout finishes with exactly the desired
// tasks of the new revision, having launched no more than that, each old
// task stopped once, and by polling never more than maximumPercent wanted
// running nor fewer than minimumHealthyPercent running.
func TestE2ERestartMidRollout(t *testing.T) {
	t.Parallel()
	dockertest.Runtime(t)
	dataDir, addr := t.TempDir(), freeAddr(t)
	cp := startControlPlane(t, dataDir, addr)
	awsCfg, c := clientFor(cp)
	e := &env{t: t, c: c, cluster: "restart", awsCfg: awsCfg, url: cp.Endpoint()}
	e.createCluster()
	e.addAgent()
	e.addAgent()
	ctx := t.Context()
	td1 := e.registerApp("rs")
	td2 := e.registerApp("rs", "--port", "8080")
	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td1), DesiredCount: aws.Int32(4),
		DeploymentConfiguration: &types.DeploymentConfiguration{MinimumHealthyPercent: aws.Int32(50), MaximumPercent: aws.Int32(150)}}); err != nil {
		t.Fatal(err)
	}
	e.waitStable("web", time.Minute)
	oldDep := aws.ToString(e.service("web").Deployments[0].Id)
	upd, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String("web"), TaskDefinition: aws.String(td2)})
	if err != nil {
		t.Fatal(err)
	}
	newDep := aws.ToString(upd.Service.Deployments[0].Id)
	// observe polls every task of the service: the bounds of 50/150 of 4
	// (2 running, 6 wanted running or pending), and each task's stop, which
	// must not change once made.
	minRunning, maxActive, maxNotStopped, polls := 4, 0, 0, 0
	stopping := map[string]string{}
	observe := func() census {
		tasks := e.allTasks("web")
		c := countTasks(tasks)
		polls++
		minRunning, maxActive, maxNotStopped = min(minRunning, c.running), max(maxActive, c.active), max(maxNotStopped, c.notStopped)
		for _, tk := range tasks {
			if tk.StoppingAt == nil {
				continue
			}
			arn, stop := aws.ToString(tk.TaskArn), tk.StoppingAt.String()+" "+string(tk.StopCode)+" "+aws.ToString(tk.StoppedReason)
			if prev, ok := stopping[arn]; ok && prev != stop {
				t.Fatalf("task %s stopped twice: %q then %q", arn, prev, stop)
			}
			stopping[arn] = stop
		}
		return c
	}
	e.eventually(30*time.Second, "the rollout to start", func() bool {
		c := observe()
		return c.byTD[td2] > 0 || c.notStopped > 4
	})
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := cp.Close(closeCtx); err != nil {
		t.Fatalf("stopping the control plane: %v", err)
	}
	cancel()
	cp2 := startControlPlane(t, dataDir, addr)
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = cp2.Close(ctx)
		})
	})
	_, e.c = clientFor(cp2)
	e.eventually(2*time.Minute, "exactly 4 tasks of the new revision", func() bool {
		c := observe()
		return c.notStopped == 4 && c.byTD[td2] == 4
	})
	e.waitStable("web", time.Minute)
	observe()
	t.Logf("%d polls saw between %d and %d running (%d not STOPPED)", polls, minRunning, maxActive, maxNotStopped)
	if minRunning < 2 || maxActive > 6 {
		t.Errorf("saw %d running at the lowest and %d wanted running or pending at the highest, want >= 2 and <= 6", minRunning, maxActive)
	}
	s := e.service("web")
	if s.RunningCount != 4 || len(s.Deployments) != 1 || aws.ToString(s.Deployments[0].TaskDefinition) != td2 || aws.ToString(s.Deployments[0].Id) != newDep {
		t.Fatalf("after the restart: running %d deployments %+v", s.RunningCount, s.Deployments)
	}
	// Every task ever launched: the 4 old ones, each stopped by the
	// scheduler, and exactly 4 of the new deployment, all running (a task
	// launched twice across the restart would show here, stopped or not).
	byDep := map[string][]string{}
	for _, tk := range e.allTasks("web") {
		dep, st := aws.ToString(tk.StartedBy), aws.ToString(tk.LastStatus)
		byDep[dep] = append(byDep[dep], st)
		switch {
		case dep == oldDep && aws.ToString(tk.TaskDefinitionArn) == td1:
			if st != "STOPPED" || tk.StopCode != types.TaskStopCodeServiceSchedulerInitiated {
				t.Errorf("old task %s: %s stopCode %s", aws.ToString(tk.TaskArn), st, tk.StopCode)
			}
		case dep == newDep && aws.ToString(tk.TaskDefinitionArn) == td2:
			if st != "RUNNING" {
				t.Errorf("new task %s: %s (%s %s)", aws.ToString(tk.TaskArn), st, tk.StopCode, aws.ToString(tk.StoppedReason))
			}
		default:
			t.Errorf("task %s of deployment %q, %s", aws.ToString(tk.TaskArn), dep, aws.ToString(tk.TaskDefinitionArn))
		}
	}
	if len(byDep[oldDep]) != 4 || len(byDep[newDep]) != 4 || len(byDep) != 2 {
		t.Fatalf("tasks launched by deployment (want 4 of %s, 4 of %s): %v", oldDep, newDep, byDep)
	}
}

// TestE2EUnhealthyTasks: tasks that fail their container health checks are
// stopped and replaced, and count toward the circuit breaker, which fails
// the deployment.
func TestE2EUnhealthyTasks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	ctx := t.Context()
	probe := []string{"CMD", images.BinaryPath, "sample-app", "probe", "http://127.0.0.1:8080/health"}
	out, err := e.c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("sick"), NetworkMode: types.NetworkModeBridge,
		ContainerDefinitions: []types.ContainerDefinition{{
			Name: aws.String("web"), Image: aws.String(images.SampleApp), Memory: aws.Int32(32), Command: []string{"--unhealthy"},
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(0)}},
			HealthCheck:  &types.HealthCheck{Command: probe, Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(1)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("sick"),
		TaskDefinition: out.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(1),
		DeploymentConfiguration: &types.DeploymentConfiguration{DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true}}}); err != nil {
		t.Fatal(err)
	}
	e.eventually(2*time.Minute, "the deployment FAILED", func() bool {
		s := e.service("sick")
		return len(s.Deployments) == 1 && s.Deployments[0].RolloutState == types.DeploymentRolloutStateFailed
	})
	stopped, err := e.c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("sick"), DesiredStatus: types.DesiredStatusStopped})
	if err != nil || len(stopped.TaskArns) < 3 {
		t.Fatalf("stopped tasks: %v %d, want >= 3", err, len(stopped.TaskArns))
	}
	d, err := e.c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(e.cluster), Tasks: stopped.TaskArns})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range d.Tasks {
		if tk.StopCode != types.TaskStopCodeServiceSchedulerInitiated || aws.ToString(tk.StoppedReason) != "Task failed container health checks" {
			t.Fatalf("stopped task: %s %q", tk.StopCode, aws.ToString(tk.StoppedReason))
		}
	}
}
