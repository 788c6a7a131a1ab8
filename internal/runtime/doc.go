// Package runtime is the container runtime as the agent's task engine sees it:
// the Runtime interface (images, containers, events, networks, volumes) with
// domain-level specs and results, and the error classes every implementation
// returns (errors.Is(err, ErrNotFound), ErrImageNotFound, ErrConflict, ...).
//
// It owns vocabulary only. It must not import Docker, containerd or any other
// engine's packages, nor other Berth packages: implementations live in
// subpackages (runtime/docker for the Docker Engine, runtime/sim for `berth
// sim`), and everything above them speaks only these types.
package runtime
