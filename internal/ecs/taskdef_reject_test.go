package ecs_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/berth-dev/berth/internal/testcluster"
)

// cmut adjusts a container built by ctr.
type cmut = func(*types.ContainerDefinition)

func ports(pms ...types.PortMapping) cmut {
	return func(c *types.ContainerDefinition) { c.PortMappings = pms }
}

func pm(container int32, host ...int32) types.PortMapping {
	p := types.PortMapping{ContainerPort: aws.Int32(container)}
	if len(host) > 0 {
		p.HostPort = aws.Int32(host[0])
	}
	return p
}

func mode(m types.NetworkMode) func(*ecs.RegisterTaskDefinitionInput) {
	return func(in *ecs.RegisterTaskDefinitionInput) { in.NetworkMode = m }
}

func health(cmd []string, mut ...func(*types.HealthCheck)) cmut {
	return func(c *types.ContainerDefinition) {
		c.HealthCheck = &types.HealthCheck{Command: cmd}
		for _, m := range mut {
			m(c.HealthCheck)
		}
	}
}

func dependsOn(target string, cond types.ContainerCondition) cmut {
	return func(c *types.ContainerDefinition) {
		c.DependsOn = append(c.DependsOn, types.ContainerDependency{ContainerName: aws.String(target), Condition: cond})
	}
}

func nonEssential(c *types.ContainerDefinition) { c.Essential = aws.Bool(false) }

func withExecRole(in *ecs.RegisterTaskDefinitionInput) {
	in.ExecutionRoleArn = aws.String("arn:aws:iam::000000000000:role/exec")
}

func volumes(vs ...types.Volume) func(*ecs.RegisterTaskDefinitionInput) {
	return func(in *ecs.RegisterTaskDefinitionInput) { in.Volumes = vs }
}

func secret(valueFrom string) cmut {
	return func(c *types.ContainerDefinition) {
		c.Secrets = []types.Secret{{Name: aws.String("S"), ValueFrom: aws.String(valueFrom)}}
	}
}

func logs(driver types.LogDriver, opts map[string]string) cmut {
	return func(c *types.ContainerDefinition) {
		c.LogConfiguration = &types.LogConfiguration{LogDriver: driver, Options: opts}
	}
}

// TestRegisterTaskDefinitionRejects runs every validation rule's failing
// case through the SDK and checks that none of them wrote anything.
func TestRegisterTaskDefinitionRejects(t *testing.T) {
	t.Parallel()
	cp := testcluster.Start(t, testcluster.Options{})
	c := cp.ECS()
	const client, param = "ClientException", "InvalidParameterException"
	one := func(muts ...cmut) []types.ContainerDefinition {
		return []types.ContainerDefinition{ctr("app", muts...)}
	}
	fg := func(muts ...func(*ecs.RegisterTaskDefinitionInput)) []func(*ecs.RegisterTaskDefinitionInput) {
		return append([]func(*ecs.RegisterTaskDefinitionInput){fargate}, muts...)
	}
	noMem := func(c *types.ContainerDefinition) { c.Memory = nil }
	eleven := make([]types.ContainerDefinition, 11)
	for i := range eleven {
		eleven[i] = ctr(string(rune('a' + i)))
	}
	cases := []struct {
		name string
		code string
		cds  []types.ContainerDefinition
		muts []func(*ecs.RegisterTaskDefinitionInput)
	}{
		// Family and containers.
		{"family with a space", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Family = aws.String("bad family") }}},
		{"family too long", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Family = aws.String(strings.Repeat("f", 256)) }}},
		{"no containers", client, []types.ContainerDefinition{}, nil},
		{"eleven containers", client, eleven, nil},
		{"container without name", client, one(func(c *types.ContainerDefinition) { c.Name = nil }), nil},
		{"container name invalid", client, one(func(c *types.ContainerDefinition) { c.Name = aws.String("a.b") }), nil},
		{"duplicate container names", client, []types.ContainerDefinition{ctr("app"), ctr("app")}, nil},
		{"empty image", client, one(func(c *types.ContainerDefinition) { c.Image = aws.String("") }), nil},
		{"no image", client, one(func(c *types.ContainerDefinition) { c.Image = nil }), nil},
		{"no essential container", client, one(nonEssential), nil},
		{"too large", client, one(func(c *types.ContainerDefinition) {
			c.Environment = []types.KeyValuePair{{Name: aws.String("BIG"), Value: aws.String(strings.Repeat("x", 70000))}}
		}), nil},
		// CPU and memory.
		{"task cpu garbage", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Cpu = aws.String("lots") }}},
		{"task cpu below 128", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Cpu = aws.String("64") }}},
		{"task cpu above 192 vCPU", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Cpu = aws.String("200 vcpu") }}},
		{"task cpu fractional units", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Cpu = aws.String("0.3 vCPU") }}},
		{"task memory unit", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Memory = aws.String("2 TB") }}},
		{"no memory anywhere", client, one(noMem), nil},
		{"container memory below 6", client, one(func(c *types.ContainerDefinition) { c.Memory = aws.Int32(4) }), nil},
		{"memory not above reservation", client, one(func(c *types.ContainerDefinition) { c.MemoryReservation = aws.Int32(128) }), nil},
		{"container memory above task", client, one(func(c *types.ContainerDefinition) { c.Memory = aws.Int32(1024) }),
			[]func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Memory = aws.String("512") }}},
		{"container cpu sum above task", client, []types.ContainerDefinition{ctr("a", func(c *types.ContainerDefinition) { c.Cpu = 200 }), ctr("b", func(c *types.ContainerDefinition) { c.Cpu = 100 })},
			[]func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Cpu = aws.String("256") }}},
		{"container memory sum above task", client, []types.ContainerDefinition{ctr("a", func(c *types.ContainerDefinition) { c.Memory = aws.Int32(300) }), ctr("b", func(c *types.ContainerDefinition) { c.Memory = aws.Int32(300) })},
			[]func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) { in.Memory = aws.String("512") }}},
		// Fargate.
		{"fargate bridge", client, one(noMem), fg(mode(types.NetworkModeBridge))},
		{"fargate no network mode", client, one(noMem), fg(mode(""))},
		{"fargate no cpu", client, one(noMem), fg(func(in *ecs.RegisterTaskDefinitionInput) { in.Cpu = nil })},
		{"fargate no memory", client, one(), fg(func(in *ecs.RegisterTaskDefinitionInput) { in.Memory = nil })},
		{"fargate size", client, one(noMem), fg(func(in *ecs.RegisterTaskDefinitionInput) { in.Memory = aws.String("4096") })},
		{"fargate privileged", client, one(noMem, func(c *types.ContainerDefinition) { c.Privileged = aws.Bool(true) }), fg()},
		{"fargate awslogs without execution role", client, one(noMem, logs(types.LogDriverAwslogs, map[string]string{"awslogs-group": "g"})), fg()},
		{"fargate json-file logs", client, one(noMem, logs(types.LogDriverJsonFile, nil)), fg()},
		{"fargate host path volume", client, one(noMem), fg(volumes(types.Volume{Name: aws.String("v"), Host: &types.HostVolumeProperties{SourcePath: aws.String("/data")}}))},
		{"fargate docker volume", client, one(noMem), fg(volumes(types.Volume{Name: aws.String("v"), DockerVolumeConfiguration: &types.DockerVolumeConfiguration{}}))},
		{"fargate ipcMode", client, one(noMem), fg(func(in *ecs.RegisterTaskDefinitionInput) { in.IpcMode = types.IpcModeTask })},
		{"fargate pidMode host", client, one(noMem), fg(func(in *ecs.RegisterTaskDefinitionInput) { in.PidMode = types.PidModeHost })},
		{"fargate placement constraints", client, one(noMem), fg(func(in *ecs.RegisterTaskDefinitionInput) {
			in.PlacementConstraints = []types.TaskDefinitionPlacementConstraint{{Type: types.TaskDefinitionPlacementConstraintTypeMemberOf, Expression: aws.String("attribute:x == y")}}
		})},
		{"fargate stopTimeout", client, one(noMem, func(c *types.ContainerDefinition) { c.StopTimeout = aws.Int32(121) }), fg()},
		{"fargate devices", client, one(noMem, func(c *types.ContainerDefinition) {
			c.LinuxParameters = &types.LinuxParameters{Devices: []types.Device{{HostPath: aws.String("/dev/fuse")}}}
		}), fg()},
		{"fargate GPU", client, one(noMem, func(c *types.ContainerDefinition) {
			c.ResourceRequirements = []types.ResourceRequirement{{Type: types.ResourceTypeGpu, Value: aws.String("1")}}
		}), fg()},
		{"fargate windows 512", client, one(noMem), fg(func(in *ecs.RegisterTaskDefinitionInput) {
			in.Cpu, in.Memory = aws.String("512"), aws.String("1024")
			in.RuntimePlatform = &types.RuntimePlatform{OperatingSystemFamily: types.OSFamilyWindowsServer2022Core}
		})},
		{"windows arm64", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) {
			in.RuntimePlatform = &types.RuntimePlatform{OperatingSystemFamily: types.OSFamilyWindowsServer2022Core, CpuArchitecture: types.CPUArchitectureArm64}
		}}},
		{"external awsvpc", client, one(), []func(*ecs.RegisterTaskDefinitionInput){mode(types.NetworkModeAwsvpc), func(in *ecs.RegisterTaskDefinitionInput) {
			in.RequiresCompatibilities = []types.Compatibility{types.CompatibilityExternal}
		}}},
		{"ephemeral storage too small", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) {
			in.EphemeralStorage = &types.EphemeralStorage{SizeInGiB: 20}
		}}},
		// Network mode and ports.
		{"awsvpc host port differs", client, one(ports(pm(80, 8080))), []func(*ecs.RegisterTaskDefinitionInput){mode(types.NetworkModeAwsvpc)}},
		{"host host port differs", client, one(ports(pm(80, 8080))), []func(*ecs.RegisterTaskDefinitionInput){mode(types.NetworkModeHost)}},
		{"none with ports", client, one(ports(pm(80))), []func(*ecs.RegisterTaskDefinitionInput){mode(types.NetworkModeNone)}},
		{"no container port", client, one(ports(types.PortMapping{HostPort: aws.Int32(80)})), nil},
		{"container port 0", client, one(ports(pm(0))), nil},
		{"container port 70000", client, one(ports(pm(70000))), nil},
		{"host port negative", client, one(ports(pm(80, -1))), nil},
		{"same port twice in a container", client, one(ports(pm(80), pm(80))), nil},
		{"static host port twice", client, []types.ContainerDefinition{ctr("a", ports(pm(80, 8080))), ctr("b", ports(pm(81, 8080)))}, nil},
		{"awsvpc port twice in the task", client, []types.ContainerDefinition{ctr("a", ports(pm(80))), ctr("b", ports(pm(80)))}, []func(*ecs.RegisterTaskDefinitionInput){mode(types.NetworkModeAwsvpc)}},
		{"protocol sctp", param, one(ports(types.PortMapping{ContainerPort: aws.Int32(80), Protocol: "sctp"})), nil},
		{"port range reversed", client, one(ports(types.PortMapping{ContainerPortRange: aws.String("9000-8000")})), nil},
		{"port range in host mode", client, one(ports(types.PortMapping{ContainerPortRange: aws.String("8000-9000")})), []func(*ecs.RegisterTaskDefinitionInput){mode(types.NetworkModeHost)}},
		{"port range with container port", client, one(ports(types.PortMapping{ContainerPortRange: aws.String("8000-9000"), ContainerPort: aws.Int32(8000)})), nil},
		{"port range overlaps port", client, one(ports(types.PortMapping{ContainerPortRange: aws.String("8000-9000")}, pm(8500))), nil},
		{"port name uppercase", client, one(ports(types.PortMapping{ContainerPort: aws.Int32(80), Name: aws.String("Web")})), nil},
		{"port name twice", client, []types.ContainerDefinition{
			ctr("a", ports(types.PortMapping{ContainerPort: aws.Int32(80), Name: aws.String("web")})),
			ctr("b", ports(types.PortMapping{ContainerPort: aws.Int32(81), Name: aws.String("web")})),
		}, nil},
		{"links in awsvpc", client, []types.ContainerDefinition{ctr("a", func(c *types.ContainerDefinition) { c.Links = []string{"b"} }), ctr("b")}, []func(*ecs.RegisterTaskDefinitionInput){mode(types.NetworkModeAwsvpc)}},
		{"link to unknown container", client, one(func(c *types.ContainerDefinition) { c.Links = []string{"db:database"} }), nil},
		{"link to itself", client, one(func(c *types.ContainerDefinition) { c.Links = []string{"app"} }), nil},
		{"hostname in awsvpc", client, one(func(c *types.ContainerDefinition) { c.Hostname = aws.String("h") }), []func(*ecs.RegisterTaskDefinitionInput){mode(types.NetworkModeAwsvpc)}},
		// Health checks.
		{"health check without CMD", client, one(health([]string{"curl", "-f", "localhost"})), nil},
		{"health check CMD alone", client, one(health([]string{"CMD-SHELL"})), nil},
		{"health check empty", client, one(health([]string{})), nil},
		{"health check interval 4", client, one(health([]string{"CMD", "true"}, func(h *types.HealthCheck) { h.Interval = aws.Int32(4) })), nil},
		{"health check timeout 61", client, one(health([]string{"CMD", "true"}, func(h *types.HealthCheck) { h.Timeout = aws.Int32(61) })), nil},
		{"health check retries 11", client, one(health([]string{"CMD", "true"}, func(h *types.HealthCheck) { h.Retries = aws.Int32(11) })), nil},
		{"health check startPeriod 301", client, one(health([]string{"CMD", "true"}, func(h *types.HealthCheck) { h.StartPeriod = aws.Int32(301) })), nil},
		// dependsOn.
		{"depends on unknown container", client, one(dependsOn("db", types.ContainerConditionStart)), nil},
		{"depends on itself", client, one(dependsOn("app", types.ContainerConditionStart)), nil},
		{"COMPLETE on essential container", client, []types.ContainerDefinition{ctr("app", dependsOn("init", types.ContainerConditionComplete)), ctr("init")}, nil},
		{"SUCCESS on essential container", client, []types.ContainerDefinition{ctr("app", dependsOn("init", types.ContainerConditionSuccess)), ctr("init")}, nil},
		{"HEALTHY without health check", client, []types.ContainerDefinition{ctr("app", dependsOn("db", types.ContainerConditionHealthy)), ctr("db")}, nil},
		{"dependency cycle", client, []types.ContainerDefinition{ctr("a", dependsOn("b", types.ContainerConditionStart)), ctr("b", dependsOn("c", types.ContainerConditionStart)), ctr("c", dependsOn("a", types.ContainerConditionStart))}, nil},
		{"cycle through volumesFrom", client, []types.ContainerDefinition{
			ctr("a", dependsOn("b", types.ContainerConditionStart)),
			ctr("b", func(c *types.ContainerDefinition) {
				c.VolumesFrom = []types.VolumeFrom{{SourceContainer: aws.String("a")}}
			}),
		}, nil},
		{"dependency condition unknown", param, one(dependsOn("app", "READY")), nil},
		// Volumes.
		{"volume without name", client, one(), []func(*ecs.RegisterTaskDefinitionInput){volumes(types.Volume{})}},
		{"volume name invalid", client, one(), []func(*ecs.RegisterTaskDefinitionInput){volumes(types.Volume{Name: aws.String("a/b")})}},
		{"duplicate volume names", client, one(), []func(*ecs.RegisterTaskDefinitionInput){volumes(types.Volume{Name: aws.String("v")}, types.Volume{Name: aws.String("v")})}},
		{"volume with two configurations", client, one(), []func(*ecs.RegisterTaskDefinitionInput){volumes(types.Volume{Name: aws.String("v"), Host: &types.HostVolumeProperties{},
			EfsVolumeConfiguration: &types.EFSVolumeConfiguration{FileSystemId: aws.String("fs-1")}})}},
		{"mount point of unknown volume", client, one(func(c *types.ContainerDefinition) {
			c.MountPoints = []types.MountPoint{{SourceVolume: aws.String("data"), ContainerPath: aws.String("/data")}}
		}), nil},
		{"mount point without path", client, one(func(c *types.ContainerDefinition) {
			c.MountPoints = []types.MountPoint{{SourceVolume: aws.String("v")}}
		}), []func(*ecs.RegisterTaskDefinitionInput){volumes(types.Volume{Name: aws.String("v")})}},
		{"volumesFrom unknown container", client, one(func(c *types.ContainerDefinition) {
			c.VolumesFrom = []types.VolumeFrom{{SourceContainer: aws.String("data")}}
		}), nil},
		{"volumesFrom itself", client, one(func(c *types.ContainerDefinition) {
			c.VolumesFrom = []types.VolumeFrom{{SourceContainer: aws.String("app")}}
		}), nil},
		{"autoprovision with task scope", client, one(), []func(*ecs.RegisterTaskDefinitionInput){volumes(types.Volume{Name: aws.String("v"),
			DockerVolumeConfiguration: &types.DockerVolumeConfiguration{Scope: types.ScopeTask, Autoprovision: aws.Bool(true)}})}},
		{"efs access point without encryption", client, one(), []func(*ecs.RegisterTaskDefinitionInput){volumes(types.Volume{Name: aws.String("v"),
			EfsVolumeConfiguration: &types.EFSVolumeConfiguration{FileSystemId: aws.String("fs-1"), AuthorizationConfig: &types.EFSAuthorizationConfig{AccessPointId: aws.String("fsap-1")}}})}},
		// Secrets, logs, environment files, roles.
		{"secret from S3", client, one(secret("arn:aws:s3:::bucket/key")), []func(*ecs.RegisterTaskDefinitionInput){withExecRole}},
		{"secret name with spaces", client, one(secret("my secret")), []func(*ecs.RegisterTaskDefinitionInput){withExecRole}},
		{"secret stage and version id", client, one(secret("arn:aws:secretsmanager:us-east-1:000000000000:secret:s-AbCdEf::AWSCURRENT:abc")), []func(*ecs.RegisterTaskDefinitionInput){withExecRole}},
		{"secret without execution role", client, one(secret("/prod/db")), nil},
		{"awslogs without group", client, one(logs(types.LogDriverAwslogs, map[string]string{"awslogs-region": "us-east-1"})), nil},
		{"awsfirelens without router", client, one(logs(types.LogDriverAwsfirelens, nil)), nil},
		{"two log routers", client, []types.ContainerDefinition{
			ctr("a", func(c *types.ContainerDefinition) {
				c.FirelensConfiguration = &types.FirelensConfiguration{Type: types.FirelensConfigurationTypeFluentbit}
			}),
			ctr("b", func(c *types.ContainerDefinition) {
				c.FirelensConfiguration = &types.FirelensConfiguration{Type: types.FirelensConfigurationTypeFluentd}
			}),
		}, nil},
		{"environment file not an ARN", client, one(func(c *types.ContainerDefinition) {
			c.EnvironmentFiles = []types.EnvironmentFile{{Type: types.EnvironmentFileTypeS3, Value: aws.String("s3://bucket/app.env")}}
		}), nil},
		{"environment file extension", client, one(func(c *types.ContainerDefinition) {
			c.EnvironmentFiles = []types.EnvironmentFile{{Type: types.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::bucket/app.txt")}}
		}), nil},
		{"task role not a role", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) {
			in.TaskRoleArn = aws.String("arn:aws:iam::000000000000:user/bob")
		}}},
		{"repository credentials not a secret", client, one(func(c *types.ContainerDefinition) {
			c.RepositoryCredentials = &types.RepositoryCredentials{CredentialsParameter: aws.String("arn:aws:ssm:us-east-1:000000000000:parameter/x")}
		}), nil},
		// Other container members.
		{"ulimit soft above hard", client, one(func(c *types.ContainerDefinition) {
			c.Ulimits = []types.Ulimit{{Name: types.UlimitNameNofile, SoftLimit: 2048, HardLimit: 1024}}
		}), nil},
		{"ulimit twice", client, one(func(c *types.ContainerDefinition) {
			c.Ulimits = []types.Ulimit{{Name: types.UlimitNameNofile, SoftLimit: 1, HardLimit: 1}, {Name: types.UlimitNameNofile, SoftLimit: 2, HardLimit: 2}}
		}), nil},
		{"restart attempt period 30", client, one(func(c *types.ContainerDefinition) {
			c.RestartPolicy = &types.ContainerRestartPolicy{Enabled: aws.Bool(true), RestartAttemptPeriod: aws.Int32(30)}
		}), nil},
		{"GPU count not a number", client, one(func(c *types.ContainerDefinition) {
			c.ResourceRequirements = []types.ResourceRequirement{{Type: types.ResourceTypeGpu, Value: aws.String("one")}}
		}), nil},
		{"swappiness 101", client, one(func(c *types.ContainerDefinition) {
			c.LinuxParameters = &types.LinuxParameters{Swappiness: aws.Int32(101)}
		}), nil},
		// Task-level members.
		{"proxy for unknown container", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) {
			in.ProxyConfiguration = &types.ProxyConfiguration{ContainerName: aws.String("envoy")}
		}}},
		{"memberOf without expression", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) {
			in.PlacementConstraints = []types.TaskDefinitionPlacementConstraint{{Type: types.TaskDefinitionPlacementConstraintTypeMemberOf}}
		}}},
		{"eleven placement constraints", client, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) {
			for range 11 {
				in.PlacementConstraints = append(in.PlacementConstraints, types.TaskDefinitionPlacementConstraint{Type: types.TaskDefinitionPlacementConstraintTypeMemberOf, Expression: aws.String("attribute:a == b")})
			}
		}}},
		{"distinctInstance constraint", param, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) {
			in.PlacementConstraints = []types.TaskDefinitionPlacementConstraint{{Type: "distinctInstance"}}
		}}},
		{"reserved tag", param, one(), []func(*ecs.RegisterTaskDefinitionInput){func(in *ecs.RegisterTaskDefinitionInput) {
			in.Tags = []types.Tag{{Key: aws.String("aws:owner"), Value: aws.String("x")}}
		}}},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				_, err := c.RegisterTaskDefinition(t.Context(), td("bad", tc.cds, tc.muts...))
				if err == nil {
					t.Fatalf("accepted, want %s", tc.code)
				}
				if got := errCode(t, err); got != tc.code {
					t.Fatalf("got %v, want %s", err, tc.code)
				}
			})
		}
	})
	for _, st := range []types.TaskDefinitionStatus{types.TaskDefinitionStatusActive, types.TaskDefinitionStatusInactive} {
		if got := listTDs(t, c, &ecs.ListTaskDefinitionsInput{Status: st}); len(got) != 0 {
			t.Fatalf("refused registrations wrote %s task definitions: %v", st, got)
		}
	}
	if got := listFamilies(t, c, &ecs.ListTaskDefinitionFamiliesInput{}); len(got) != 0 {
		t.Fatalf("refused registrations wrote families: %v", got)
	}
	// The family counter was not touched either: the first good registration is revision 1.
	if d := register(t, c, td("bad", []types.ContainerDefinition{ctr("app")})); d.Revision != 1 {
		t.Fatalf("first accepted registration got revision %d", d.Revision)
	}
}
