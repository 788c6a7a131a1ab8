package docker

import (
	"context"
	"strings"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/berth-dev/berth/internal/runtime"
)

// CreateNetwork creates a network (bridge unless spec says otherwise).
func (r *Runtime) CreateNetwork(ctx context.Context, spec runtime.NetworkSpec) (runtime.NetworkInfo, error) {
	driver := spec.Driver
	if driver == "" {
		driver = "bridge"
	}
	opts := network.CreateOptions{
		Driver: driver, Internal: spec.Internal, Labels: spec.Labels, Options: spec.Options,
	}
	if spec.Subnet != "" {
		opts.IPAM = &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{
			Subnet: spec.Subnet, Gateway: spec.Gateway, IPRange: spec.IPRange,
		}}}
	}
	cctx, cancel := context.WithTimeout(ctx, networkTimeout)
	defer cancel()
	resp, err := r.cli.NetworkCreate(cctx, spec.Name, opts)
	if err != nil {
		return runtime.NetworkInfo{}, classify("create network", spec.Name, err)
	}
	return r.InspectNetwork(ctx, resp.ID)
}

// InspectNetwork describes a network.
func (r *Runtime) InspectNetwork(ctx context.Context, nameOrID string) (runtime.NetworkInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	in, err := r.cli.NetworkInspect(ctx, nameOrID, network.InspectOptions{})
	if err != nil {
		return runtime.NetworkInfo{}, classify("inspect network", nameOrID, err)
	}
	return fromNetwork(in), nil
}

func fromNetwork(in network.Inspect) runtime.NetworkInfo {
	info := runtime.NetworkInfo{
		ID: in.ID, Name: in.Name, Driver: in.Driver, Internal: in.Internal,
		Labels: in.Labels, Created: in.Created, Containers: map[string]string{},
	}
	if len(in.IPAM.Config) > 0 {
		info.Subnet = in.IPAM.Config[0].Subnet
		info.Gateway = in.IPAM.Config[0].Gateway
	}
	for id, ep := range in.Containers {
		ip, _, _ := strings.Cut(ep.IPv4Address, "/")
		info.Containers[id] = ip
	}
	return info
}

// ListNetworks lists networks with the filter's labels.
func (r *Runtime) ListNetworks(ctx context.Context, f runtime.Filter) ([]runtime.NetworkInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	list, err := r.cli.NetworkList(ctx, network.ListOptions{Filters: labelFilter(f)})
	if err != nil {
		return nil, classify("list networks", "", err)
	}
	out := make([]runtime.NetworkInfo, 0, len(list))
	for _, n := range list {
		out = append(out, fromNetwork(n))
	}
	return out, nil
}

// RemoveNetwork deletes a network.
func (r *Runtime) RemoveNetwork(ctx context.Context, nameOrID string) error {
	ctx, cancel := context.WithTimeout(ctx, networkTimeout)
	defer cancel()
	return classify("remove network", nameOrID, r.cli.NetworkRemove(ctx, nameOrID))
}

// ConnectNetwork attaches a container to a network.
func (r *Runtime) ConnectNetwork(ctx context.Context, net, ctr string, ep runtime.Endpoint) error {
	settings := &network.EndpointSettings{Aliases: ep.Aliases}
	if ep.IPv4Address != "" {
		settings.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: ep.IPv4Address}
	}
	ctx, cancel := context.WithTimeout(ctx, networkTimeout)
	defer cancel()
	return classify("connect network", net+" "+ctr, r.cli.NetworkConnect(ctx, net, ctr, settings))
}

// DisconnectNetwork detaches a container from a network.
func (r *Runtime) DisconnectNetwork(ctx context.Context, net, ctr string, force bool) error {
	ctx, cancel := context.WithTimeout(ctx, networkTimeout)
	defer cancel()
	return classify("disconnect network", net+" "+ctr, r.cli.NetworkDisconnect(ctx, net, ctr, force))
}

// CreateVolume creates a named volume.
func (r *Runtime) CreateVolume(ctx context.Context, spec runtime.VolumeSpec) (runtime.VolumeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, volumeTimeout)
	defer cancel()
	v, err := r.cli.VolumeCreate(ctx, volume.CreateOptions{
		Name: spec.Name, Driver: spec.Driver, DriverOpts: spec.Options, Labels: spec.Labels,
	})
	if err != nil {
		return runtime.VolumeInfo{}, classify("create volume", spec.Name, err)
	}
	return fromVolume(v), nil
}

// InspectVolume describes a volume.
func (r *Runtime) InspectVolume(ctx context.Context, name string) (runtime.VolumeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	v, err := r.cli.VolumeInspect(ctx, name)
	if err != nil {
		return runtime.VolumeInfo{}, classify("inspect volume", name, err)
	}
	return fromVolume(v), nil
}

// ListVolumes lists volumes with the filter's labels.
func (r *Runtime) ListVolumes(ctx context.Context, f runtime.Filter) ([]runtime.VolumeInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	resp, err := r.cli.VolumeList(ctx, volume.ListOptions{Filters: labelFilter(f)})
	if err != nil {
		return nil, classify("list volumes", "", err)
	}
	out := make([]runtime.VolumeInfo, 0, len(resp.Volumes))
	for _, v := range resp.Volumes {
		if v != nil {
			out = append(out, fromVolume(*v))
		}
	}
	return out, nil
}

// RemoveVolume deletes a volume.
func (r *Runtime) RemoveVolume(ctx context.Context, name string, force bool) error {
	ctx, cancel := context.WithTimeout(ctx, volumeTimeout)
	defer cancel()
	return classify("remove volume", name, r.cli.VolumeRemove(ctx, name, force))
}

func fromVolume(v volume.Volume) runtime.VolumeInfo {
	return runtime.VolumeInfo{
		Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, Options: v.Options,
		Labels: v.Labels, Scope: v.Scope, Created: parseTime(v.CreatedAt),
	}
}
