package ecs_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// TestRunTaskUnsupported: RunTask and StartTask refuse a task whose
// definition or overrides use a field Berth cannot honour yet, with every
// reason, and write nothing (the agent would otherwise fail it at once).
func TestRunTaskUnsupported(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	inst := clusterWithInstance(t, tg, "unsup", instanceOpts{cpu: 1024, mem: 1024})

	td := webTD("sec", 0, 256)
	td.ExecutionRoleArn = aws.String("arn:aws:iam::000000000000:role/exec")
	td.ContainerDefinitions[0].Secrets = []types.Secret{{Name: aws.String("PW"), ValueFrom: aws.String("arn:aws:ssm:us-east-1:000000000000:parameter/pw")}}
	td.ContainerDefinitions[0].PortMappings = []types.PortMapping{{ContainerPortRange: aws.String("8000-8001")}}
	registerTD(t, c, td)
	registerTD(t, c, webTD("plain", 0, 256))
	const want = "Task definition sec:1 uses features Berth does not support yet: " +
		"container web: secrets is not supported; container web: containerPortRange is not supported."

	refused := func(what string, err error, want string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ClientException" || ae.ErrorMessage() != want {
			t.Errorf("%s: got %v\nwant ClientException %q", what, err, want)
		}
	}
	_, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("unsup"), TaskDefinition: aws.String("sec"), ClientToken: aws.String("tok")})
	refused("RunTask", err, want)
	_, err = c.StartTask(ctx, &ecs.StartTaskInput{Cluster: aws.String("unsup"), TaskDefinition: aws.String("sec:1"), ContainerInstances: []string{inst}})
	refused("StartTask", err, want)
	// Overrides are checked as applied: a supported definition made
	// unsupported by a container override, or a task cpu override that
	// is not a whole number of CPU units.
	_, err = c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("unsup"), TaskDefinition: aws.String("plain"),
		Overrides: &types.TaskOverride{Cpu: aws.String("0.3 vcpu"), ContainerOverrides: []types.ContainerOverride{{Name: aws.String("web"),
			EnvironmentFiles: []types.EnvironmentFile{{Type: types.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::bucket/web.env")}}}}}})
	refused("RunTask with overrides", err, "Task definition plain:1 uses features Berth does not support yet: "+
		`task cpu: "0.3 vcpu" is not a whole number of CPU units; container web: environmentFiles is not supported.`)

	// Nothing was written: no task, no reservation, and the clientToken is
	// still free for a request that can run.
	lt, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String("unsup")})
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.TaskArns) != 0 {
		t.Fatalf("tasks after refusals: %v", lt.TaskArns)
	}
	ci := describeInstance(t, c, "unsup", inst)
	if ci.PendingTasksCount != 0 || resource(ci.RemainingResources, "MEMORY").IntegerValue != 1024 || resource(ci.RemainingResources, "CPU").IntegerValue != 1024 {
		t.Fatalf("instance after refusals: %+v", ci)
	}
	run, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("unsup"), TaskDefinition: aws.String("plain"), ClientToken: aws.String("tok")})
	if err != nil || len(run.Tasks) != 1 || len(run.Failures) != 0 {
		t.Fatalf("supported task: %+v %v", run, err)
	}
}
