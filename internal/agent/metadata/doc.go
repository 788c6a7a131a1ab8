// Package metadata is the task metadata endpoint v4 the agent serves to its
// containers (ECS_CONTAINER_METADATA_URI_V4): ${URI} (this container),
// ${URI}/task, ${URI}/taskWithTags, ${URI}/stats and ${URI}/task/stats, with
// the JSON shapes the ECS agent answers, built from engine snapshots and
// runtime inspects.
//
// It reads the engine; it never changes a task. It must not import the
// Docker client or the control plane.
package metadata
