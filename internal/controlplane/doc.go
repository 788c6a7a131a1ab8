// Package controlplane assembles a Berth control plane from its parts: the
// state store, the API edge with every service registered, and (later) the
// leader-elected controllers. `berth dev` and `berth server` both start it;
// they differ only in the Config they pass.
//
// It owns wiring and lifecycle only; API semantics live in the service
// packages (internal/ecs, ...).
package controlplane
