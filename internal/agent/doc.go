// Package agent is Berth's container agent (`berth agent`, and the one inside
// `berth dev`): it registers a container instance with RegisterContainerInstance,
// keeps the link to the control plane (DiscoverPollEndpoint, then a
// SigV4-signed WebSocket carrying agentproto messages), hands desired task
// sets to the task engine (subpackage engine), reports state changes with
// SubmitTaskStateChange / SubmitContainerStateChange (one SigV4-signed POST
// each, ecsPoster; start-up calls use the official ECS client), and serves
// the task metadata endpoint (subpackage metadata).
// Subpackage config reads flags, ECS_* variables and ecs.config files.
//
// It speaks to containers only through runtime.Runtime. It must not import
// the control plane (internal/ecs, internal/controlplane) or the Docker
// client.
package agent
