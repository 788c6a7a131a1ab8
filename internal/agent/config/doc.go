// Package config is the agent's configuration: defaults, an ecs.config-style
// file, the ECS agent's environment names (ECS_CLUSTER, ECS_INSTANCE_ATTRIBUTES,
// ...) and command-line flags, layered in that order (later wins). It is pure:
// callers pass the environment and the flags in, so every rule is table-tested.
//
// It must not import other Berth packages.
package config
