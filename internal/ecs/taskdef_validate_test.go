package ecs

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/berth-dev/berth/internal/awsapi"
	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

func TestParseTaskDefCPUAndMemory(t *testing.T) {
	t.Parallel()
	cpu := map[string]int{
		"1024": 1024, "128": 128, "196608": 196608, "1 vCPU": 1024, "1 vcpu": 1024, "0.25 vcpu": 256,
		".5 VCPU": 512, "2vCPU": 2048, " 4 vcpu ": 4096, "0.125 vcpu": 128, "192 vcpu": 196608,
	}
	for in, want := range cpu {
		if got, err := parseTaskDefCPU(in); err != nil || got != want {
			t.Errorf("cpu %q: got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "127", "196609", "0.1 vcpu", "1e3", "-1024", "1024 units", "vcpu", "1.5.2 vcpu", "1/2 vcpu", "9999999999"} {
		if _, err := parseTaskDefCPU(in); !awsapi.IsCode(err, ecsapi.ErrCodeClientException) {
			t.Errorf("cpu %q accepted (%v)", in, err)
		}
	}
	mem := map[string]int{
		"512": 512, "2GB": 2048, "2 GB": 2048, "1gb": 1024, "0.5 GB": 512, "512 MiB": 512, "512MB": 512, "1.5 GiB": 1536, "6": 6,
	}
	for in, want := range mem {
		if got, err := parseTaskDefMemory(in); err != nil || got != want {
			t.Errorf("memory %q: got %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5", "2 TB", "0.0001 GB", "GB", "-512", "1e3", "2048 KB"} {
		if _, err := parseTaskDefMemory(in); !awsapi.IsCode(err, ecsapi.ErrCodeClientException) {
			t.Errorf("memory %q accepted (%v)", in, err)
		}
	}
}

// TestFargateSizeTable checks fargateSizeOK against the table written out
// value by value.
func TestFargateSizeTable(t *testing.T) {
	t.Parallel()
	gb := func(from, to, step int) []int {
		var out []int
		for v := from; v <= to; v += step {
			out = append(out, v*1024)
		}
		return out
	}
	table := map[int][]int{
		256:   {512, 1024, 2048},
		512:   gb(1, 4, 1),
		1024:  gb(2, 8, 1),
		2048:  gb(4, 16, 1),
		4096:  gb(8, 30, 1),
		8192:  gb(16, 60, 4),
		16384: gb(32, 120, 8),
	}
	for cpu := 128; cpu <= 32768; cpu += 128 {
		for mem := 256; mem <= 131072; mem += 256 {
			want := slices.Contains(table[cpu], mem)
			if got := fargateSizeOK(cpu, mem, false); got != want {
				t.Fatalf("fargateSizeOK(%d, %d) = %v, want %v", cpu, mem, got, want)
			}
			winWant := want && cpu >= 1024 && cpu <= 4096
			if got := fargateSizeOK(cpu, mem, true); got != winWant {
				t.Fatalf("fargateSizeOK(%d, %d, windows) = %v, want %v", cpu, mem, got, winWant)
			}
		}
	}
}

func TestSecretSource(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"db-password":       "ssm",
		"/prod/db/password": "ssm",
		"arn:aws:ssm:us-east-1:000000000000:parameter/prod/db":                         "ssm",
		"arn:aws:ssm:us-east-1:000000000000:parameter/db":                              "ssm",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf":               "asm",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf:username1::":   "asm",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf::AWSPREVIOUS:": "asm",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf:::abc-123":     "asm",
		"arn:aws-cn:secretsmanager:cn-north-1:000000000000:secret:db-AbCdEf":           "asm",
		"":                        "",
		"has space":               "",
		"arn:aws:s3:::bucket/key": "",
		"arn:aws:ssm:us-east-1:000000000000:document/x":                          "",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:db:k":              "",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:db::AWSCURRENT:id": "",
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:":                  "",
		"arn:aws:secretsmanager::000000000000:secret:db":                         "",
	}
	for in, want := range cases {
		got, ok := secretSource(in)
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("secretSource(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

// validRequest is a registration that uses most features at once.
func validRequest() *ecsapi.RegisterTaskDefinitionRequest {
	return &ecsapi.RegisterTaskDefinitionRequest{
		Family:                  "full",
		NetworkMode:             ptr(ecsapi.NetworkModeAwsvpc),
		RequiresCompatibilities: []ecsapi.Compatibility{ecsapi.CompatibilityFargate, ecsapi.CompatibilityFargate},
		Cpu:                     ptr("0.5 vCPU"),
		Memory:                  ptr("1 GB"),
		ExecutionRoleArn:        ptr("arn:aws:iam::000000000000:role/exec"),
		Volumes:                 []ecsapi.Volume{{Name: ptr("scratch")}},
		ContainerDefinitions: []ecsapi.ContainerDefinition{
			{
				Name: ptr("app"), Image: ptr("nginx"), Cpu: ptr(int32(256)),
				PortMappings: []ecsapi.PortMapping{{ContainerPort: ptr(int32(80)), Name: ptr("web")}},
				DependsOn:    []ecsapi.ContainerDependency{{ContainerName: "init", Condition: ecsapi.ContainerConditionSuccess}},
				MountPoints:  []ecsapi.MountPoint{{SourceVolume: ptr("scratch"), ContainerPath: ptr("/scratch")}},
				Secrets:      []ecsapi.Secret{{Name: "TOKEN", ValueFrom: "/prod/token"}},
				HealthCheck:  &ecsapi.HealthCheck{Command: []string{"CMD-SHELL", "curl -f localhost"}},
				LogConfiguration: &ecsapi.LogConfiguration{LogDriver: ecsapi.LogDriverAwslogs,
					Options: map[string]string{"awslogs-group": "/ecs/full", "awslogs-region": "us-east-1"}},
			},
			{Name: ptr("init"), Image: ptr("busybox"), Essential: ptr(false), Command: []string{"true"}},
		},
	}
}

func TestValidateTaskDefinitionIsPure(t *testing.T) {
	t.Parallel()
	in := validRequest()
	before, _ := json.Marshal(in)
	first, err := validateTaskDefinition(in)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := json.Marshal(in)
	if string(before) != string(after) {
		t.Fatalf("validation modified its input:\n%s\n%s", before, after)
	}
	second, _ := validateTaskDefinition(in)
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if string(a) != string(b) {
		t.Fatalf("validation is not deterministic:\n%s\n%s", a, b)
	}
	if !slices.Equal(first.Compatibilities, []ecsapi.Compatibility{ecsapi.CompatibilityEc2, ecsapi.CompatibilityFargate}) ||
		!slices.Equal(first.RequiresCompatibilities, []ecsapi.Compatibility{ecsapi.CompatibilityFargate}) {
		t.Fatalf("compatibilities %v requires %v", first.Compatibilities, first.RequiresCompatibilities)
	}
	if deref(first.Cpu) != "512" || deref(first.Memory) != "1024" || first.Volumes[0].Host == nil {
		t.Fatalf("normalisation: cpu %s memory %s volume %+v", deref(first.Cpu), deref(first.Memory), first.Volumes[0])
	}
	checkFixedPoint(t, first)
}

// requestOf turns a validated definition back into a registration.
func requestOf(td *ecsapi.TaskDefinition) *ecsapi.RegisterTaskDefinitionRequest {
	r := &ecsapi.RegisterTaskDefinitionRequest{
		Family: deref(td.Family), TaskRoleArn: td.TaskRoleArn, ExecutionRoleArn: td.ExecutionRoleArn,
		NetworkMode: td.NetworkMode, ContainerDefinitions: td.ContainerDefinitions, Volumes: td.Volumes,
		PlacementConstraints: td.PlacementConstraints, RequiresCompatibilities: td.RequiresCompatibilities,
		Cpu: td.Cpu, Memory: td.Memory, PidMode: td.PidMode, IpcMode: td.IpcMode, ProxyConfiguration: td.ProxyConfiguration,
		InferenceAccelerators: td.InferenceAccelerators, EphemeralStorage: td.EphemeralStorage,
		RuntimePlatform: td.RuntimePlatform, EnableFaultInjection: td.EnableFaultInjection,
	}
	// Round-trip through JSON so the request shares nothing with td.
	b, _ := json.Marshal(r)
	var out ecsapi.RegisterTaskDefinitionRequest
	_ = json.Unmarshal(b, &out)
	return &out
}

// checkFixedPoint asserts that registering what a registration produced
// produces it again: normalisation and defaults are idempotent.
func checkFixedPoint(t *testing.T, td *ecsapi.TaskDefinition) {
	t.Helper()
	again, err := validateTaskDefinition(requestOf(td))
	if err != nil {
		if b, _ := json.Marshal(requestOf(td)); len(b) > maxTaskDefBytes {
			return // the filled-in defaults pushed it over the size quota
		}
		t.Fatalf("a validated definition does not validate again: %v", err)
	}
	a, _ := json.Marshal(td)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Fatalf("validation is not idempotent:\n%s\n%s", a, b)
	}
}

var decimalRE = regexp.MustCompile(`^[1-9][0-9]*$`)

// FuzzRegisterTaskDefinitionValidation feeds arbitrary request JSON to the
// validator: it must not panic, must refuse with ClientException only, and
// what it accepts must satisfy registration's invariants.
func FuzzRegisterTaskDefinitionValidation(f *testing.F) {
	seed, _ := json.Marshal(validRequest())
	f.Add(seed)
	f.Add([]byte(`{"family":"web","containerDefinitions":[{"name":"app","image":"nginx","memory":128}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var in ecsapi.RegisterTaskDefinitionRequest
		if json.Unmarshal(data, &in) != nil {
			return
		}
		before, _ := json.Marshal(&in)
		td, err := validateTaskDefinition(&in)
		if after, _ := json.Marshal(&in); string(before) != string(after) {
			t.Fatalf("validation modified its input")
		}
		if err != nil {
			if !awsapi.IsCode(err, ecsapi.ErrCodeClientException) {
				t.Fatalf("refusal is not a ClientException: %v", err)
			}
			return
		}
		if deref(td.Family) != in.Family || !taskDefNameRE.MatchString(in.Family) {
			t.Fatalf("family %q became %q", in.Family, deref(td.Family))
		}
		if n := len(td.ContainerDefinitions); n < 1 || n > maxContainersPerTaskDef || n != len(in.ContainerDefinitions) {
			t.Fatalf("%d containers", n)
		}
		for _, s := range []*string{td.Cpu, td.Memory} {
			if s != nil && !decimalRE.MatchString(*s) {
				t.Fatalf("cpu/memory %q not normalised", *s)
			}
		}
		if !slices.Contains(td.Compatibilities, ecsapi.CompatibilityEc2) {
			t.Fatalf("compatibilities %v lack EC2", td.Compatibilities)
		}
		for _, rc := range td.RequiresCompatibilities {
			if !slices.Contains(td.Compatibilities, rc) {
				t.Fatalf("required %s missing from compatibilities %v", rc, td.Compatibilities)
			}
		}
		if slices.Contains(td.Compatibilities, ecsapi.CompatibilityFargate) {
			cpu, _ := parseTaskDefCPU(deref(td.Cpu))
			mem, _ := parseTaskDefMemory(deref(td.Memory))
			if deref(td.NetworkMode) != ecsapi.NetworkModeAwsvpc || !fargateSizeOK(cpu, mem, false) {
				t.Fatalf("FARGATE-compatible with mode %s, %d CPU, %d MiB", deref(td.NetworkMode), cpu, mem)
			}
		}
		essentials := 0
		for _, cd := range td.ContainerDefinitions {
			if cd.Essential == nil || cd.Cpu == nil || cd.PortMappings == nil || cd.Environment == nil {
				t.Fatalf("container %s lacks defaults", deref(cd.Name))
			}
			if *cd.Essential {
				essentials++
			}
		}
		if essentials == 0 {
			t.Fatalf("no essential container")
		}
		checkFixedPoint(t, td)
	})
}
