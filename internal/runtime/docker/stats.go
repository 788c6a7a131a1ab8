package docker

import (
	"context"
	"encoding/json"
	"io"
)

// ContainerStats returns one Docker stats sample of a container as the
// engine's JSON (the body of the task metadata endpoint's /stats). Added for
// the agent's metadata endpoint; it is not part of runtime.Runtime, which the
// agent checks for with a type assertion.
func (r *Runtime) ContainerStats(ctx context.Context, id string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	resp, err := r.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return nil, classify("container stats", id, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, classify("container stats", id, err)
	}
	return json.RawMessage(b), nil
}
