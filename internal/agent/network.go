package agent

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"

	"github.com/berth-dev/berth/internal/agent/engine"
	"github.com/berth-dev/berth/internal/runtime"
)

// awsvpcPool is where agents pick their /24 for awsvpc tasks.
var awsvpcPool = netip.MustParsePrefix("172.30.0.0/16")

// awsvpcNetwork is the agent's own bridge network for awsvpc tasks.
type awsvpcNetwork struct {
	Name, Subnet, Gateway string
}

// ensureNetwork finds the agent's awsvpc network or creates it on a free
// /24: the configured subnet, else one derived from the agent id, else the
// next free one in 172.30.0.0/16.
func ensureNetwork(ctx context.Context, rt runtime.Runtime, agentID, want string) (awsvpcNetwork, error) {
	mine, err := rt.ListNetworks(ctx, runtime.Filter{Labels: map[string]string{engine.LabelAgent: agentID}})
	if err != nil {
		return awsvpcNetwork{}, fmt.Errorf("listing networks: %w", err)
	}
	for _, n := range mine {
		if want == "" || n.Subnet == want {
			return awsvpcNetwork{Name: n.Name, Subnet: n.Subnet, Gateway: n.Gateway}, nil
		}
	}
	all, err := rt.ListNetworks(ctx, runtime.Filter{})
	if err != nil {
		return awsvpcNetwork{}, fmt.Errorf("listing networks: %w", err)
	}
	used := map[string]bool{}
	for _, n := range all {
		used[n.Subnet] = true
	}
	name := "berth-awsvpc-" + agentID
	candidates := []string{want}
	if want == "" {
		candidates = subnetCandidates(agentID)
	}
	for _, s := range candidates {
		if used[s] {
			continue
		}
		p := netip.MustParsePrefix(s)
		gw := p.Addr().Next()
		info, err := rt.CreateNetwork(ctx, runtime.NetworkSpec{Name: name, Subnet: s, Gateway: gw.String(),
			Labels: map[string]string{engine.LabelAgent: agentID}})
		if errors.Is(err, runtime.ErrConflict) && want == "" {
			continue // taken meanwhile, or overlapping a network we did not see
		}
		if err != nil {
			return awsvpcNetwork{}, fmt.Errorf("creating the awsvpc network %s on %s: %w", name, s, err)
		}
		return awsvpcNetwork{Name: info.Name, Subnet: s, Gateway: gw.String()}, nil
	}
	return awsvpcNetwork{}, fmt.Errorf("no free /24 for the awsvpc network in %s", awsvpcPool)
}

// subnetCandidates are the /24s of the pool, starting at one derived from the
// agent id so agents sharing an engine rarely collide.
func subnetCandidates(agentID string) []string {
	h := fnv.New32a()
	h.Write([]byte(agentID))
	start := int(h.Sum32() % 256)
	base := awsvpcPool.Addr().As4()
	out := make([]string, 0, 256)
	for i := range 256 {
		b := base
		b[2] = byte((start + i) % 256)
		out = append(out, netip.PrefixFrom(netip.AddrFrom4(b), 24).String())
	}
	return out
}
