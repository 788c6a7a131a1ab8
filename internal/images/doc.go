// Package images builds Berth's own container images in-process from the
// static berth binary, for machines that reach no registry: a single layer
// holding /berth, /etc/passwd, /etc/group and /tmp, with a config whose
// entrypoint runs one berth subcommand (SampleApp, Pause). It writes them as
// a `docker save` archive (and exposes config, layer and OCI manifest for a
// registry), loads them through runtime.Runtime, and finds or builds the
// berth binary for test processes (BerthBinary).
//
// It must not import the Docker client (loading goes through the runtime
// interface) nor the control plane or agent packages.
package images
