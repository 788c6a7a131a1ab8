package taskdef

import ecsapi "github.com/berth-dev/berth/internal/awsapi/ecs"

// ApplyOverride returns c with RunTask's containerOverrides for it (matched
// by name) applied: command, environment (merged by name, an override
// replacing the definition's value), environmentFiles, cpu, memory,
// memoryReservation and resourceRequirements. c is not modified.
func ApplyOverride(c ecsapi.ContainerDefinition, o *ecsapi.TaskOverride) ecsapi.ContainerDefinition {
	if o == nil {
		return c
	}
	for _, co := range o.ContainerOverrides {
		if deref(co.Name) != deref(c.Name) {
			continue
		}
		if co.Command != nil {
			c.Command = co.Command
		}
		if len(co.Environment) > 0 {
			env := append([]ecsapi.KeyValuePair(nil), c.Environment...)
			for _, kv := range co.Environment {
				replaced := false
				for i := range env {
					if deref(env[i].Name) == deref(kv.Name) {
						env[i] = kv
						replaced = true
					}
				}
				if !replaced {
					env = append(env, kv)
				}
			}
			c.Environment = env
		}
		if co.EnvironmentFiles != nil {
			c.EnvironmentFiles = co.EnvironmentFiles
		}
		if co.Cpu != nil {
			c.Cpu = co.Cpu
		}
		if co.Memory != nil {
			c.Memory = co.Memory
		}
		if co.MemoryReservation != nil {
			c.MemoryReservation = co.MemoryReservation
		}
		if co.ResourceRequirements != nil {
			c.ResourceRequirements = co.ResourceRequirements
		}
	}
	return c
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
