package awsapi_test

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/awsapi"
	"github.com/berth-dev/berth/internal/awsapi/ecs"
	"github.com/berth-dev/berth/internal/awsapi/logs"
	"github.com/berth-dev/berth/internal/lazyregexp"
)

func ptr[T any](v T) *T { return &v }

// validatable is every generated input shape.
type validatable interface{ Validate() error }

func TestValidateECS(t *testing.T) {
	t.Parallel()
	const tagKeyPattern = `([\p{L}\p{Z}\p{N}_.:/=+\-@]*)`
	const launchTypes = "[EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES]"
	manyTags := make([]ecs.Tag, 51)
	for i := range manyTags {
		manyTags[i] = ecs.Tag{Key: ptr("k" + strconv.Itoa(i))}
	}
	validTD := func() *ecs.RegisterTaskDefinitionRequest {
		return &ecs.RegisterTaskDefinitionRequest{
			Family:               "web",
			ContainerDefinitions: []ecs.ContainerDefinition{{Name: ptr("app"), Image: ptr("nginx")}},
		}
	}
	tests := []struct {
		name string
		in   validatable
		// want is the exact message; "" means valid.
		want string
	}{
		{name: "empty CreateCluster is valid", in: &ecs.CreateClusterRequest{}},
		{name: "plain clusterName has no model constraint", in: &ecs.CreateClusterRequest{ClusterName: ptr(strings.Repeat("x", 300))}},
		{name: "tag key empty", in: &ecs.CreateClusterRequest{Tags: []ecs.Tag{{Key: ptr("")}}},
			want: "1 validation error detected: Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{name: "tag key too long", in: &ecs.CreateClusterRequest{Tags: []ecs.Tag{{Key: ptr("a")}, {Key: ptr(strings.Repeat("k", 129))}}},
			want: "1 validation error detected: Value '" + strings.Repeat("k", 129) + "' at 'tags.2.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"},
		{name: "tag key pattern", in: &ecs.CreateClusterRequest{Tags: []ecs.Tag{{Key: ptr("a!b")}}},
			want: "1 validation error detected: Value 'a!b' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: " + tagKeyPattern},
		{name: "tag value length counts runes", in: &ecs.CreateClusterRequest{Tags: []ecs.Tag{{Key: ptr("k"), Value: ptr(strings.Repeat("é", 256))}}}},
		{name: "tag value too long", in: &ecs.CreateClusterRequest{Tags: []ecs.Tag{{Key: ptr("k"), Value: ptr(strings.Repeat("é", 257))}}},
			want: "1 validation error detected: Value '" + strings.Repeat("é", 257) + "' at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256"},
		{name: "unicode letters satisfy the tag pattern", in: &ecs.CreateClusterRequest{Tags: []ecs.Tag{{Key: ptr("équipe:Größe"), Value: ptr("東京 1")}}}},
		{name: "too many tags", in: &ecs.CreateClusterRequest{Tags: manyTags},
			want: "Member must have length less than or equal to 50"},
		{name: "settings enum", in: &ecs.CreateClusterRequest{Settings: []ecs.ClusterSetting{{Name: ptr(ecs.ClusterSettingName("bogus"))}}},
			want: "1 validation error detected: Value 'bogus' at 'settings.1.member.name' failed to satisfy constraint: Member must satisfy enum value set: [containerInsights]"},
		{name: "RunTask missing taskDefinition", in: &ecs.RunTaskRequest{Count: ptr(int32(0))},
			want: "1 validation error detected: Value null at 'taskDefinition' failed to satisfy constraint: Member must not be null"},
		{name: "RunTask count has no model bounds", in: &ecs.RunTaskRequest{TaskDefinition: "x", Count: ptr(int32(11))}},
		{name: "RunTask launchType enum", in: &ecs.RunTaskRequest{TaskDefinition: "x", LaunchType: ptr(ecs.LaunchType("EC3"))},
			want: "1 validation error detected: Value 'EC3' at 'launchType' failed to satisfy constraint: Member must satisfy enum value set: " + launchTypes},
		{name: "RunTask valid enum", in: &ecs.RunTaskRequest{TaskDefinition: "x", LaunchType: ptr(ecs.LaunchTypeFargate)}},
		{name: "numeric bounds and nested required", in: &ecs.RunTaskRequest{TaskDefinition: "x", CapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{
			{CapacityProvider: "FARGATE", Weight: ptr(int32(1000)), Base: ptr(int32(0))},
			{Weight: ptr(int32(1001)), Base: ptr(int32(-1))},
		}},
			want: "3 validation errors detected: " +
				"Value null at 'capacityProviderStrategy.2.member.capacityProvider' failed to satisfy constraint: Member must not be null; " +
				"Value '1001' at 'capacityProviderStrategy.2.member.weight' failed to satisfy constraint: Member must have value less than or equal to 1000; " +
				"Value '-1' at 'capacityProviderStrategy.2.member.base' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{name: "RegisterTaskDefinition valid", in: validTD()},
		{name: "RegisterTaskDefinition missing members", in: &ecs.RegisterTaskDefinitionRequest{},
			want: "2 validation errors detected: " +
				"Value null at 'family' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'containerDefinitions' failed to satisfy constraint: Member must not be null"},
		{name: "RegisterTaskDefinition nested paths", in: func() validatable {
			td := validTD()
			td.ContainerDefinitions = append(td.ContainerDefinitions, ecs.ContainerDefinition{
				Name:      ptr("sidecar"),
				Secrets:   []ecs.Secret{{Name: "DB"}},
				DependsOn: []ecs.ContainerDependency{{ContainerName: "app", Condition: "READY"}},
				Ulimits:   []ecs.Ulimit{{Name: ecs.UlimitNameNofile, SoftLimit: 1, HardLimit: 2}},
				PortMappings: []ecs.PortMapping{
					{ContainerPort: ptr(int32(80)), Protocol: ptr(ecs.TransportProtocolTcp)},
					{ContainerPort: ptr(int32(81)), Protocol: ptr(ecs.TransportProtocol("sctp"))},
				},
			})
			td.RequiresCompatibilities = []ecs.Compatibility{ecs.CompatibilityEc2, "EC4"}
			return td
		}(),
			want: "4 validation errors detected: " +
				"Value 'sctp' at 'containerDefinitions.2.member.portMappings.2.member.protocol' failed to satisfy constraint: Member must satisfy enum value set: [tcp, udp]; " +
				"Value null at 'containerDefinitions.2.member.secrets.1.member.valueFrom' failed to satisfy constraint: Member must not be null; " +
				"Value 'READY' at 'containerDefinitions.2.member.dependsOn.1.member.condition' failed to satisfy constraint: Member must satisfy enum value set: [START, COMPLETE, SUCCESS, HEALTHY]; " +
				"Value '[EC2, EC4]' at 'requiresCompatibilities' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: " + launchTypes + "]"},
		{name: "required structure missing", in: &ecs.UpdateTaskSetRequest{Cluster: "c", Service: "s", TaskSet: "t"},
			want: "1 validation error detected: Value null at 'scale' failed to satisfy constraint: Member must not be null"},
		{name: "required structure present", in: &ecs.UpdateTaskSetRequest{Cluster: "c", Service: "s", TaskSet: "t", Scale: &ecs.Scale{Value: ptr(50.0)}}},
		{name: "required structure present but empty", in: &ecs.UpdateTaskSetRequest{Cluster: "c", Service: "s", TaskSet: "t", Scale: &ecs.Scale{}}},
		{name: "double bounds", in: &ecs.DaemonDeploymentConfiguration{DrainPercent: ptr(100.5)},
			want: "1 validation error detected: Value '100.5' at 'drainPercent' failed to satisfy constraint: Member must have value less than or equal to 100.0"},
		{name: "NaN violates bounds", in: &ecs.DaemonDeploymentConfiguration{DrainPercent: ptr(math.NaN())},
			want: "Member must have value less than or equal to 100.0"},
		{name: "map keys and values", in: &logs.TagResourceRequest{ResourceArn: "arn:aws:logs:us-east-1:000000000000:log-group:g",
			Tags: map[string]string{"ok": "fine", "bad!": strings.Repeat("v", 257)}},
			want: "2 validation errors detected: " +
				`Value '{bad!=` + strings.Repeat("v", 257) + `, ok=fine}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$]; ` +
				`Value '{bad!=` + strings.Repeat("v", 257) + `, ok=fine}' at 'tags' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 256]`},
		{name: "empty map below min", in: &logs.TagResourceRequest{ResourceArn: "arn", Tags: map[string]string{}},
			want: "1 validation error detected: Value '{}' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.in.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var verr *awsapi.ValidationErrors
			if !errors.As(err, &verr) {
				t.Fatalf("Validate() = %v, want *awsapi.ValidationErrors", err)
			}
			// A want with the "N validation errors detected" prefix is the
			// whole message; a shorter one is a fragment.
			got := err.Error()
			if exact := strings.Contains(tt.want, "detected: "); (exact && got != tt.want) || !strings.Contains(got, tt.want) {
				t.Errorf("Validate() message\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestValidationErrorsMessage(t *testing.T) {
	t.Parallel()
	var v awsapi.Validator
	if v.Err() != nil {
		t.Fatal("empty Validator reports an error")
	}
	v.Missing("clusterName")
	v.String("launchType", "x", &awsapi.StringRule{Enum: []string{"EC2", "FARGATE", "EXTERNAL"}})
	v.String("password", "hunter2", &awsapi.StringRule{HasMin: true, Min: 10, Sensitive: true})
	v.Int("count", 0, &awsapi.IntRule{HasMin: true, Min: 1, HasMax: true, Max: 10})
	v.Len("names", []string{"a", "b"}, 2, &awsapi.LenRule{HasMax: true, Max: 1})
	awsapi.StringElems(&v, "ids", []string{"ok", "", "x"}, &awsapi.StringRule{
		HasMin: true, Min: 1, Pattern: lazyregexp.New(`^(?:[a-z]{2})$`), PatternText: "[a-z]{2}"})
	want := "6 validation errors detected: " +
		"Value null at 'clusterName' failed to satisfy constraint: Member must not be null; " +
		"Value 'x' at 'launchType' failed to satisfy constraint: Member must satisfy enum value set: [EC2, FARGATE, EXTERNAL]; " +
		"Value '*** Sensitive Data Redacted ***' at 'password' failed to satisfy constraint: Member must have length greater than or equal to 10; " +
		"Value '0' at 'count' failed to satisfy constraint: Member must have value greater than or equal to 1; " +
		"Value '[a, b]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 1; " +
		"Value '[ok, , x]' at 'ids' failed to satisfy constraint: Member must satisfy constraint: [Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [a-z]{2}]"
	if got := v.Err().Error(); got != want {
		t.Errorf("message\n got: %s\nwant: %s", got, want)
	}
	e := awsapi.ValidationError("InvalidParameterException", v.Err())
	if e.Code != "InvalidParameterException" || e.StatusCode != 400 || e.Message != want {
		t.Errorf("ValidationError = %+v", e)
	}
}

// FuzzValidate builds requests from fuzzed strings and numbers: Validate must
// never panic, and its message must agree with its violations.
func FuzzValidate(f *testing.F) {
	f.Add("web", "app", "nginx:latest", "env", "prod", "FARGATE", int32(1), int32(0), 50.0)
	f.Add("", "", "", "", "", "", int32(-1), int32(1001), -1.0)
	f.Add("a!b", "ü", strings.Repeat("x", 300), "aws:tag", "\x00", "EC2", int32(11), int32(100001), math.Inf(1))
	f.Fuzz(func(t *testing.T, family, name, image, key, value, launchType string, count, weight int32, drain float64) {
		reqs := []validatable{
			&ecs.RegisterTaskDefinitionRequest{
				Family:                  family,
				ContainerDefinitions:    []ecs.ContainerDefinition{{Name: &name, Image: &image, Secrets: []ecs.Secret{{Name: key, ValueFrom: value}}}},
				Tags:                    []ecs.Tag{{Key: &key, Value: &value}},
				RequiresCompatibilities: []ecs.Compatibility{ecs.Compatibility(launchType)},
				NetworkMode:             ptr(ecs.NetworkMode(name)),
			},
			&ecs.RunTaskRequest{
				TaskDefinition:           family,
				Count:                    &count,
				LaunchType:               ptr(ecs.LaunchType(launchType)),
				CapacityProviderStrategy: []ecs.CapacityProviderStrategyItem{{CapacityProvider: name, Weight: &weight, Base: &count}},
			},
			&ecs.DaemonDeploymentConfiguration{DrainPercent: &drain},
			&logs.TagResourceRequest{ResourceArn: image, Tags: map[string]string{key: value}},
		}
		for _, r := range reqs {
			err := r.Validate()
			if err == nil {
				continue
			}
			var verr *awsapi.ValidationErrors
			if !errors.As(err, &verr) || len(verr.Violations) == 0 {
				t.Fatalf("Validate() = %#v", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, strconv.Itoa(len(verr.Violations))+" validation error") {
				t.Fatalf("message %q does not count %d violations", msg, len(verr.Violations))
			}
			for _, v := range verr.Violations {
				if v.Path == "" || v.Constraint == "" {
					t.Fatalf("incomplete violation %+v", v)
				}
			}
			if err2 := r.Validate(); err2 == nil || err2.Error() != msg {
				t.Fatalf("Validate is not deterministic: %q then %v", msg, err2)
			}
		}
		// Known-good values must never be reported.
		if launchType == "FARGATE" || launchType == "EC2" {
			err := (&ecs.RunTaskRequest{TaskDefinition: "x", LaunchType: ptr(ecs.LaunchType(launchType))}).Validate()
			if err != nil {
				t.Fatalf("valid RunTask rejected: %v", err)
			}
		}
	})
}
