package ecs_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestServiceRevisions: each deployment's configuration is a service
// revision, named by its deployments and described by
// DescribeServiceRevisions; unknown ARNs are MISSING.
func TestServiceRevisions(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c := tg.c
	ctx := t.Context()
	createCluster(t, c, "rv")
	td1 := registerTD(t, c, webTD("rev", 0, 64))
	td2 := registerTD(t, c, webTD("rev", 0, 64))
	out, err := c.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("rv"), ServiceName: aws.String("web"),
		TaskDefinition: aws.String(td1), DesiredCount: aws.Int32(0)})
	if err != nil {
		t.Fatal(err)
	}
	dep1 := strings.TrimPrefix(aws.ToString(out.Service.Deployments[0].Id), "ecs-svc/")
	prefix := "arn:aws:ecs:us-east-1:000000000000:service-revision/rv/web/"
	eventually(t, "the first deployment", func() bool {
		l, err := c.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String("rv"), Service: aws.String("web")})
		return err == nil && len(l.ServiceDeployments) == 1
	})
	if _, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("rv"), Service: aws.String("web"), TaskDefinition: aws.String(td2)}); err != nil {
		t.Fatal(err)
	}
	var sds []types.ServiceDeploymentBrief
	eventually(t, "the second deployment", func() bool {
		l, err := c.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Cluster: aws.String("rv"), Service: aws.String("web")})
		if err != nil || len(l.ServiceDeployments) != 2 {
			return false
		}
		sds = l.ServiceDeployments
		return true
	})
	d, err := c.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: []string{
		aws.ToString(sds[0].ServiceDeploymentArn), aws.ToString(sds[1].ServiceDeploymentArn)}})
	if err != nil || len(d.ServiceDeployments) != 2 {
		t.Fatalf("DescribeServiceDeployments: %v %+v", err, d)
	}
	var arns []string
	for _, sd := range d.ServiceDeployments {
		if sd.TargetServiceRevision == nil || !strings.HasPrefix(aws.ToString(sd.TargetServiceRevision.Arn), prefix) {
			t.Fatalf("deployment %s target revision %+v", aws.ToString(sd.ServiceDeploymentArn), sd.TargetServiceRevision)
		}
		arns = append(arns, aws.ToString(sd.TargetServiceRevision.Arn))
	}
	if arns[1] != prefix+dep1 || arns[0] == arns[1] {
		t.Fatalf("revision ARNs %v, want the newest first and %s", arns, prefix+dep1)
	}
	r, err := c.DescribeServiceRevisions(ctx, &ecs.DescribeServiceRevisionsInput{ServiceRevisionArns: []string{arns[0], arns[1], prefix + "123", "arn:aws:ecs:us-east-1:000000000000:service-revision/rv/nope/1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ServiceRevisions) != 2 || len(r.Failures) != 2 || aws.ToString(r.Failures[0].Reason) != "MISSING" || aws.ToString(r.Failures[0].Arn) != prefix+"123" {
		t.Fatalf("DescribeServiceRevisions: %+v failures %+v", r.ServiceRevisions, r.Failures)
	}
	for i, want := range []string{td2, td1} {
		rv := r.ServiceRevisions[i]
		if aws.ToString(rv.ServiceRevisionArn) != arns[i] || aws.ToString(rv.TaskDefinition) != want ||
			aws.ToString(rv.ServiceArn) != "arn:aws:ecs:us-east-1:000000000000:service/rv/web" ||
			aws.ToString(rv.ClusterArn) != "arn:aws:ecs:us-east-1:000000000000:cluster/rv" || rv.LaunchType != types.LaunchTypeEc2 ||
			rv.CreatedAt == nil || len(rv.ContainerImages) != 1 || aws.ToString(rv.ContainerImages[0].ContainerName) == "" {
			t.Fatalf("revision %d: %+v, want task definition %s", i, rv, want)
		}
	}
	if _, err := c.DescribeServiceRevisions(ctx, &ecs.DescribeServiceRevisionsInput{ServiceRevisionArns: []string{}}); err == nil || errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("no ARNs: %v", err)
	}
	many := make([]string, 21)
	for i := range many {
		many[i] = arns[0]
	}
	if _, err := c.DescribeServiceRevisions(ctx, &ecs.DescribeServiceRevisionsInput{ServiceRevisionArns: many}); err == nil || errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("21 ARNs: %v", err)
	}
}
