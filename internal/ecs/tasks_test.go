package ecs_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/agentproto"
)

// TestTaskLifecycle runs a task through the whole lifecycle as an agent
// would drive it: placement, the payload on the link, RUNNING with bindings,
// StopTask, STOPPED.
func TestTaskLifecycle(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "life")
	inst := registerAgentInstance(t, c, "life", instanceOpts{cpu: 1024, mem: 1024, ports: []string{"22"},
		attrs: map[string]string{"ecs.availability-zone": "us-east-1b"}})
	ag := connectAgent(t, tg.endpoint, "life", inst, agentOpts{})
	first := ag.first
	if first.Seq != 1 || len(first.Tasks) != 0 || first.ContainerInstanceARN != inst {
		t.Fatalf("initial payload %+v", first)
	}
	tdARN := registerTD(t, c, webTD("web", 8080, 256))

	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("life"), TaskDefinition: aws.String("web"),
		StartedBy: aws.String("tester"), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Tasks) != 1 || len(run.Failures) != 0 {
		t.Fatalf("run: %+v %+v", run.Tasks, run.Failures)
	}
	task := run.Tasks[0]
	arn := aws.ToString(task.TaskArn)
	if aws.ToString(task.LastStatus) != "PENDING" || aws.ToString(task.DesiredStatus) != "RUNNING" ||
		aws.ToString(task.ContainerInstanceArn) != inst || aws.ToString(task.Group) != "family:web" ||
		aws.ToString(task.TaskDefinitionArn) != tdARN || task.LaunchType != types.LaunchTypeEc2 ||
		aws.ToString(task.AvailabilityZone) != "us-east-1b" || task.Version != 1 || task.CreatedAt == nil {
		t.Fatalf("run task: %+v", task)
	}
	if len(task.Containers) != 1 || aws.ToString(task.Containers[0].LastStatus) != "PENDING" ||
		aws.ToString(task.Containers[0].Memory) != "256" || aws.ToString(task.Containers[0].Cpu) != "256" {
		t.Fatalf("containers: %+v", task.Containers)
	}

	p := ag.nextPayload(func(p agentproto.Payload) bool { return payloadTask(p, arn) != nil })
	ts := payloadTask(p, arn)
	if ts.DesiredStatus != "RUNNING" || ts.ContainerARNs["web"] != aws.ToString(task.Containers[0].ContainerArn) ||
		aws.ToString(ts.Definition.Family) != "web" || ts.AvailabilityZone != "us-east-1b" || p.Seq <= first.Seq {
		t.Fatalf("payload task %+v", ts)
	}

	// Instance accounting while the task is pending.
	ci := describeInstance(t, c, "life", inst)
	if ci.PendingTasksCount != 1 || ci.RunningTasksCount != 0 || !ci.AgentConnected ||
		resource(ci.RemainingResources, "MEMORY").IntegerValue != 1024-256 ||
		resource(ci.RemainingResources, "CPU").IntegerValue != 1024-256 ||
		!slices.Equal(resource(ci.RemainingResources, "PORTS").StringSetValue, []string{"22", "8080"}) {
		t.Fatalf("instance while pending: %+v", ci)
	}
	if ci.HealthStatus == nil || ci.HealthStatus.OverallStatus != types.InstanceHealthCheckStateOk {
		t.Fatalf("instance health: %+v", ci.HealthStatus)
	}

	// The agent reports the container and the task running.
	submitTask(t, c, "life", arn, "RUNNING", types.ContainerStateChange{ContainerName: aws.String("web"), Status: aws.String("RUNNING"),
		RuntimeId: aws.String("docker123"), NetworkBindings: []types.NetworkBinding{{BindIP: aws.String("0.0.0.0"),
			ContainerPort: aws.Int32(80), HostPort: aws.Int32(8080), Protocol: types.TransportProtocolTcp}}})
	got := describeTask(t, c, "life", arn)
	if aws.ToString(got.LastStatus) != "RUNNING" || got.StartedAt == nil || got.Connectivity != types.ConnectivityConnected ||
		len(got.Containers[0].NetworkBindings) != 1 || aws.ToInt32(got.Containers[0].NetworkBindings[0].HostPort) != 8080 ||
		aws.ToString(got.Containers[0].RuntimeId) != "docker123" || len(got.Tags) != 1 || aws.ToString(got.StartedBy) != "tester" {
		t.Fatalf("running: %+v", got)
	}
	ci = describeInstance(t, c, "life", inst)
	if ci.RunningTasksCount != 1 || ci.PendingTasksCount != 0 {
		t.Fatalf("instance while running: %+v", ci)
	}
	// A repeated report changes nothing.
	submitTask(t, c, "life", arn, "RUNNING")
	if again := describeTask(t, c, "life", arn); again.Version != got.Version {
		t.Fatalf("repeated report bumped the version: %d -> %d", got.Version, again.Version)
	}

	// Listing.
	lt, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("life"), ContainerInstance: aws.String(inst)})
	if err != nil || len(lt.TaskArns) != 1 || lt.TaskArns[0] != arn {
		t.Fatalf("list: %v %v", lt, err)
	}
	if lt, _ := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("life"), DesiredStatus: types.DesiredStatusStopped}); len(lt.TaskArns) != 0 {
		t.Fatalf("list stopped: %v", lt.TaskArns)
	}

	// StopTask: the payload carries desired STOPPED; the task shows STOPPING.
	stop, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("life"), Task: aws.String(taskID(arn)), Reason: aws.String("done here")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(stop.Task.DesiredStatus) != "STOPPED" || aws.ToString(stop.Task.LastStatus) != "STOPPING" ||
		stop.Task.StopCode != types.TaskStopCodeUserInitiated || aws.ToString(stop.Task.StoppedReason) != "done here" || stop.Task.StoppingAt == nil {
		t.Fatalf("stop: %+v", stop.Task)
	}
	p = ag.nextPayload(func(p agentproto.Payload) bool {
		ts := payloadTask(p, arn)
		return ts != nil && ts.DesiredStatus == "STOPPED"
	})
	if payloadTask(p, arn).StoppedReason != "done here" {
		t.Fatalf("stop payload %+v", payloadTask(p, arn))
	}
	exit := int32(143)
	submitTask(t, c, "life", arn, "STOPPED", types.ContainerStateChange{ContainerName: aws.String("web"), Status: aws.String("STOPPED"), ExitCode: &exit})
	got = describeTask(t, c, "life", arn)
	if aws.ToString(got.LastStatus) != "STOPPED" || got.StoppedAt == nil || got.ExecutionStoppedAt == nil ||
		got.StopCode != types.TaskStopCodeUserInitiated || aws.ToInt32(got.Containers[0].ExitCode) != 143 ||
		aws.ToString(got.Containers[0].LastStatus) != "STOPPED" {
		t.Fatalf("stopped: %+v", got)
	}
	// The stopped task leaves the payload and frees the instance.
	ag.nextPayload(func(p agentproto.Payload) bool { return payloadTask(p, arn) == nil })
	ci = describeInstance(t, c, "life", inst)
	if ci.RunningTasksCount != 0 || resource(ci.RemainingResources, "MEMORY").IntegerValue != 1024 ||
		!slices.Equal(resource(ci.RemainingResources, "PORTS").StringSetValue, []string{"22"}) {
		t.Fatalf("instance after stop: %+v", ci)
	}
	if lt, _ := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("life"), DesiredStatus: types.DesiredStatusStopped}); len(lt.TaskArns) != 1 {
		t.Fatalf("list stopped: %v", lt.TaskArns)
	}
	// Late reports never move a stopped task back.
	submitTask(t, c, "life", arn, "RUNNING", types.ContainerStateChange{ContainerName: aws.String("web"), Status: aws.String("RUNNING")})
	if late := describeTask(t, c, "life", arn); aws.ToString(late.LastStatus) != "STOPPED" || aws.ToString(late.Containers[0].LastStatus) != "STOPPED" {
		t.Fatalf("late report moved the task back: %+v", late)
	}
}

func TestEssentialContainerExit(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "ess")
	inst := registerAgentInstance(t, c, "ess", instanceOpts{})
	ag := connectAgent(t, tg.endpoint, "ess", inst, agentOpts{})
	in := webTD("two", 0, 128)
	in.ContainerDefinitions = append(in.ContainerDefinitions, types.ContainerDefinition{Name: aws.String("side"),
		Image: aws.String("berth.local/sample-app:latest"), Memory: aws.Int32(64), Essential: aws.Bool(false)})
	registerTD(t, c, in)
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("ess"), TaskDefinition: aws.String("two")})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("run: %v %+v", err, run)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	submitTask(t, c, "ess", arn, "RUNNING",
		types.ContainerStateChange{ContainerName: aws.String("web"), Status: aws.String("RUNNING")},
		types.ContainerStateChange{ContainerName: aws.String("side"), Status: aws.String("RUNNING")})

	// A non-essential container exiting changes nothing for the task.
	one := int32(1)
	if _, err := c.SubmitContainerStateChange(ctx, &ecs.SubmitContainerStateChangeInput{Cluster: aws.String("ess"), Task: aws.String(arn),
		ContainerName: aws.String("side"), Status: aws.String("STOPPED"), ExitCode: &one}); err != nil {
		t.Fatal(err)
	}
	if got := describeTask(t, c, "ess", arn); aws.ToString(got.DesiredStatus) != "RUNNING" {
		t.Fatalf("non-essential exit stopped the task: %+v", got)
	}
	// The essential one exiting stops it.
	if _, err := c.SubmitContainerStateChange(ctx, &ecs.SubmitContainerStateChangeInput{Cluster: aws.String("ess"), Task: aws.String(arn),
		ContainerName: aws.String("web"), Status: aws.String("STOPPED"), ExitCode: &one}); err != nil {
		t.Fatal(err)
	}
	got := describeTask(t, c, "ess", arn)
	if aws.ToString(got.DesiredStatus) != "STOPPED" || got.StopCode != types.TaskStopCodeEssentialContainerExited ||
		aws.ToString(got.StoppedReason) != "Essential container in task exited" || got.StoppingAt == nil {
		t.Fatalf("essential exit: %+v", got)
	}
	ag.nextPayload(func(p agentproto.Payload) bool {
		ts := payloadTask(p, arn)
		return ts != nil && ts.DesiredStatus == "STOPPED"
	})
	// A later StopTask does not rewrite the cause.
	if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("ess"), Task: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	submitTask(t, c, "ess", arn, "STOPPED")
	got = describeTask(t, c, "ess", arn)
	if aws.ToString(got.LastStatus) != "STOPPED" || got.StopCode != types.TaskStopCodeEssentialContainerExited || aws.ToInt32(got.Containers[0].ExitCode) != 1 {
		t.Fatalf("stopped: %+v", got)
	}
}

func TestTaskFailedToStart(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	clusterWithInstance(t, tg, "fail", instanceOpts{})
	registerTD(t, c, webTD("web", 0, 128))
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("fail"), TaskDefinition: aws.String("web")})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("run: %v %+v", err, run)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	reason := "CannotPullContainerError: pull access denied for nope"
	submitTask(t, c, "fail", arn, "STOPPED", types.ContainerStateChange{ContainerName: aws.String("web"), Status: aws.String("STOPPED"), Reason: aws.String(reason)})
	got := describeTask(t, c, "fail", arn)
	if aws.ToString(got.LastStatus) != "STOPPED" || got.StopCode != types.TaskStopCodeTaskFailedToStart ||
		aws.ToString(got.StoppedReason) != reason || got.StartedAt != nil || aws.ToString(got.Containers[0].Reason) != reason {
		t.Fatalf("failed to start: %+v", got)
	}
}

// TestReportsOutOfOrder: reports arriving late or twice never move a task or
// container backwards.
func TestReportsOutOfOrder(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	clusterWithInstance(t, tg, "ooo", instanceOpts{})
	registerTD(t, c, webTD("web", 0, 128))
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("ooo"), TaskDefinition: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	submitTask(t, c, "ooo", arn, "RUNNING")
	submitTask(t, c, "ooo", arn, "PENDING")
	if got := describeTask(t, c, "ooo", arn); aws.ToString(got.LastStatus) != "RUNNING" {
		t.Fatalf("PENDING after RUNNING: %s", aws.ToString(got.LastStatus))
	}
	// A container's RUNNING with bindings, then an older PENDING report.
	for _, st := range []string{"RUNNING", "PENDING", "RUNNING"} {
		if _, err := c.SubmitContainerStateChange(ctx, &ecs.SubmitContainerStateChangeInput{Cluster: aws.String("ooo"), Task: aws.String(arn),
			ContainerName: aws.String("web"), Status: aws.String(st), NetworkBindings: []types.NetworkBinding{{ContainerPort: aws.Int32(80), HostPort: aws.Int32(49153)}}}); err != nil {
			t.Fatal(err)
		}
	}
	got := describeTask(t, c, "ooo", arn)
	if aws.ToString(got.Containers[0].LastStatus) != "RUNNING" || aws.ToInt32(got.Containers[0].NetworkBindings[0].HostPort) != 49153 {
		t.Fatalf("container: %+v", got.Containers[0])
	}
	// Unknown container and unknown task are refused.
	if _, err := c.SubmitContainerStateChange(ctx, &ecs.SubmitContainerStateChangeInput{Cluster: aws.String("ooo"), Task: aws.String(arn),
		ContainerName: aws.String("nope"), Status: aws.String("RUNNING")}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("unknown container: %v", err)
	}
	if _, err := c.SubmitTaskStateChange(ctx, &ecs.SubmitTaskStateChangeInput{Cluster: aws.String("ooo"), Task: aws.String("0123456789abcdef0123456789abcdef"),
		Status: aws.String("RUNNING")}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("unknown task: %v", err)
	}
}

func TestDescribeAndListTasks(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "list")
	a := registerAgentInstance(t, c, "list", instanceOpts{cpu: 10240, mem: 10240})
	b := registerAgentInstance(t, c, "list", instanceOpts{cpu: 10240, mem: 10240})
	connectAgent(t, tg.endpoint, "list", a, agentOpts{})
	connectAgent(t, tg.endpoint, "list", b, agentOpts{})
	registerTD(t, c, webTD("web", 0, 64))
	registerTD(t, c, webTD("api", 0, 64))
	var all []string
	for _, fam := range []string{"web", "api"} {
		run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("list"), TaskDefinition: aws.String(fam), Count: aws.Int32(3),
			StartedBy: aws.String("by-" + fam)})
		if err != nil || len(run.Tasks) != 3 {
			t.Fatalf("run %s: %v %+v", fam, err, run)
		}
		for _, tk := range run.Tasks {
			all = append(all, aws.ToString(tk.TaskArn))
		}
	}
	st, err := c.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String("list"), TaskDefinition: aws.String("web"),
		ContainerInstances: []string{b, "0123456789abcdef0123456789abcdef"}})
	if err != nil || len(st.Tasks) != 1 || len(st.Failures) != 1 || aws.ToString(st.Failures[0].Reason) != "MISSING" ||
		aws.ToString(st.Tasks[0].ContainerInstanceArn) != b {
		t.Fatalf("start task: %v %+v", err, st)
	}
	all = append(all, aws.ToString(st.Tasks[0].TaskArn))

	count := func(in *ecs.ListTasksInput) int {
		t.Helper()
		in.Cluster = aws.String("list")
		n := 0
		p := ecs.NewListTasksPaginator(c, in, func(o *ecs.ListTasksPaginatorOptions) { o.Limit = 2 })
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.TaskArns) > 2 {
				t.Fatalf("page of %d", len(out.TaskArns))
			}
			n += len(out.TaskArns)
		}
		return n
	}
	if n := count(&ecs.ListTasksInput{}); n != 7 {
		t.Fatalf("all: %d", n)
	}
	if n := count(&ecs.ListTasksInput{Family: aws.String("api")}); n != 3 {
		t.Fatalf("family: %d", n)
	}
	if n := count(&ecs.ListTasksInput{StartedBy: aws.String("by-web")}); n != 3 {
		t.Fatalf("startedBy: %d", n)
	}
	// Every Berth task runs on an EC2-style instance: the launchType filter
	// keeps them all for EC2 and none for the other launch types.
	for lt, want := range map[types.LaunchType]int{
		types.LaunchTypeEc2: 7, types.LaunchTypeFargate: 0, types.LaunchTypeExternal: 0, types.LaunchTypeManagedInstances: 0,
	} {
		if n := count(&ecs.ListTasksInput{LaunchType: lt}); n != want {
			t.Fatalf("launchType %s: %d tasks, want %d", lt, n, want)
		}
	}
	// A value outside the enum fails the model's validation, before any
	// filtering (the SDK sends it as is).
	_, err = c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("list"), LaunchType: "BOGUS"})
	if errCode(t, err) != "InvalidParameterException" ||
		!strings.Contains(err.Error(), "Value 'BOGUS' at 'launchType' failed to satisfy constraint: Member must satisfy enum value set: [EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES]") {
		t.Fatalf("launchType BOGUS: %v", err)
	}
	if na, nb := count(&ecs.ListTasksInput{ContainerInstance: aws.String(a)}), count(&ecs.ListTasksInput{ContainerInstance: aws.String(b)}); na+nb != 7 || nb < 1 {
		t.Fatalf("by instance: %d + %d", na, nb)
	}
	if _, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("list"), ServiceName: aws.String("nope")}); errCode(t, err) != "ServiceNotFoundException" {
		t.Fatalf("unknown service: %v", err)
	}
	if _, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("list"), MaxResults: aws.Int32(101)}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("maxResults 101: %v", err)
	}

	d, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("list"), Tasks: append([]string{"0123456789abcdef0123456789abcdef"}, all[:2]...)})
	if err != nil || len(d.Tasks) != 2 || len(d.Failures) != 1 || aws.ToString(d.Failures[0].Reason) != "MISSING" ||
		aws.ToString(d.Failures[0].Arn) != "arn:aws:ecs:us-east-1:000000000000:task/list/0123456789abcdef0123456789abcdef" {
		t.Fatalf("describe: %v %+v", err, d)
	}
	if _, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("list"), Tasks: make([]string, 101)}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("101 tasks: %v", err)
	}
	// A task of another cluster is missing here.
	createCluster(t, c, "other")
	if d, _ := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("other"), Tasks: all[:1]}); len(d.Failures) != 1 {
		t.Fatalf("other cluster: %+v", d)
	}
}

// TestTasksRunningWaiter uses the SDK's waiter, i.e. the CLI's `aws ecs wait
// tasks-running` / `tasks-stopped` acceptors.
func TestTasksWaiters(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	clusterWithInstance(t, tg, "wait", instanceOpts{})
	registerTD(t, c, webTD("web", 0, 64))
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("wait"), TaskDefinition: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(run.Tasks[0].TaskArn)
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = c.SubmitTaskStateChange(ctx, &ecs.SubmitTaskStateChangeInput{Cluster: aws.String("wait"), Task: aws.String(arn), Status: aws.String("RUNNING")})
	}()
	w := ecs.NewTasksRunningWaiter(c, func(o *ecs.TasksRunningWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("wait"), Tasks: []string{arn}}, 10*time.Second); err != nil {
		t.Fatalf("tasks-running: %v", err)
	}
	// A missing task fails the waiter at once.
	if err := w.Wait(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("wait"), Tasks: []string{"0123456789abcdef0123456789abcdef"}}, 5*time.Second); err == nil {
		t.Fatal("tasks-running on a missing task succeeded")
	}
	if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("wait"), Task: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = c.SubmitTaskStateChange(ctx, &ecs.SubmitTaskStateChangeInput{Cluster: aws.String("wait"), Task: aws.String(arn), Status: aws.String("STOPPED")})
	}()
	ws := ecs.NewTasksStoppedWaiter(c, func(o *ecs.TasksStoppedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := ws.Wait(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("wait"), Tasks: []string{arn}}, 10*time.Second); err != nil {
		t.Fatalf("tasks-stopped: %v", err)
	}
	if got := describeTask(t, c, "wait", arn); aws.ToString(got.StoppedReason) != "Task stopped by user" {
		t.Fatalf("default stop reason: %q", aws.ToString(got.StoppedReason))
	}
}
