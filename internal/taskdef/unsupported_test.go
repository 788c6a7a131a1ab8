package taskdef

import (
	"strings"
	"testing"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

// cdef is a container definition with dependsOn entries "name:CONDITION".
func cdef(name string, deps ...string) ecsapi.ContainerDefinition {
	d := ecsapi.ContainerDefinition{Name: ptr(name), Image: ptr("img")}
	for _, dep := range deps {
		n, cond, _ := strings.Cut(dep, ":")
		d.DependsOn = append(d.DependsOn, ecsapi.ContainerDependency{ContainerName: n, Condition: ecsapi.ContainerCondition(cond)})
	}
	return d
}

func tdef(mode string, defs ...ecsapi.ContainerDefinition) ecsapi.TaskDefinition {
	nm := ecsapi.NetworkMode(mode)
	return ecsapi.TaskDefinition{Family: ptr("fam"), Revision: ptr(int32(3)), NetworkMode: &nm, ContainerDefinitions: defs}
}

func TestUnsupported(t *testing.T) {
	t.Parallel()
	drivers := []string{"json-file", "none"}
	with := func(name string, f func(*ecsapi.ContainerDefinition)) ecsapi.ContainerDefinition {
		c := cdef(name)
		f(&c)
		return c
	}
	withSecrets := with("a", func(c *ecsapi.ContainerDefinition) { c.Secrets = []ecsapi.Secret{{}} })
	withLog := with("a", func(c *ecsapi.ContainerDefinition) {
		c.LogConfiguration = &ecsapi.LogConfiguration{LogDriver: "awslogs"}
	})
	hc := with("h", func(c *ecsapi.ContainerDefinition) {
		c.HealthCheck = &ecsapi.HealthCheck{Command: []string{"CMD", "true"}}
	})
	task := func(mode string, f func(*ecsapi.TaskDefinition), defs ...ecsapi.ContainerDefinition) ecsapi.TaskDefinition {
		d := tdef(mode, defs...)
		f(&d)
		return d
	}
	tests := []struct {
		name    string
		def     ecsapi.TaskDefinition
		o       *ecsapi.TaskOverride
		drivers []string
		want    string // the joined problems
	}{
		{"plain", tdef("bridge", cdef("a")), nil, drivers, ""},
		{"healthy dep with check", tdef("bridge", hc, cdef("b", "h:HEALTHY")), nil, drivers, ""},
		{"secrets", tdef("bridge", withSecrets), nil, drivers, "container a: secrets is not supported"},
		{"log driver", tdef("bridge", withLog), nil, drivers, `container a: log driver "awslogs" is not available on this instance (available: json-file, none)`},
		{"log driver, none available", tdef("bridge", withLog), nil, []string{}, `container a: log driver "awslogs" is not available on this instance (available: )`},
		{"log driver not checked", tdef("bridge", withLog), nil, nil, ""},
		{"healthy dep without check", tdef("bridge", cdef("a"), cdef("b", "a:HEALTHY")), nil, drivers, "container b: dependsOn a HEALTHY needs a healthCheck on a"},
		{"missing dep", tdef("bridge", cdef("b", "zz:START")), nil, drivers, `container b: dependsOn container "zz" is not in the task`},
		{"cycle", tdef("bridge", cdef("a", "b:START"), cdef("b", "a:START")), nil, drivers, "dependsOn has a cycle"},
		{"bad mode", tdef("nat", cdef("a")), nil, drivers, `network mode "nat" is not supported`},
		{"no essential", tdef("bridge", with("a", func(c *ecsapi.ContainerDefinition) { c.Essential = ptr(false) })), nil, drivers, "the task has no essential container"},
		{"port range", tdef("bridge", with("a", func(c *ecsapi.ContainerDefinition) {
			c.PortMappings = []ecsapi.PortMapping{{ContainerPortRange: ptr("8000-8010")}}
		})), nil, drivers, "container a: containerPortRange is not supported"},
		{"links outside bridge", tdef("host", with("a", func(c *ecsapi.ContainerDefinition) { c.Links = []string{"b"} })), nil, drivers,
			"container a: links (bridge mode only) is not supported"},
		{"pid task", task("bridge", func(d *ecsapi.TaskDefinition) { d.PidMode = ptr(ecsapi.PidModeTask) }, cdef("a")), nil, drivers,
			`pidMode "task" is not supported (only host)`},
		{"efs", task("bridge", func(d *ecsapi.TaskDefinition) {
			d.Volumes = []ecsapi.Volume{{Name: ptr("v"), EfsVolumeConfiguration: &ecsapi.EFSVolumeConfiguration{FileSystemId: "fs-1"}}}
		}, cdef("a")), nil, drivers, "volume v: efsVolumeConfiguration is not supported"},
		{"task cpu and memory", task("bridge", func(d *ecsapi.TaskDefinition) { d.Cpu, d.Memory = ptr("0.5 vcpu"), ptr("1 GB") }, cdef("a")), nil, drivers, ""},
		{"task cpu fraction", task("bridge", func(d *ecsapi.TaskDefinition) { d.Cpu = ptr("0.1 vcpu") }, cdef("a")), nil, drivers,
			`task cpu: "0.1 vcpu" is not a whole number of CPU units`},
		// An override is the task's value: one the agent could not read must
		// be refused, not dropped, even when the definition's is fine.
		{"override cpu and memory", task("bridge", func(d *ecsapi.TaskDefinition) { d.Cpu, d.Memory = ptr("256"), ptr("512") }, cdef("a")),
			&ecsapi.TaskOverride{Cpu: ptr("0.3 vcpu"), Memory: ptr("0.5 MB")}, drivers,
			`task cpu: "0.3 vcpu" is not a whole number of CPU units; task memory: "0.5 MB" is not a whole number of MiB`},
		{"override ok", task("bridge", func(d *ecsapi.TaskDefinition) { d.Cpu = ptr("lots") }, cdef("a")),
			&ecsapi.TaskOverride{Cpu: ptr("1 vcpu")}, drivers, ""},
		{"overrides", tdef("bridge", cdef("a")), &ecsapi.TaskOverride{EphemeralStorage: &ecsapi.EphemeralStorage{SizeInGiB: 30},
			InferenceAcceleratorOverrides: []ecsapi.InferenceAcceleratorOverride{{}}}, drivers,
			"ephemeralStorage overrides are not supported; inferenceAcceleratorOverrides are not supported"},
		// Container overrides are checked as applied.
		{"container override", tdef("bridge", cdef("a"), cdef("b")), &ecsapi.TaskOverride{ContainerOverrides: []ecsapi.ContainerOverride{
			{Name: ptr("b"), EnvironmentFiles: []ecsapi.EnvironmentFile{{Type: ecsapi.EnvironmentFileTypeS3, Value: "arn:aws:s3:::b/k.env"}},
				ResourceRequirements: []ecsapi.ResourceRequirement{{Type: ecsapi.ResourceTypeGpu, Value: "1"}}},
		}}, drivers, "container b: environmentFiles is not supported; container b: resourceRequirements (GPU, InferenceAccelerator) is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := strings.Join(Unsupported(tt.def, tt.o, tt.drivers), "; "); got != tt.want {
				t.Errorf("Unsupported = %q\nwant %q", got, tt.want)
			}
		})
	}
}
