package ecs_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/berth-dev/berth/internal/agentproto"
)

func failureReasons(fs []types.Failure) []string {
	var out []string
	for _, f := range fs {
		out = append(out, aws.ToString(f.Reason))
	}
	return out
}

func TestRunTaskPlacementFailures(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "pf")
	registerTD(t, c, webTD("web", 8080, 256))
	run := func(in *ecs.RunTaskInput) *ecs.RunTaskOutput {
		t.Helper()
		in.Cluster = aws.String("pf")
		out, err := c.RunTask(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// No instances at all.
	out := run(&ecs.RunTaskInput{TaskDefinition: aws.String("web")})
	if len(out.Tasks) != 0 || len(out.Failures) != 1 || !strings.Contains(aws.ToString(out.Failures[0].Reason), "No Container Instances") {
		t.Fatalf("empty cluster: %+v", out.Failures)
	}
	// An instance whose agent is not connected.
	inst := registerAgentInstance(t, c, "pf", instanceOpts{cpu: 4096, mem: 600})
	out = run(&ecs.RunTaskInput{TaskDefinition: aws.String("web")})
	if len(out.Tasks) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "AGENT" || aws.ToString(out.Failures[0].Arn) != inst {
		t.Fatalf("not connected: %+v", out.Failures)
	}
	connectAgent(t, tg.endpoint, "pf", inst, agentOpts{})

	// The static host port fits once; the second task fails on ports.
	out = run(&ecs.RunTaskInput{TaskDefinition: aws.String("web"), Count: aws.Int32(2)})
	if len(out.Tasks) != 1 || strings.Join(failureReasons(out.Failures), ",") != "RESOURCE:PORTS" {
		t.Fatalf("ports: %d tasks, failures %v", len(out.Tasks), failureReasons(out.Failures))
	}
	// Dynamic ports reserve nothing; memory runs out (600 - 256 = 344 left).
	registerTD(t, c, webTD("dyn", 0, 200))
	out = run(&ecs.RunTaskInput{TaskDefinition: aws.String("dyn"), Count: aws.Int32(2)})
	if len(out.Tasks) != 1 || strings.Join(failureReasons(out.Failures), ",") != "RESOURCE:MEMORY" {
		t.Fatalf("memory: %d tasks, failures %v", len(out.Tasks), failureReasons(out.Failures))
	}
	// The first failure without a detail carries the scheduler's explanation.
	if d := aws.ToString(out.Failures[0].Detail); d != "Placement: 1 of 1 instances passed; memory removed 1." {
		t.Errorf("explanation %q", d)
	}
	// A definition needing an attribute the instance lacks (task roles).
	in := webTD("role", 0, 10)
	in.TaskRoleArn = aws.String("arn:aws:iam::000000000000:role/app")
	registerTD(t, c, in)
	out = run(&ecs.RunTaskInput{TaskDefinition: aws.String("role")})
	if len(out.Tasks) != 0 || strings.Join(failureReasons(out.Failures), ",") != "ATTRIBUTE" ||
		aws.ToString(out.Failures[0].Detail) != "com.amazonaws.ecs.capability.task-iam-role" {
		t.Fatalf("attribute: %+v", out.Failures)
	}
	// DRAINING keeps new tasks off the instance and stops nothing.
	if _, err := c.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("pf"),
		ContainerInstances: []string{inst}, Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	out = run(&ecs.RunTaskInput{TaskDefinition: aws.String("dyn")})
	if len(out.Tasks) != 0 || len(out.Failures) != 1 {
		t.Fatalf("draining: %+v", out)
	}
	if lt, _ := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("pf")}); len(lt.TaskArns) != 2 {
		t.Fatalf("draining stopped tasks: %v", lt.TaskArns)
	}

	// Parameter errors.
	for name, in := range map[string]*ecs.RunTaskInput{
		"count 11":        {TaskDefinition: aws.String("web"), Count: aws.Int32(11)},
		"count 0":         {TaskDefinition: aws.String("web"), Count: aws.Int32(0)},
		"fargate":         {TaskDefinition: aws.String("web"), LaunchType: types.LaunchTypeFargate},
		"unknown overide": {TaskDefinition: aws.String("web"), Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("nope")}}}},
		"awsvpc config on bridge": {TaskDefinition: aws.String("web"), NetworkConfiguration: &types.NetworkConfiguration{
			AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}},
		"strategy":   {TaskDefinition: aws.String("web"), PlacementStrategy: []types.PlacementStrategy{{Type: types.PlacementStrategyTypeBinpack, Field: aws.String("disk")}}},
		"constraint": {TaskDefinition: aws.String("web"), PlacementConstraints: []types.PlacementConstraint{{Type: types.PlacementConstraintTypeMemberOf, Expression: aws.String("attribute:ecs.os-type ==")}}},
	} {
		in.Cluster = aws.String("pf")
		if _, err := c.RunTask(ctx, in); errCode(t, err) != "InvalidParameterException" {
			t.Errorf("%s: want InvalidParameterException, got %v", name, err)
		}
	}
	if _, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("pf"), TaskDefinition: aws.String("nope")}); errCode(t, err) != "ClientException" {
		t.Errorf("unknown definition: %v", err)
	}
	if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("dyn:1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("pf"), TaskDefinition: aws.String("dyn:1")}); errCode(t, err) != "ClientException" {
		t.Errorf("inactive definition: %v", err)
	}
}

// TestRunTaskConcurrent: 20 concurrent RunTasks on instances with room for
// exactly 6 tasks place exactly 6 and never over-commit.
func TestRunTaskConcurrent(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "conc")
	var insts []string
	for range 3 {
		arn := registerAgentInstance(t, c, "conc", instanceOpts{cpu: 4096, mem: 512})
		connectAgent(t, tg.endpoint, "conc", arn, agentOpts{})
		insts = append(insts, arn)
	}
	registerTD(t, c, webTD("web", 0, 256)) // two per instance
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		placed = map[string]int{}
		failed int
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("conc"), TaskDefinition: aws.String("web")})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, tk := range out.Tasks {
				placed[aws.ToString(tk.ContainerInstanceArn)]++
			}
			if len(out.Tasks) == 0 {
				failed++
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, arn := range insts {
		if placed[arn] != 2 {
			t.Errorf("instance %s got %d tasks, want 2", arn, placed[arn])
		}
		total += placed[arn]
		ci := describeInstance(t, c, "conc", arn)
		if ci.PendingTasksCount != 2 || resource(ci.RemainingResources, "MEMORY").IntegerValue != 0 {
			t.Errorf("instance %s: pending %d, remaining memory %d", arn, ci.PendingTasksCount, resource(ci.RemainingResources, "MEMORY").IntegerValue)
		}
	}
	if total != 6 || failed != 14 {
		t.Fatalf("placed %d, failed %d", total, failed)
	}
}

func TestRunTaskClientToken(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	clusterWithInstance(t, tg, "tok", instanceOpts{})
	registerTD(t, c, webTD("web", 0, 64))
	in := &ecs.RunTaskInput{Cluster: aws.String("tok"), TaskDefinition: aws.String("web"), Count: aws.Int32(2), ClientToken: aws.String("tok-1")}
	first, err := c.RunTask(ctx, in)
	if err != nil || len(first.Tasks) != 2 {
		t.Fatalf("first: %v %+v", err, first)
	}
	again, err := c.RunTask(ctx, in)
	if err != nil || len(again.Tasks) != 2 {
		t.Fatalf("again: %v %+v", err, again)
	}
	for i := range first.Tasks {
		if aws.ToString(first.Tasks[i].TaskArn) != aws.ToString(again.Tasks[i].TaskArn) {
			t.Fatalf("retry made new tasks: %s vs %s", aws.ToString(first.Tasks[i].TaskArn), aws.ToString(again.Tasks[i].TaskArn))
		}
	}
	if lt, _ := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("tok")}); len(lt.TaskArns) != 2 {
		t.Fatalf("tasks after retry: %d", len(lt.TaskArns))
	}
	in.Count = aws.Int32(1)
	_, err = c.RunTask(ctx, in)
	var ce *types.ConflictException
	if !errors.As(err, &ce) || len(ce.ResourceIds) != 2 {
		var ae smithy.APIError
		errors.As(err, &ae)
		t.Fatalf("different parameters: want ConflictException with the task ids, got %v (%T)", err, ae)
	}
}

// TestRunTaskClientTokenConcurrent: retries of one RunTask sent at once
// (so they may share a placement batch) make its tasks once and all answer
// with them.
func TestRunTaskClientTokenConcurrent(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	clusterWithInstance(t, tg, "tokc", instanceOpts{cpu: 8192})
	registerTD(t, c, webTD("web", 0, 16))
	for round := range 5 {
		token := fmt.Sprintf("tokc-%d", round)
		const callers = 8
		arns := make([][]string, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("tokc"), TaskDefinition: aws.String("web"),
					Count: aws.Int32(2), ClientToken: aws.String(token)})
				errs[i] = err
				if out != nil {
					for _, tk := range out.Tasks {
						arns[i] = append(arns[i], aws.ToString(tk.TaskArn))
					}
				}
			})
		}
		wg.Wait()
		for i := range callers {
			if errs[i] != nil || len(arns[i]) != 2 || !slices.Equal(arns[i], arns[0]) {
				t.Fatalf("round %d caller %d: %v %v, caller 0 got %v", round, i, errs[i], arns[i], arns[0])
			}
		}
	}
	if lt, _ := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("tokc")}); len(lt.TaskArns) != 10 {
		t.Fatalf("%d tasks after 5 tokens of 2 tasks", len(lt.TaskArns))
	}
}

// TestRunTaskBigDefinitionsConcurrent: launches of a large task definition
// (~58 KiB, each task's spec holds it) sent at once share placement batches
// only as far as one store transaction can carry them: none fails.
func TestRunTaskBigDefinitionsConcurrent(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	clusterWithInstance(t, tg, "big", instanceOpts{cpu: 32768, mem: 8192})
	td := webTD("big", 0, 6)
	for i := range 200 {
		td.ContainerDefinitions[0].Environment = append(td.ContainerDefinitions[0].Environment,
			types.KeyValuePair{Name: aws.String(fmt.Sprintf("V%03d", i)), Value: aws.String(strings.Repeat("x", 280))})
	}
	registerTD(t, c, td)
	run := func() error {
		out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("big"), TaskDefinition: aws.String("big"), Count: aws.Int32(10)})
		if err == nil && len(out.Tasks) != 10 {
			err = fmt.Errorf("%d tasks placed, failures %v", len(out.Tasks), failureReasons(out.Failures))
		}
		return err
	}
	if err := run(); err != nil {
		t.Fatalf("one launch alone: %v", err)
	}
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = run() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent launch %d: %v", i, err)
		}
	}
}

func TestAwsvpcAddresses(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "vpc")
	inst := registerAgentInstance(t, c, "vpc", instanceOpts{attrs: map[string]string{
		"ecs.capability.task-eni": "", "ecs.capability.task-cpu-mem-limit": "", "berth.awsvpc-subnet": "172.30.5.0/24"}})
	ag := connectAgent(t, tg.endpoint, "vpc", inst, agentOpts{})
	registerTD(t, c, &ecs.RegisterTaskDefinitionInput{Family: aws.String("vpc"), NetworkMode: types.NetworkModeAwsvpc,
		Cpu: aws.String("256"), Memory: aws.String("128"),
		ContainerDefinitions: []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("berth.local/sample-app:latest"),
			PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(80)}}}}})
	nc := &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-abc"}}}
	if _, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("vpc"), TaskDefinition: aws.String("vpc")}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("awsvpc without network configuration: %v", err)
	}
	out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("vpc"), TaskDefinition: aws.String("vpc"), Count: aws.Int32(2), NetworkConfiguration: nc})
	if err != nil || len(out.Tasks) != 2 {
		t.Fatalf("run: %v %+v", err, out)
	}
	ips := map[string]bool{}
	for _, tk := range out.Tasks {
		if aws.ToString(tk.LastStatus) != "PROVISIONING" || len(tk.Attachments) != 1 {
			t.Fatalf("task %+v", tk)
		}
		a := tk.Attachments[0]
		details := map[string]string{}
		for _, d := range a.Details {
			details[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		ip := details["privateIPv4Address"]
		if aws.ToString(a.Type) != "ElasticNetworkInterface" || details["subnetId"] != "subnet-abc" || !strings.HasPrefix(ip, "172.30.5.") ||
			ip == "172.30.5.1" || !strings.HasPrefix(details["networkInterfaceId"], "eni-") || details["macAddress"] == "" {
			t.Fatalf("attachment %+v", details)
		}
		if ni := tk.Containers[0].NetworkInterfaces; len(ni) != 1 || aws.ToString(ni[0].PrivateIpv4Address) != ip {
			t.Fatalf("container interfaces %+v", ni)
		}
		ips[ip] = true
	}
	if len(ips) != 2 {
		t.Fatalf("addresses not distinct: %v", ips)
	}
	arn := aws.ToString(out.Tasks[0].TaskArn)
	p := ag.nextPayload(func(p agentproto.Payload) bool { return payloadTask(p, arn) != nil })
	ts := payloadTask(p, arn)
	if ts.Network == nil || !ips[ts.Network.IPv4] || ts.Network.Gateway != "172.30.5.1" || ts.Network.Subnet != "172.30.5.0/24" {
		t.Fatalf("payload network %+v", ts.Network)
	}
	// The agent reports PENDING: the task leaves PROVISIONING.
	submitTask(t, c, "vpc", arn, "PENDING")
	if got := describeTask(t, c, "vpc", arn); aws.ToString(got.LastStatus) != "PENDING" || aws.ToString(got.Attachments[0].Status) != "ATTACHED" {
		t.Fatalf("after PENDING: %s %+v", aws.ToString(got.LastStatus), got.Attachments)
	}
	// A stopped task's address is free again.
	submitTask(t, c, "vpc", arn, "STOPPED")
	again, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("vpc"), TaskDefinition: aws.String("vpc"), NetworkConfiguration: nc})
	if err != nil || len(again.Tasks) != 1 {
		t.Fatalf("rerun: %v %+v", err, again)
	}
	// First fit takes the lowest free address: the stopped task's.
	if got := aws.ToString(again.Tasks[0].Attachments[0].Details[3].Value); got != ts.Network.IPv4 {
		t.Fatalf("new task got %s, want the freed %s", got, ts.Network.IPv4)
	}
}

// TestRunTaskTwoServers: two API servers (separate caches, one etcd) placing
// at once still never over-commit: the reservations' revision guards
// arbitrate in etcd.
func TestRunTaskTwoServers(t *testing.T) {
	t.Parallel()
	a := newHarness(t, time.Second)
	b := newHarness(t, time.Second, a.st.Endpoints()...)
	ctx := t.Context()
	createCluster(t, a.c, "two")
	var insts []string
	for range 2 {
		arn := registerAgentInstance(t, a.c, "two", instanceOpts{cpu: 4096, mem: 768})
		connectAgent(t, a.endpoint, "two", arn, agentOpts{heartbeat: 200 * time.Millisecond})
		insts = append(insts, arn)
	}
	registerTD(t, a.c, webTD("web", 0, 256)) // three per instance
	eventually(t, "server b sees the instances", func() bool {
		out, err := b.c.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{Cluster: aws.String("two")})
		return err == nil && len(out.ContainerInstanceArns) == 2 && describeInstance(t, b.c, "two", insts[1]).AgentConnected
	})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for i := range 16 {
		c := a.c
		if i%2 == 1 {
			c = b.c
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("two"), TaskDefinition: aws.String("web")})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total += len(out.Tasks)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 6 {
		t.Fatalf("placed %d tasks, want 6", total)
	}
	for _, arn := range insts {
		if ci := describeInstance(t, a.c, "two", arn); resource(ci.RemainingResources, "MEMORY").IntegerValue != 0 || ci.PendingTasksCount != 3 {
			t.Fatalf("instance %s: %+v", arn, ci)
		}
	}
}
