package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/agent/engine"
)

// reporter sends the engine's reports with the official ECS client, like the
// ECS agent does.
type reporter struct {
	client  *ecs.Client
	cluster string // the cluster name, used when a report lacks its ARN
}

var _ engine.Reporter = (*reporter)(nil)

func (r *reporter) clusterOf(arn string) *string {
	if arn != "" {
		return aws.String(arn)
	}
	return aws.String(r.cluster)
}

func (r *reporter) SubmitTaskStateChange(ctx context.Context, rep engine.TaskReport) error {
	in := &ecs.SubmitTaskStateChangeInput{
		Cluster: r.clusterOf(rep.ClusterARN), Task: aws.String(rep.TaskARN), Status: aws.String(rep.Status),
		PullStartedAt: timePtr(rep.PullStartedAt), PullStoppedAt: timePtr(rep.PullStoppedAt),
		ExecutionStoppedAt: timePtr(rep.ExecutionStoppedAt),
	}
	if rep.Reason != "" {
		in.Reason = aws.String(rep.Reason)
	}
	for _, c := range rep.Containers {
		in.Containers = append(in.Containers, types.ContainerStateChange{
			ContainerName: aws.String(c.Name), RuntimeId: strPtr(c.RuntimeID), ImageDigest: strPtr(c.ImageDigest),
			Status: aws.String(c.Status), ExitCode: exitCode(c.ExitCode), Reason: strPtr(c.Reason),
			NetworkBindings: bindings(c.Bindings),
		})
	}
	if _, err := r.client.SubmitTaskStateChange(ctx, in); err != nil {
		return fmt.Errorf("SubmitTaskStateChange %s %s: %w", rep.TaskARN, rep.Status, err)
	}
	return nil
}

func (r *reporter) SubmitContainerStateChange(ctx context.Context, c engine.ContainerReport) error {
	_, err := r.client.SubmitContainerStateChange(ctx, &ecs.SubmitContainerStateChangeInput{
		Cluster: r.clusterOf(c.ClusterARN), Task: aws.String(c.TaskARN), ContainerName: aws.String(c.Name),
		RuntimeId: strPtr(c.RuntimeID), Status: aws.String(c.Status), ExitCode: exitCode(c.ExitCode),
		Reason: strPtr(c.Reason), NetworkBindings: bindings(c.Bindings),
	})
	if err != nil {
		return fmt.Errorf("SubmitContainerStateChange %s/%s %s: %w", c.TaskARN, c.Name, c.Status, err)
	}
	return nil
}

func bindings(bs []engine.Binding) []types.NetworkBinding {
	var out []types.NetworkBinding
	for _, b := range bs {
		out = append(out, types.NetworkBinding{
			BindIP: aws.String(b.BindIP), ContainerPort: aws.Int32(int32(b.ContainerPort)),
			HostPort: aws.Int32(int32(b.HostPort)), Protocol: types.TransportProtocol(b.Protocol),
		})
	}
	return out
}

func exitCode(c *int) *int32 {
	if c == nil {
		return nil
	}
	return aws.Int32(int32(*c))
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return aws.Time(t)
}
