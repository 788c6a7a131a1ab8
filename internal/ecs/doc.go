// Package ecs is the ECS control plane: the Handler of the generated ecs API
// (internal/awsapi/ecs) with the semantics ECS users rely on — clusters, task
// definitions, capacity providers, attributes, tags, account settings, and
// later container instances, tasks and services.
//
// State lives in the store (internal/store), one key per object under
// /berth/<account>/<region>/ecs/. Writes are revision-guarded; reads for
// Describe/List come from the store's watch-fed cache, and every write waits
// for the cache to reach its revision so a caller always reads its own writes.
//
// It must not import cmd/, the agent or the runtime packages.
package ecs
