// Package sampleapp is the program behind `berth sample-app` and `berth pause`:
// the workloads Berth runs when no registry is reachable. The sample app is a
// small HTTP server that shows its task metadata (and relays any path of the
// endpoint, /metadata?path=/stats), answers a health check, and on
// request burns CPU, allocates memory, writes logs, reads and writes files,
// resolves names, dials addresses or exits with a chosen code, so tests of the
// agent can drive every container behaviour from outside. Probe is the health
// check command for images without a shell or curl. Pause is the awsvpc pause
// container: it holds a network namespace until it is told to stop.
//
// It owns only these programs. It must not import other Berth packages (it runs
// inside task containers, so it stays free of control plane and Docker code)
// and must never call os.Exit: it returns exit codes to cmd/berth.
package sampleapp
