package docker

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/berth-dev/berth/internal/runtime"
)

// dockerSpec is a ContainerSpec in Docker's create shapes.
type dockerSpec struct {
	config *container.Config
	host   *container.HostConfig
	net    *network.NetworkingConfig
}

// toDocker translates a ContainerSpec. It rejects what Docker would reject
// later with a less helpful message (unknown protocols and mount types).
func toDocker(s runtime.ContainerSpec) (dockerSpec, error) {
	cfg := &container.Config{
		Image:      s.Image,
		Entrypoint: s.Entrypoint,
		Cmd:        s.Command,
		Env:        envList(s.Env),
		Labels:     s.Labels,
		User:       s.User,
		WorkingDir: s.WorkingDir,
		Hostname:   s.Hostname,
		StopSignal: s.StopSignal,
		Tty:        s.Tty,
		OpenStdin:  s.OpenStdin,
	}
	if s.StopTimeout != nil {
		secs := int(math.Ceil(s.StopTimeout.Seconds()))
		cfg.StopTimeout = &secs
	}
	if h := s.HealthCheck; h != nil {
		cfg.Healthcheck = &container.HealthConfig{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries,
		}
	}

	hc := &container.HostConfig{
		NetworkMode:    container.NetworkMode(s.NetworkMode),
		Links:          s.Links,
		DNS:            s.DNS,
		DNSSearch:      s.DNSSearch,
		DNSOptions:     s.DNSOptions,
		VolumesFrom:    s.VolumesFrom,
		Privileged:     s.Privileged,
		ReadonlyRootfs: s.ReadonlyRootfs,
		CapAdd:         s.CapAdd,
		CapDrop:        s.CapDrop,
		SecurityOpt:    s.SecurityOpt,
		Sysctls:        s.Sysctls,
		PidMode:        container.PidMode(s.PidMode),
		IpcMode:        container.IpcMode(s.IpcMode),
		ShmSize:        s.ShmSizeBytes,
		LogConfig:      container.LogConfig{Type: s.LogDriver, Config: s.LogOptions},
		Resources: container.Resources{
			CPUShares:         s.CPUShares,
			NanoCPUs:          s.NanoCPUs,
			Memory:            s.MemoryBytes,
			MemoryReservation: s.MemoryReservationBytes,
			MemorySwap:        s.MemorySwapBytes,
			MemorySwappiness:  s.MemorySwappiness,
			CgroupParent:      s.CgroupParent,
		},
	}
	if s.Init {
		init := true
		hc.Init = &init
	}
	for _, u := range s.Ulimits {
		hc.Ulimits = append(hc.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
	}
	for _, e := range s.ExtraHosts {
		hc.ExtraHosts = append(hc.ExtraHosts, e.Hostname+":"+e.IP)
	}

	if len(s.Ports) > 0 {
		cfg.ExposedPorts = nat.PortSet{}
		hc.PortBindings = nat.PortMap{}
	}
	for _, p := range s.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = runtime.TCP
		}
		if proto != runtime.TCP && proto != runtime.UDP {
			return dockerSpec{}, fmt.Errorf("port %d: protocol %q is neither tcp nor udp", p.ContainerPort, p.Protocol)
		}
		if p.ContainerPort == 0 {
			return dockerSpec{}, errors.New("port mapping without a container port")
		}
		port := nat.Port(strconv.Itoa(int(p.ContainerPort)) + "/" + proto)
		cfg.ExposedPorts[port] = struct{}{}
		hostPort := "" // empty asks the engine for an ephemeral port
		if p.HostPort != 0 {
			hostPort = strconv.Itoa(int(p.HostPort))
		}
		hc.PortBindings[port] = append(hc.PortBindings[port], nat.PortBinding{HostIP: p.HostIP, HostPort: hostPort})
	}

	for _, m := range s.Mounts {
		switch m.Type {
		case runtime.MountBind:
			// Binds (not Mounts) so a missing host directory is created, as
			// ECS host volumes promise.
			if m.Source == "" || m.Target == "" {
				return dockerSpec{}, fmt.Errorf("bind mount %q: source and target are required", m.Target)
			}
			b := m.Source + ":" + m.Target
			if m.ReadOnly {
				b += ":ro"
			}
			hc.Binds = append(hc.Binds, b)
		case runtime.MountVolume:
			vm := mount.Mount{Type: mount.TypeVolume, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
			if m.VolumeDriver != "" || len(m.VolumeOptions) > 0 || len(m.VolumeLabels) > 0 {
				vm.VolumeOptions = &mount.VolumeOptions{Labels: m.VolumeLabels}
				if m.VolumeDriver != "" || len(m.VolumeOptions) > 0 {
					vm.VolumeOptions.DriverConfig = &mount.Driver{Name: m.VolumeDriver, Options: m.VolumeOptions}
				}
			}
			hc.Mounts = append(hc.Mounts, vm)
		case runtime.MountTmpfs:
			// HostConfig.Tmpfs takes free-form options (noexec, nosuid, ...)
			// that ECS linuxParameters.tmpfs.mountOptions carry.
			if hc.Tmpfs == nil {
				hc.Tmpfs = map[string]string{}
			}
			opts := m.Options
			if m.ReadOnly {
				opts = append(append([]string(nil), opts...), "ro")
			}
			hc.Tmpfs[m.Target] = strings.Join(opts, ",")
		default:
			return dockerSpec{}, fmt.Errorf("mount %q: unknown type %q", m.Target, m.Type)
		}
	}

	var nc *network.NetworkingConfig
	if isNamedNetwork(s.NetworkMode) && (s.IPv4Address != "" || s.MACAddress != "" || len(s.NetworkAliases) > 0) {
		ep := &network.EndpointSettings{Aliases: s.NetworkAliases, MacAddress: s.MACAddress}
		if s.IPv4Address != "" {
			ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: s.IPv4Address}
		}
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{s.NetworkMode: ep}}
		// Engines before API 1.44 take the MAC from the container's
		// config only (the client drops that field from 1.44 on, and
		// CreateContainer clears the endpoint's before 1.44).
		cfg.MacAddress = s.MACAddress //nolint:staticcheck // the field API < 1.44 reads
	} else if s.IPv4Address != "" || s.MACAddress != "" || len(s.NetworkAliases) > 0 {
		return dockerSpec{}, fmt.Errorf("a fixed address, MAC or aliases need a named network, not %q", s.NetworkMode)
	}
	return dockerSpec{config: cfg, host: hc, net: nc}, nil
}

// isNamedNetwork reports whether mode names a user network rather than one of
// Docker's built-in modes.
func isNamedNetwork(mode string) bool {
	switch mode {
	case "", "default", runtime.NetworkBridge, runtime.NetworkHost, runtime.NetworkNone:
		return false
	}
	return !strings.HasPrefix(mode, "container:")
}

// envList renders env in a stable order so identical specs create identical
// containers.
func envList(env map[string]string) []string {
	if len(env) == 0 {
		return nil
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// fromInspect translates Docker's inspect answer.
func fromInspect(in container.InspectResponse) runtime.ContainerInfo {
	var info runtime.ContainerInfo
	if b := in.ContainerJSONBase; b != nil {
		info.ID = b.ID
		info.Name = trimName(b.Name)
		info.ImageID = b.Image
		info.CreatedAt = parseTime(b.Created)
		info.Restarts = b.RestartCount
		if b.HostConfig != nil {
			info.NetworkMode = string(b.HostConfig.NetworkMode)
		}
		if st := b.State; st != nil {
			info.State = runtime.ParseContainerState(string(st.Status))
			info.Pid = st.Pid
			info.ExitCode = st.ExitCode
			info.OOMKilled = st.OOMKilled
			info.Error = st.Error
			info.StartedAt = parseTime(st.StartedAt)
			info.FinishedAt = parseTime(st.FinishedAt)
			if h := st.Health; h != nil {
				info.Health.Status = runtime.ParseHealthStatus(string(h.Status))
				info.Health.FailingStreak = h.FailingStreak
				if n := len(h.Log); n > 0 && h.Log[n-1] != nil {
					last := h.Log[n-1]
					info.Health.LastOutput = last.Output
					info.Health.LastExitCode = last.ExitCode
					info.Health.LastCheckAt = last.End
				}
			}
		}
	}
	if c := in.Config; c != nil {
		info.Image = c.Image
		info.Labels = c.Labels
		info.Tty = c.Tty
	}
	if ns := in.NetworkSettings; ns != nil {
		for port, bindings := range ns.Ports {
			for _, b := range bindings {
				hp, _ := strconv.ParseUint(b.HostPort, 10, 16)
				info.Ports = append(info.Ports, runtime.PortBinding{
					ContainerPort: uint16(port.Int()), Protocol: port.Proto(), HostIP: b.HostIP, HostPort: uint16(hp),
				})
			}
		}
		sort.Slice(info.Ports, func(i, j int) bool {
			a, b := info.Ports[i], info.Ports[j]
			if a.ContainerPort != b.ContainerPort {
				return a.ContainerPort < b.ContainerPort
			}
			if a.Protocol != b.Protocol {
				return a.Protocol < b.Protocol
			}
			return a.HostIP < b.HostIP
		})
		for name, ep := range ns.Networks {
			if ep == nil {
				continue
			}
			info.Networks = append(info.Networks, runtime.NetworkAttachment{
				Network: name, NetworkID: ep.NetworkID, IPv4Address: ep.IPAddress, PrefixLen: ep.IPPrefixLen,
				Gateway: ep.Gateway, MACAddress: ep.MacAddress, Aliases: ep.Aliases,
			})
		}
		sort.Slice(info.Networks, func(i, j int) bool { return info.Networks[i].Network < info.Networks[j].Network })
	}
	for _, m := range in.Mounts {
		info.Mounts = append(info.Mounts, runtime.MountPoint{
			Type: string(m.Type), Name: m.Name, Source: m.Source, Destination: m.Destination, ReadOnly: !m.RW,
		})
	}
	return info
}
