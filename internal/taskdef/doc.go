// Package taskdef holds domain helpers over the ECS task-definition wire
// model (internal/awsapi/ecs) that the control plane and the agent must agree
// on: reading task-level cpu and memory, applying RunTask's container
// overrides, and listing what in a task Berth cannot honour yet.
//
// Both sides call the same functions so that a task the control plane accepts
// is one the agent runs, and a value the control plane reads one way is never
// read another way on an instance.
//
// It imports only the generated internal/awsapi/ecs package. It must not
// import internal/ecs (the control plane) or internal/agent.
package taskdef
