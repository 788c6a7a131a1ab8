// Package docker is the runtime.Runtime on a Docker Engine, through the
// official Go client with API version negotiation (Engine 20.10, API 1.41, and
// newer). Every call takes the caller's context and adds its own named
// timeout; Docker errors come back classified as runtime error classes.
//
// It owns the translation between runtime's domain types and Docker's API
// types. Nothing outside this package may import the Docker client; this
// package must not import other Berth packages besides internal/runtime.
package docker
