package ecs_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// TestListContainerInstancesFilter: ListContainerInstances' filter is the
// Cluster Query Language over registered instances, their attributes, task
// groups and agent state; a syntax error is an InvalidParameterException
// naming the position.
func TestListContainerInstancesFilter(t *testing.T) {
	t.Parallel()
	tg := fromCluster(t)
	c, ctx := tg.c, t.Context()
	createCluster(t, c, "flt")
	specs := []map[string]string{
		{"ecs.instance-type": "t2.micro", "ecs.availability-zone": "us-east-1a", "stack": "prod"},
		{"ecs.instance-type": "t2.small", "ecs.availability-zone": "us-east-1b", "stack": "dev"},
		{"ecs.instance-type": "m5.large", "ecs.availability-zone": "us-east-1a"},
		{"ecs.instance-type": "m5.large", "ecs.availability-zone": "us-east-1c", "gpu": "4"},
	}
	arns := make([]string, len(specs))
	for i, attrs := range specs {
		arns[i] = registerAgentInstance(t, c, "flt", instanceOpts{cpu: 4096, mem: 4096, attrs: attrs})
	}
	// Instance 0 has a connected agent and a task of family web.
	connectAgent(t, tg.endpoint, "flt", arns[0], agentOpts{})
	registerTD(t, c, webTD("web", 0, 64))
	if out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("flt"), TaskDefinition: aws.String("web")}); err != nil || len(out.Tasks) != 1 {
		t.Fatalf("run: %v %+v", err, out)
	}
	ec2ID := aws.ToString(describeInstance(t, c, "flt", arns[3]).Ec2InstanceId)

	list := func(filter string, status types.ContainerInstanceStatus) ([]string, error) {
		in := &ecs.ListContainerInstancesInput{Cluster: aws.String("flt"), Filter: aws.String(filter), Status: status}
		var got []string
		for p := ecs.NewListContainerInstancesPaginator(c, in); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			got = append(got, out.ContainerInstanceArns...)
		}
		return got, nil
	}
	cases := []struct {
		filter string
		want   []int
	}{
		{"attribute:ecs.instance-type == t2.micro", []int{0}},
		{"attribute:ecs.instance-type =~ t2.*", []int{0, 1}},
		{"attribute:ecs.instance-type matches m5.*", []int{2, 3}},
		{"attribute:ecs.instance-type !~ t2.*", []int{2, 3}},
		{"attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", []int{0, 1, 2}},
		{"attribute:ecs.availability-zone not_in [us-east-1a, us-east-1b]", []int{3}},
		{"attribute:stack exists", []int{0, 1}},
		{"attribute:stack !exists", []int{2, 3}},
		{"attribute:stack != prod", []int{1, 2, 3}},
		{"attribute:gpu >= 2", []int{3}},
		{"attribute:ecs.instance-type == m5.large and attribute:ecs.availability-zone != us-east-1a", []int{3}},
		{"attribute:stack == dev or (attribute:ecs.availability-zone == us-east-1a and not(attribute:stack exists))", []int{1, 2}},
		{"agentConnected == true", []int{0}},
		{"agentConnected == false", []int{1, 2, 3}},
		{"task:group == family:web", []int{0}},
		{"not(task:group == family:web)", []int{1, 2, 3}},
		{"ec2InstanceId == " + ec2ID, []int{3}},
		{"ec2InstanceId in [" + ec2ID + ", i-none]", []int{3}},
		{"registeredAt >= 2020-01-01", []int{0, 1, 2, 3}},
		{"registeredAt < 2020-01-01", nil},
		{"agentVersion >= 1.0.0", []int{0, 1, 2, 3}},
	}
	for _, tc := range cases {
		got, err := list(tc.filter, "")
		if err != nil {
			t.Errorf("%s: %v", tc.filter, err)
			continue
		}
		var want []string
		for _, i := range tc.want {
			want = append(want, arns[i])
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %d instances %v, want %v", tc.filter, len(got), got, tc.want)
		}
	}

	// The filter and the status combine.
	if _, err := c.UpdateContainerInstancesState(ctx, &ecs.UpdateContainerInstancesStateInput{Cluster: aws.String("flt"),
		ContainerInstances: []string{arns[2]}, Status: types.ContainerInstanceStatusDraining}); err != nil {
		t.Fatal(err)
	}
	if got, err := list("attribute:ecs.instance-type == m5.large", types.ContainerInstanceStatusDraining); err != nil || !slices.Equal(got, []string{arns[2]}) {
		t.Fatalf("draining m5.large: %v %v", got, err)
	}
	if got, err := list("attribute:ecs.instance-type == m5.large", types.ContainerInstanceStatusActive); err != nil || !slices.Equal(got, []string{arns[3]}) {
		t.Fatalf("active m5.large: %v %v", got, err)
	}

	for _, tc := range []struct{ filter, want string }{
		{"attribute:ecs.instance-type ==", "position 31"},
		{"attribute:stack in [a, b", "position"},
		{"attribute:stack === x", "position"},
		{"attribute:stack =~ (", "attribute:stack =~ ("},
	} {
		_, err := list(tc.filter, "")
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterException" || !strings.Contains(ae.ErrorMessage(), tc.want) {
			t.Errorf("%q: want InvalidParameterException mentioning %q, got %v", tc.filter, tc.want, err)
		}
	}
}
