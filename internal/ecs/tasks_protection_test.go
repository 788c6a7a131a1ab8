package ecs_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// TestTaskProtection: UpdateTaskProtection / GetTaskProtection as ECS
// answers them, and a service scaling in from 3 to 1 keeps the protected
// task.
func TestTaskProtection(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c := tg.c
	ctx := t.Context()
	clusterWithInstance(t, tg, "tp", instanceOpts{})
	registerTD(t, c, webTD("app", 0, 64))
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("tp"), ServiceName: aws.String("web"),
		TaskDefinition: aws.String("app"), DesiredCount: aws.Int32(3)}); err != nil {
		t.Fatal(err)
	}
	list := func() []string {
		out, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("tp"), ServiceName: aws.String("web")})
		if err != nil {
			t.Fatal(err)
		}
		return out.TaskArns
	}
	eventually(t, "3 tasks", func() bool { return len(list()) == 3 })
	arns := list()
	for _, arn := range arns {
		submitTask(t, c, "tp", arn, "RUNNING")
	}
	w := ecs.NewServicesStableWaiter(c, func(o *ecs.ServicesStableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 200*time.Millisecond
	})
	if err := w.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String("tp"), Services: []string{"web"}}, 30*time.Second); err != nil {
		t.Fatalf("services-stable: %v", err)
	}

	// Validation.
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = arns[0]
	}
	for name, in := range map[string]*ecs.UpdateTaskProtectionInput{
		"11 tasks":   {Cluster: aws.String("tp"), Tasks: eleven, ProtectionEnabled: true},
		"no tasks":   {Cluster: aws.String("tp"), Tasks: []string{}, ProtectionEnabled: true},
		"0 minutes":  {Cluster: aws.String("tp"), Tasks: arns[:1], ProtectionEnabled: true, ExpiresInMinutes: aws.Int32(0)},
		"2881 min.":  {Cluster: aws.String("tp"), Tasks: arns[:1], ProtectionEnabled: true, ExpiresInMinutes: aws.Int32(2881)},
		"no cluster": {Cluster: aws.String("nope"), Tasks: arns[:1], ProtectionEnabled: true},
	} {
		want := "InvalidParameterException"
		if name == "no cluster" {
			want = "ClusterNotFoundException"
		}
		if _, err := c.UpdateTaskProtection(ctx, in); err == nil || errCode(t, err) != want {
			t.Errorf("UpdateTaskProtection %s: %v, want %s", name, err, want)
		}
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = arns[0]
	}
	if _, err := c.GetTaskProtection(ctx, &ecs.GetTaskProtectionInput{Cluster: aws.String("tp"), Tasks: many}); err == nil || errCode(t, err) != "InvalidParameterException" {
		t.Errorf("GetTaskProtection of 101 tasks: %v", err)
	}

	// Default expiry (120 minutes), unknown tasks MISSING.
	ghost := strings.TrimSuffix(arns[0], arns[0][strings.LastIndex(arns[0], "/")+1:]) + "0123456789abcdef0123456789abcdef"
	before := time.Now()
	up, err := c.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("tp"), Tasks: []string{arns[1], ghost}, ProtectionEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.ProtectedTasks) != 1 || len(up.Failures) != 1 || aws.ToString(up.Failures[0].Reason) != "MISSING" || aws.ToString(up.Failures[0].Arn) != ghost {
		t.Fatalf("UpdateTaskProtection: %+v failures %+v", up.ProtectedTasks, up.Failures)
	}
	pt := up.ProtectedTasks[0]
	if aws.ToString(pt.TaskArn) != arns[1] || !pt.ProtectionEnabled || pt.ExpirationDate == nil ||
		pt.ExpirationDate.Before(before.Add(119*time.Minute)) || pt.ExpirationDate.After(time.Now().Add(121*time.Minute)) {
		t.Fatalf("protected task %+v, want expiry in 120 minutes", pt)
	}
	// expiresInMinutes: extends from now; a short id works too.
	id1 := arns[1][strings.LastIndex(arns[1], "/")+1:]
	up, err = c.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("tp"), Tasks: []string{id1}, ProtectionEnabled: true, ExpiresInMinutes: aws.Int32(2880)})
	if err != nil || len(up.ProtectedTasks) != 1 || up.ProtectedTasks[0].ExpirationDate.Before(time.Now().Add(2879*time.Minute)) {
		t.Fatalf("UpdateTaskProtection 2880 minutes: %v %+v", err, up)
	}
	get, err := c.GetTaskProtection(ctx, &ecs.GetTaskProtectionInput{Cluster: aws.String("tp"), Tasks: []string{arns[0], arns[1], ghost}})
	if err != nil {
		t.Fatal(err)
	}
	if len(get.ProtectedTasks) != 2 || len(get.Failures) != 1 || aws.ToString(get.Failures[0].Reason) != "MISSING" {
		t.Fatalf("GetTaskProtection: %+v failures %+v", get.ProtectedTasks, get.Failures)
	}
	if p0 := get.ProtectedTasks[0]; p0.ProtectionEnabled || p0.ExpirationDate != nil || aws.ToString(p0.TaskArn) != arns[0] {
		t.Fatalf("unprotected task shown as %+v", p0)
	}
	if p1 := get.ProtectedTasks[1]; !p1.ProtectionEnabled || !p1.ExpirationDate.Equal(*up.ProtectedTasks[0].ExpirationDate) {
		t.Fatalf("protected task shown as %+v, want expiry %v", p1, up.ProtectedTasks[0].ExpirationDate)
	}

	// A standalone task cannot be protected.
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("tp"), TaskDefinition: aws.String("app")})
	if err != nil || len(run.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, run)
	}
	standalone := aws.ToString(run.Tasks[0].TaskArn)
	up, err = c.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("tp"), Tasks: []string{standalone}, ProtectionEnabled: true})
	if err != nil || len(up.Failures) != 1 || aws.ToString(up.Failures[0].Reason) != "TASK_NOT_VALID" {
		t.Fatalf("protecting a standalone task: %v %+v", err, up)
	}
	if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String("tp"), Task: aws.String(standalone)}); err != nil {
		t.Fatal(err)
	}

	// Scale in 3 -> 1: the protected task stays.
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("tp"), Service: aws.String("web"), DesiredCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "1 task", func() bool { return len(list()) == 1 })
	if l := list(); l[0] != arns[1] {
		t.Fatalf("scale-in kept %s, want the protected %s", l[0], arns[1])
	}
	// Scale in to 0: the protected task waits; once protection is turned
	// off it stops.
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("tp"), Service: aws.String("web"), DesiredCount: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if l := list(); len(l) != 1 {
		t.Fatalf("scale-in to 0 stopped the protected task: %v", l)
	}
	up, err = c.UpdateTaskProtection(ctx, &ecs.UpdateTaskProtectionInput{Cluster: aws.String("tp"), Tasks: []string{arns[1]}, ProtectionEnabled: false})
	if err != nil || len(up.ProtectedTasks) != 1 || up.ProtectedTasks[0].ProtectionEnabled || up.ProtectedTasks[0].ExpirationDate != nil {
		t.Fatalf("turning protection off: %v %+v", err, up)
	}
	eventually(t, "no task", func() bool { return len(list()) == 0 })
}
