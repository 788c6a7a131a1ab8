// Package dockertest gives tests of any package a runtime on the local Docker
// Engine with Berth's images loaded, unique names, and cleanup of everything
// a test creates. Tests fail (never skip) when no engine answers.
//
// It is imported by tests only. It builds the berth binary when needed (see
// images.BerthBinary; BERTH_BINARY names a prebuilt one). It must not import
// the control plane or the agent.
package dockertest
