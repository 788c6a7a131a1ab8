package service_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/images"
)

// BenchmarkRollingUpdate10 measures a rolling deployment of 10 tasks
// (sample app, health check every 5 s, 100/200): the wall time from
// UpdateService to COMPLETED, against the floor measured in the same run
// (one task: RunTask to HEALTHY, plus StopTask to STOPPED). Targets: <= 15 s
// and <= 1.5x the floor. Run it alone:
//
//	go test -run '^$' -bench RollingUpdate10 -benchtime 1x ./internal/service
func BenchmarkRollingUpdate10(b *testing.B) {
	for range b.N {
		took, floor := rollingUpdate10(b)
		b.ReportMetric(took.Seconds(), "s/rollout")
		b.ReportMetric(floor.Seconds(), "s/floor")
		b.ReportMetric(took.Seconds()/floor.Seconds(), "x-floor")
	}
}

func rollingUpdate10(t testing.TB) (took, floor time.Duration) {
	e := newEnv(t, 2)
	ctx := t.Context()
	register := func(v string) string {
		probe := []string{"CMD", images.BinaryPath, "sample-app", "probe", "http://127.0.0.1:8080/health"}
		out, err := e.c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family: aws.String("bench"), NetworkMode: types.NetworkModeBridge,
			ContainerDefinitions: []types.ContainerDefinition{{
				Name: aws.String("web"), Image: aws.String(images.SampleApp), Memory: aws.Int32(32),
				Environment:  []types.KeyValuePair{{Name: aws.String("V"), Value: aws.String(v)}},
				PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080), HostPort: aws.Int32(0)}},
				HealthCheck:  &types.HealthCheck{Command: probe, Interval: aws.Int32(5), Timeout: aws.Int32(2), Retries: aws.Int32(3)},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	}
	td1, td2 := register("1"), register("2")

	// The floor: one task started to HEALTHY, then stopped.
	start := time.Now()
	rt, err := e.c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(e.cluster), TaskDefinition: aws.String(td1)})
	if err != nil || len(rt.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, rt)
	}
	arn := aws.ToString(rt.Tasks[0].TaskArn)
	taskState := func() types.Task {
		out, err := e.c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(e.cluster), Tasks: []string{arn}})
		if err != nil || len(out.Tasks) != 1 {
			t.Fatalf("DescribeTasks: %v", err)
		}
		return out.Tasks[0]
	}
	e.eventually(time.Minute, "the floor task HEALTHY", func() bool { return taskState().HealthStatus == types.HealthStatusHealthy })
	up := time.Since(start)
	start = time.Now()
	if _, err := e.c.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(e.cluster), Task: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	e.eventually(time.Minute, "the floor task STOPPED", func() bool { return aws.ToString(taskState().LastStatus) == "STOPPED" })
	floor = up + time.Since(start)

	if _, err := e.c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(e.cluster), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td1), DesiredCount: aws.Int32(10)}); err != nil {
		t.Fatal(err)
	}
	e.waitStable("web", 2*time.Minute)
	e.waitCompleted("web", time.Minute)
	start = time.Now()
	if _, err := e.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(e.cluster), Service: aws.String("web"), TaskDefinition: aws.String(td2)}); err != nil {
		t.Fatal(err)
	}
	for took == 0 {
		s := e.service("web")
		if len(s.Deployments) == 1 && aws.ToString(s.Deployments[0].TaskDefinition) == td2 && s.Deployments[0].RolloutState == types.DeploymentRolloutStateCompleted {
			took = time.Since(start)
			break
		}
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("no COMPLETED rollout: %+v\n%q", s.Deployments, messages(s))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return took, floor
}
