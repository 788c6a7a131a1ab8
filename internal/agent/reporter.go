package agent

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/berth-dev/berth/internal/agent/engine"
	"github.com/berth-dev/berth/internal/awsapi"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// reporter sends the engine's reports as SubmitTaskStateChange and
// SubmitContainerStateChange, like the ECS agent does, through the lean
// ecsPoster rather than the SDK client (see ecsPoster for why).
type reporter struct {
	client  *ecsPoster
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
	in := &ecsapi.SubmitTaskStateChangeRequest{
		Cluster: r.clusterOf(rep.ClusterARN), Task: aws.String(rep.TaskARN), Status: aws.String(rep.Status),
		PullStartedAt: awsapi.TimePtr(rep.PullStartedAt), PullStoppedAt: awsapi.TimePtr(rep.PullStoppedAt),
		ExecutionStoppedAt: awsapi.TimePtr(rep.ExecutionStoppedAt),
	}
	if rep.Reason != "" {
		in.Reason = aws.String(rep.Reason)
	}
	for _, c := range rep.Containers {
		in.Containers = append(in.Containers, ecsapi.ContainerStateChange{
			ContainerName: aws.String(c.Name), RuntimeId: strPtr(c.RuntimeID), ImageDigest: strPtr(c.ImageDigest),
			Status: aws.String(c.Status), ExitCode: exitCode(c.ExitCode), Reason: strPtr(c.Reason),
			NetworkBindings: bindings(c.Bindings),
		})
	}
	if err := r.client.call(ctx, "SubmitTaskStateChange", in); err != nil {
		return fmt.Errorf("SubmitTaskStateChange %s %s: %w", rep.TaskARN, rep.Status, err)
	}
	return nil
}

func (r *reporter) SubmitContainerStateChange(ctx context.Context, c engine.ContainerReport) error {
	err := r.client.call(ctx, "SubmitContainerStateChange", &ecsapi.SubmitContainerStateChangeRequest{
		Cluster: r.clusterOf(c.ClusterARN), Task: aws.String(c.TaskARN), ContainerName: aws.String(c.Name),
		RuntimeId: strPtr(c.RuntimeID), Status: aws.String(c.Status), ExitCode: exitCode(c.ExitCode),
		Reason: strPtr(c.Reason), NetworkBindings: bindings(c.Bindings),
	})
	if err != nil {
		return fmt.Errorf("SubmitContainerStateChange %s/%s %s: %w", c.TaskARN, c.Name, c.Status, err)
	}
	return nil
}

func bindings(bs []engine.Binding) []ecsapi.NetworkBinding {
	var out []ecsapi.NetworkBinding
	for _, b := range bs {
		nb := ecsapi.NetworkBinding{
			BindIP: aws.String(b.BindIP), ContainerPort: aws.Int32(int32(b.ContainerPort)),
			HostPort: aws.Int32(int32(b.HostPort)),
		}
		// The SDK left an empty protocol out; so does this.
		if b.Protocol != "" {
			p := ecsapi.TransportProtocol(b.Protocol)
			nb.Protocol = &p
		}
		out = append(out, nb)
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
