// Package agenttest starts in-process agents (package agent) for tests of any
// package: on the local Docker engine, joined to a cluster of a test control
// plane, with everything they create in the engine and the task cgroups
// removed when the test ends. It lives outside internal/testcluster because
// the agent's own external tests use both.
//
// It is imported by tests only (package agent's internal tests cannot: that
// would be a cycle). It must not import the control plane (internal/ecs,
// internal/controlplane): tests pass its endpoint and AWS configuration.
package agenttest
