package ecs_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/testcluster"
)

const tdARNPrefix = "arn:aws:ecs:us-east-1:000000000000:task-definition/"

// ctr is a minimal valid EC2 container; muts adjust it.
func ctr(name string, muts ...func(*types.ContainerDefinition)) types.ContainerDefinition {
	c := types.ContainerDefinition{Name: aws.String(name), Image: aws.String("nginx:1.27"), Memory: aws.Int32(128)}
	for _, m := range muts {
		m(&c)
	}
	return c
}

// td is a registration of family with containers; muts adjust it.
func td(family string, cds []types.ContainerDefinition, muts ...func(*ecs.RegisterTaskDefinitionInput)) *ecs.RegisterTaskDefinitionInput {
	in := &ecs.RegisterTaskDefinitionInput{Family: aws.String(family), ContainerDefinitions: cds}
	for _, m := range muts {
		m(in)
	}
	return in
}

// fargate makes a registration a valid 256/512 Fargate one.
func fargate(in *ecs.RegisterTaskDefinitionInput) {
	in.RequiresCompatibilities = []types.Compatibility{types.CompatibilityFargate}
	in.NetworkMode = types.NetworkModeAwsvpc
	in.Cpu, in.Memory = aws.String("256"), aws.String("512")
}

func register(t *testing.T, c *ecs.Client, in *ecs.RegisterTaskDefinitionInput) *types.TaskDefinition {
	t.Helper()
	out, err := c.RegisterTaskDefinition(t.Context(), in)
	if err != nil {
		t.Fatalf("registering %s: %v", aws.ToString(in.Family), err)
	}
	return out.TaskDefinition
}

func listTDs(t *testing.T, c *ecs.Client, in *ecs.ListTaskDefinitionsInput) []string {
	t.Helper()
	var all []string
	p := ecs.NewListTaskDefinitionsPaginator(c, in)
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out.TaskDefinitionArns...)
	}
	return all
}

func listFamilies(t *testing.T, c *ecs.Client, in *ecs.ListTaskDefinitionFamiliesInput) []string {
	t.Helper()
	var all []string
	p := ecs.NewListTaskDefinitionFamiliesPaginator(c, in)
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out.Families...)
	}
	return all
}

func TestTaskDefinitionRevisions(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()

	for want := 1; want <= 2; want++ {
		d := register(t, c, td("web", []types.ContainerDefinition{ctr("app")}))
		if d.Revision != int32(want) || aws.ToString(d.TaskDefinitionArn) != fmt.Sprintf("%sweb:%d", tdARNPrefix, want) || d.Status != types.TaskDefinitionStatusActive {
			t.Fatalf("registration %d: revision %d arn %s status %s", want, d.Revision, aws.ToString(d.TaskDefinitionArn), d.Status)
		}
	}
	dereg, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web:2")})
	if err != nil {
		t.Fatal(err)
	}
	if dereg.TaskDefinition.Status != types.TaskDefinitionStatusInactive || dereg.TaskDefinition.DeregisteredAt == nil {
		t.Fatalf("deregistered: status %s deregisteredAt %v", dereg.TaskDefinition.Status, dereg.TaskDefinition.DeregisteredAt)
	}
	if d := register(t, c, td("web", []types.ContainerDefinition{ctr("app")})); d.Revision != 3 {
		t.Fatalf("after deregistering 2, got revision %d, want 3", d.Revision)
	}
	// The family resolves to its latest ACTIVE revision.
	if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(tdARNPrefix + "web:3")}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")})
	if err != nil || d.TaskDefinition.Revision != 1 {
		t.Fatalf("describe family: %v %+v", err, d)
	}
	if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("web:1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("web")}); errCode(t, err) != "ClientException" {
		t.Fatalf("describe family without ACTIVE revision: %v", err)
	}
	// Deleting every revision keeps the counter.
	del, err := c.DeleteTaskDefinitions(ctx, &ecs.DeleteTaskDefinitionsInput{TaskDefinitions: []string{"web:1", "web:2", "web:3"}})
	if err != nil || len(del.TaskDefinitions) != 3 || len(del.Failures) != 0 {
		t.Fatalf("delete: %v %+v", err, del)
	}
	if d := register(t, c, td("web", []types.ContainerDefinition{ctr("app")})); d.Revision != 4 {
		t.Fatalf("after deleting every revision, got revision %d, want 4", d.Revision)
	}
}

func TestTaskDefinitionConcurrentRegistrations(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	const n = 20
	revs := make([]int32, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			out, err := c.RegisterTaskDefinition(t.Context(), td("busy", []types.ContainerDefinition{ctr("app")}))
			if err != nil {
				t.Error(err)
				return
			}
			revs[i] = out.TaskDefinition.Revision
		})
	}
	wg.Wait()
	slices.Sort(revs)
	for i, r := range revs {
		if r != int32(i+1) {
			t.Fatalf("revisions %v, want 1..%d each once", revs, n)
		}
	}
	if got := listTDs(t, c, &ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("busy")}); len(got) != n {
		t.Fatalf("listed %d revisions, want %d", len(got), n)
	}
}

func TestRegisterTaskDefinitionDefaults(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	before := time.Now().Add(-time.Second)

	out, err := c.RegisterTaskDefinition(t.Context(), td("defaults", []types.ContainerDefinition{
		ctr("app", func(c *types.ContainerDefinition) {
			c.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(80)}, {ContainerPort: aws.Int32(53), HostPort: aws.Int32(5353), Protocol: types.TransportProtocolUdp}}
			c.HealthCheck = &types.HealthCheck{Command: []string{"CMD-SHELL", "true"}}
		}),
	}, func(in *ecs.RegisterTaskDefinitionInput) {
		in.Cpu, in.Memory = aws.String("1 vCPU"), aws.String("2GB")
		in.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}
	}))
	if err != nil {
		t.Fatal(err)
	}
	d := out.TaskDefinition
	if len(out.Tags) != 1 {
		t.Errorf("tags %+v", out.Tags)
	}
	if aws.ToString(d.Cpu) != "1024" || aws.ToString(d.Memory) != "2048" {
		t.Errorf("cpu/memory %s/%s, want 1024/2048", aws.ToString(d.Cpu), aws.ToString(d.Memory))
	}
	if d.NetworkMode != types.NetworkModeBridge || d.Status != types.TaskDefinitionStatusActive || aws.ToString(d.Family) != "defaults" {
		t.Errorf("networkMode %s status %s family %s", d.NetworkMode, d.Status, aws.ToString(d.Family))
	}
	if d.RegisteredAt == nil || d.RegisteredAt.Before(before) || aws.ToString(d.RegisteredBy) == "" {
		t.Errorf("registeredAt %v registeredBy %q", d.RegisteredAt, aws.ToString(d.RegisteredBy))
	}
	if d.Volumes == nil || d.PlacementConstraints == nil || d.RequiresCompatibilities != nil {
		t.Errorf("volumes %v placementConstraints %v requiresCompatibilities %v", d.Volumes, d.PlacementConstraints, d.RequiresCompatibilities)
	}
	cd := d.ContainerDefinitions[0]
	if cd.Cpu != 0 || !aws.ToBool(cd.Essential) || cd.Environment == nil || cd.MountPoints == nil || cd.VolumesFrom == nil || cd.SystemControls == nil {
		t.Errorf("container defaults not filled: %+v", cd)
	}
	if pm := cd.PortMappings[0]; pm.Protocol != types.TransportProtocolTcp || aws.ToInt32(pm.HostPort) != 0 {
		t.Errorf("bridge port mapping %+v, want tcp and dynamic host port 0", pm)
	}
	if pm := cd.PortMappings[1]; pm.Protocol != types.TransportProtocolUdp || aws.ToInt32(pm.HostPort) != 5353 {
		t.Errorf("static port mapping %+v", pm)
	}
	if hc := cd.HealthCheck; aws.ToInt32(hc.Interval) != 30 || aws.ToInt32(hc.Timeout) != 5 || aws.ToInt32(hc.Retries) != 3 {
		t.Errorf("health check defaults %+v", hc)
	}

	// awsvpc: the host port is the container port.
	d = register(t, c, td("vpc", []types.ContainerDefinition{ctr("app", func(c *types.ContainerDefinition) {
		c.PortMappings = []types.PortMapping{{ContainerPort: aws.Int32(8080)}}
	})}, func(in *ecs.RegisterTaskDefinitionInput) { in.NetworkMode = types.NetworkModeAwsvpc }))
	if pm := d.ContainerDefinitions[0].PortMappings[0]; aws.ToInt32(pm.HostPort) != 8080 {
		t.Errorf("awsvpc host port %d, want 8080", aws.ToInt32(pm.HostPort))
	}
}

func attrNames(d *types.TaskDefinition) []string {
	var out []string
	for _, a := range d.RequiresAttributes {
		out = append(out, aws.ToString(a.Name))
	}
	return out
}

func TestRegisterTaskDefinitionComputed(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	execRole := func(in *ecs.RegisterTaskDefinitionInput) {
		in.ExecutionRoleArn = aws.String("arn:aws:iam::000000000000:role/exec")
	}
	cases := []struct {
		name   string
		in     *ecs.RegisterTaskDefinitionInput
		compat []types.Compatibility
		attrs  []string
	}{
		{"plain bridge", td("c1", []types.ContainerDefinition{ctr("app")}),
			[]types.Compatibility{types.CompatibilityExternal, types.CompatibilityEc2}, nil},
		{"fargate", td("c2", []types.ContainerDefinition{ctr("app", func(c *types.ContainerDefinition) {
			c.Memory = nil
			c.LogConfiguration = &types.LogConfiguration{LogDriver: types.LogDriverAwslogs, Options: map[string]string{"awslogs-group": "g", "awslogs-region": "us-east-1"}}
		})}, fargate, execRole),
			[]types.Compatibility{types.CompatibilityEc2, types.CompatibilityFargate},
			[]string{"com.amazonaws.ecs.capability.logging-driver.awslogs", "ecs.capability.execution-role-awslogs",
				"com.amazonaws.ecs.capability.docker-remote-api.1.19", "ecs.capability.task-eni", "ecs.capability.task-cpu-mem-limit"}},
		{"awsvpc fits fargate without asking", td("c3", []types.ContainerDefinition{ctr("app")}, func(in *ecs.RegisterTaskDefinitionInput) {
			in.NetworkMode = types.NetworkModeAwsvpc
			in.Cpu, in.Memory = aws.String(".5 vcpu"), aws.String("1 GB")
		}), []types.Compatibility{types.CompatibilityEc2, types.CompatibilityFargate}, []string{"ecs.capability.task-eni"}},
		{"awsvpc without task size", td("c4", []types.ContainerDefinition{ctr("app")}, func(in *ecs.RegisterTaskDefinitionInput) {
			in.NetworkMode = types.NetworkModeAwsvpc
		}), []types.Compatibility{types.CompatibilityEc2}, nil},
		{"features", td("c5", []types.ContainerDefinition{
			ctr("app", func(c *types.ContainerDefinition) {
				c.Image = aws.String("000000000000.dkr.ecr.us-east-1.amazonaws.com/app:1")
				c.MemoryReservation, c.Memory = aws.Int32(64), nil
				c.DependsOn = []types.ContainerDependency{{ContainerName: aws.String("db"), Condition: types.ContainerConditionHealthy}}
				c.Secrets = []types.Secret{
					{Name: aws.String("A"), ValueFrom: aws.String("/prod/a")},
					{Name: aws.String("B"), ValueFrom: aws.String("arn:aws:secretsmanager:us-east-1:000000000000:secret:b-AbCdEf:password::")},
				}
				c.Privileged = aws.Bool(true)
			}),
			ctr("db", func(c *types.ContainerDefinition) {
				c.HealthCheck = &types.HealthCheck{Command: []string{"CMD", "pg_isready"}}
			}),
		}, execRole, func(in *ecs.RegisterTaskDefinitionInput) {
			in.TaskRoleArn = aws.String("arn:aws:iam::000000000000:role/task")
			in.Volumes = []types.Volume{{Name: aws.String("data"), DockerVolumeConfiguration: &types.DockerVolumeConfiguration{Scope: types.ScopeShared, Autoprovision: aws.Bool(true)}}}
		}), []types.Compatibility{types.CompatibilityExternal, types.CompatibilityEc2}, []string{
			"com.amazonaws.ecs.capability.ecr-auth", "ecs.capability.execution-role-ecr-pull", "com.amazonaws.ecs.capability.docker-remote-api.1.21",
			"ecs.capability.container-ordering", "ecs.capability.secrets.ssm.environment-variables", "ecs.capability.secrets.asm.environment-variables",
			"com.amazonaws.ecs.capability.privileged-container", "ecs.capability.container-health-check", "com.amazonaws.ecs.capability.docker-remote-api.1.24",
			"com.amazonaws.ecs.capability.task-iam-role", "ecs.capability.docker-volume-driver.local", "com.amazonaws.ecs.capability.docker-remote-api.1.25",
		}},
		{"external only", td("c6", []types.ContainerDefinition{ctr("app")}, func(in *ecs.RegisterTaskDefinitionInput) {
			in.RequiresCompatibilities = []types.Compatibility{types.CompatibilityExternal}
			in.NetworkMode = types.NetworkModeHost
			in.TaskRoleArn = aws.String("task-role")
		}), []types.Compatibility{types.CompatibilityExternal, types.CompatibilityEc2},
			[]string{"com.amazonaws.ecs.capability.task-iam-role", "com.amazonaws.ecs.capability.task-iam-role-network-host"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := register(t, c, tc.in)
			if !slices.Equal(d.Compatibilities, tc.compat) {
				t.Errorf("compatibilities %v, want %v", d.Compatibilities, tc.compat)
			}
			got := attrNames(d)
			for _, a := range tc.attrs {
				if !slices.Contains(got, a) {
					t.Errorf("requiresAttributes %v lacks %s", got, a)
				}
			}
			if len(tc.attrs) == 0 && tc.name == "plain bridge" && len(got) != 0 {
				t.Errorf("plain definition requires %v", got)
			}
			if !slices.IsSorted(got) {
				t.Errorf("requiresAttributes not sorted: %v", got)
			}
		})
	}
}

func TestFargateTaskSizes(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	cases := []struct {
		cpu, mem string
		ok       bool
	}{
		{"256", "512", true}, {"256", "1024", true}, {"256", "2048", true}, {"256", "1536", false}, {"256", "4096", false},
		{"512", "1024", true}, {"512", "4096", true}, {"512", "512", false}, {"512", "5120", false},
		{"1024", "2048", true}, {"1024", "8GB", true}, {"1024", "1024", false}, {"1024", "2560", false},
		{"2048", "4096", true}, {"2048", "16384", true}, {"2048", "17408", false},
		{"4 vcpu", "30 GB", true}, {"4096", "8192", true}, {"4096", "31744", false},
		{"8192", "16384", true}, {"8192", "61440", true}, {"8192", "20480", true}, {"8192", "17408", false}, {"8192", "65536", false},
		{"16 vCPU", "32GB", true}, {"16384", "122880", true}, {"16384", "40960", true}, {"16384", "36864", false}, {"16384", "131072", false},
		{"128", "512", false}, {"32768", "65536", false},
	}
	for i, tc := range cases {
		t.Run(tc.cpu+"/"+tc.mem, func(t *testing.T) {
			t.Parallel()
			_, err := c.RegisterTaskDefinition(t.Context(), td(fmt.Sprintf("fg%d", i), []types.ContainerDefinition{{Name: aws.String("app"), Image: aws.String("nginx")}},
				fargate, func(in *ecs.RegisterTaskDefinitionInput) { in.Cpu, in.Memory = aws.String(tc.cpu), aws.String(tc.mem) }))
			switch {
			case tc.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.ok && errCode(t, err) != "ClientException":
				t.Fatalf("want ClientException, got %v", err)
			}
		})
	}
}

func TestDescribeTaskDefinition(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	register(t, c, td("api", []types.ContainerDefinition{ctr("app")}))
	register(t, c, td("api", []types.ContainerDefinition{ctr("app")}, func(in *ecs.RegisterTaskDefinitionInput) {
		in.Tags = []types.Tag{{Key: aws.String("env"), Value: aws.String("prod")}}
	}))
	for _, ref := range []string{"api", "api:2", tdARNPrefix + "api:2"} {
		out, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref), Include: []types.TaskDefinitionField{types.TaskDefinitionFieldTags}})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if out.TaskDefinition.Revision != 2 || len(out.Tags) != 1 || aws.ToString(out.Tags[0].Value) != "prod" {
			t.Fatalf("%s: revision %d tags %+v", ref, out.TaskDefinition.Revision, out.Tags)
		}
	}
	out, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("api:1")})
	if err != nil || out.TaskDefinition.Revision != 1 || out.Tags != nil {
		t.Fatalf("api:1 without include: %v %+v", err, out)
	}
	for _, ref := range []string{"nope", "api:3", "api:x", "arn:aws:ecs:eu-west-1:000000000000:task-definition/api:1", tdARNPrefix + "api", "bad name"} {
		if _, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)}); errCode(t, err) != "ClientException" {
			t.Errorf("%s: want ClientException, got %v", ref, err)
		}
	}
}

func TestListTaskDefinitions(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	for _, f := range []string{"b", "a-b", "a", "b", "a", "a"} {
		register(t, c, td(f, []types.ContainerDefinition{ctr("app")}))
	}
	if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("a:2")}); err != nil {
		t.Fatal(err)
	}
	arns := func(refs ...string) []string {
		var out []string
		for _, r := range refs {
			out = append(out, tdARNPrefix+r)
		}
		return out
	}
	cases := []struct {
		name string
		in   ecs.ListTaskDefinitionsInput
		want []string
	}{
		{"default ACTIVE ASC", ecs.ListTaskDefinitionsInput{}, arns("a:1", "a:3", "a-b:1", "b:1", "b:2")},
		{"DESC", ecs.ListTaskDefinitionsInput{Sort: types.SortOrderDesc}, arns("b:2", "b:1", "a-b:1", "a:3", "a:1")},
		{"INACTIVE", ecs.ListTaskDefinitionsInput{Status: types.TaskDefinitionStatusInactive}, arns("a:2")},
		{"family is exact", ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("a")}, arns("a:1", "a:3")},
		{"family DESC", ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("a"), Sort: types.SortOrderDesc}, arns("a:3", "a:1")},
		{"unknown family", ecs.ListTaskDefinitionsInput{FamilyPrefix: aws.String("zzz")}, nil},
	}
	for _, tc := range cases {
		for _, max := range []int32{0, 1, 2} {
			in := tc.in
			if max > 0 {
				in.MaxResults = aws.Int32(max)
			}
			if got := listTDs(t, c, &in); !slices.Equal(got, tc.want) {
				t.Errorf("%s (maxResults %d): got %v, want %v", tc.name, max, got, tc.want)
			}
		}
	}
	first, err := c.ListTaskDefinitions(ctx, &ecs.ListTaskDefinitionsInput{MaxResults: aws.Int32(2)})
	if err != nil || len(first.TaskDefinitionArns) != 2 || first.NextToken == nil {
		t.Fatalf("first page: %v %+v", err, first)
	}
	for _, in := range []*ecs.ListTaskDefinitionsInput{{MaxResults: aws.Int32(101)}, {MaxResults: aws.Int32(0)}, {NextToken: aws.String("!!")}} {
		if _, err := c.ListTaskDefinitions(ctx, in); errCode(t, err) != "InvalidParameterException" {
			t.Errorf("%+v: want InvalidParameterException, got %v", in, err)
		}
	}
}

func TestListTaskDefinitionFamilies(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	for _, f := range []string{"svc-a", "svc-b", "svc-b", "job", "old"} {
		register(t, c, td(f, []types.ContainerDefinition{ctr("app")}))
	}
	for _, ref := range []string{"old:1", "svc-b:2"} {
		if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(ref)}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		in   ecs.ListTaskDefinitionFamiliesInput
		want []string
	}{
		{"default is ALL", ecs.ListTaskDefinitionFamiliesInput{}, []string{"job", "old", "svc-a", "svc-b"}},
		{"ALL", ecs.ListTaskDefinitionFamiliesInput{Status: types.TaskDefinitionFamilyStatusAll}, []string{"job", "old", "svc-a", "svc-b"}},
		{"ACTIVE", ecs.ListTaskDefinitionFamiliesInput{Status: types.TaskDefinitionFamilyStatusActive}, []string{"job", "svc-a", "svc-b"}},
		{"INACTIVE", ecs.ListTaskDefinitionFamiliesInput{Status: types.TaskDefinitionFamilyStatusInactive}, []string{"old"}},
		{"prefix", ecs.ListTaskDefinitionFamiliesInput{FamilyPrefix: aws.String("svc-")}, []string{"svc-a", "svc-b"}},
		{"prefix none", ecs.ListTaskDefinitionFamiliesInput{FamilyPrefix: aws.String("x")}, nil},
	}
	for _, tc := range cases {
		for _, max := range []int32{0, 1, 3} {
			in := tc.in
			if max > 0 {
				in.MaxResults = aws.Int32(max)
			}
			if got := listFamilies(t, c, &in); !slices.Equal(got, tc.want) {
				t.Errorf("%s (maxResults %d): got %v, want %v", tc.name, max, got, tc.want)
			}
		}
	}
}

func TestDeregisterAndDeleteTaskDefinitions(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	ctx := t.Context()
	register(t, c, td("app", []types.ContainerDefinition{ctr("app")}))
	register(t, c, td("app", []types.ContainerDefinition{ctr("app")}))

	for _, ref := range []string{"app", "app:9", "nope:1", "arn:aws:ecs:us-east-1:111111111111:task-definition/app:1"} {
		if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(ref)}); errCode(t, err) != "ClientException" {
			t.Errorf("deregister %s: want ClientException, got %v", ref, err)
		}
	}
	first, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("app:1")})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String("app:1")})
	if err != nil || again.TaskDefinition.Status != types.TaskDefinitionStatusInactive || !again.TaskDefinition.DeregisteredAt.Equal(*first.TaskDefinition.DeregisteredAt) {
		t.Fatalf("second deregistration should return the revision unchanged: %v %+v", err, again)
	}

	del, err := c.DeleteTaskDefinitions(ctx, &ecs.DeleteTaskDefinitionsInput{TaskDefinitions: []string{"app:1", "app:2", "app:7", "app", tdARNPrefix + "app:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(del.TaskDefinitions) != 1 || del.TaskDefinitions[0].Status != types.TaskDefinitionStatusDeleteInProgress || del.TaskDefinitions[0].DeleteRequestedAt == nil {
		t.Fatalf("deleted %+v", del.TaskDefinitions)
	}
	failed := map[string]string{}
	for _, f := range del.Failures {
		failed[aws.ToString(f.Arn)] = aws.ToString(f.Reason)
	}
	if len(failed) != 3 || !strings.Contains(failed[tdARNPrefix+"app:2"], "ACTIVE") || failed[tdARNPrefix+"app:7"] == "" || failed["app"] == "" {
		t.Fatalf("failures %v", failed)
	}
	d, err := c.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("app:1")})
	if err != nil || d.TaskDefinition.Status != types.TaskDefinitionStatusDeleteInProgress {
		t.Fatalf("a DELETE_IN_PROGRESS revision still describes: %v %+v", err, d)
	}
	if got := listTDs(t, c, &ecs.ListTaskDefinitionsInput{Status: types.TaskDefinitionStatusDeleteInProgress}); !slices.Equal(got, []string{tdARNPrefix + "app:1"}) {
		t.Fatalf("DELETE_IN_PROGRESS listing %v", got)
	}
	tooMany := make([]string, 11)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("app:%d", i+1)
	}
	if _, err := c.DeleteTaskDefinitions(ctx, &ecs.DeleteTaskDefinitionsInput{TaskDefinitions: tooMany}); errCode(t, err) != "InvalidParameterException" {
		t.Fatalf("11 task definitions: %v", err)
	}
}
