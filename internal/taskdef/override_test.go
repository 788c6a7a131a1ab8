package taskdef

import (
	"reflect"
	"testing"

	ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"
)

func ptr[T any](v T) *T { return &v }

func TestApplyOverride(t *testing.T) {
	t.Parallel()
	def := ecsapi.ContainerDefinition{Name: ptr("a"), Command: []string{"x"}, Memory: ptr(int32(10)),
		Environment: []ecsapi.KeyValuePair{{Name: ptr("K"), Value: ptr("1")}, {Name: ptr("L"), Value: ptr("2")}}}
	o := &ecsapi.TaskOverride{ContainerOverrides: []ecsapi.ContainerOverride{
		{Name: ptr("other"), Command: []string{"no"}},
		{Name: ptr("a"), Command: []string{"y", "z"}, Memory: ptr(int32(99)), Cpu: ptr(int32(128)), MemoryReservation: ptr(int32(50)),
			Environment: []ecsapi.KeyValuePair{{Name: ptr("K"), Value: ptr("9")}, {Name: ptr("M"), Value: ptr("3")}}},
	}}
	got := ApplyOverride(def, o)
	env := map[string]string{}
	for _, kv := range got.Environment {
		env[*kv.Name] = *kv.Value
	}
	if !reflect.DeepEqual(got.Command, []string{"y", "z"}) || *got.Memory != 99 || *got.Cpu != 128 || *got.MemoryReservation != 50 ||
		!reflect.DeepEqual(env, map[string]string{"K": "9", "L": "2", "M": "3"}) {
		t.Errorf("override gave %+v env %v", got, env)
	}
	// The definition itself is untouched: it is shared by every task.
	if !reflect.DeepEqual(def.Command, []string{"x"}) || *def.Memory != 10 || *def.Environment[0].Value != "1" || len(def.Environment) != 2 {
		t.Errorf("definition changed: %+v", def)
	}
	if got := ApplyOverride(def, nil); !reflect.DeepEqual(got, def) {
		t.Errorf("nil override changed the definition: %+v", got)
	}
	if got := ApplyOverride(def, &ecsapi.TaskOverride{ContainerOverrides: []ecsapi.ContainerOverride{{Name: ptr("other"), Command: []string{"no"}}}}); !reflect.DeepEqual(got, def) {
		t.Errorf("another container's override applied: %+v", got)
	}
}
