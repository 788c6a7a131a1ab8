package runtime

import "time"

// NetworkSpec describes a Berth-managed network (awsvpc tasks get their
// addresses on one).
type NetworkSpec struct {
	Name     string
	Driver   string // "bridge" when empty
	Subnet   string // CIDR, e.g. "172.30.0.0/24"; empty lets the engine choose
	Gateway  string // optional; the engine picks .1 when empty
	IPRange  string // optional sub-range the engine allocates dynamic IPs from
	Internal bool   // no route to the outside
	Labels   map[string]string
	Options  map[string]string // driver options, e.g. com.docker.network.bridge.name
}

// NetworkInfo describes a network.
type NetworkInfo struct {
	ID       string
	Name     string
	Driver   string
	Subnet   string
	Gateway  string
	Internal bool
	Labels   map[string]string
	Created  time.Time
	// Containers maps container ids to their IPv4 address (without prefix).
	Containers map[string]string
}

// Endpoint is how a container joins a network.
type Endpoint struct {
	IPv4Address string
	Aliases     []string
}

// VolumeSpec describes a named volume (ECS dockerVolumeConfiguration).
type VolumeSpec struct {
	Name    string
	Driver  string // "local" when empty
	Options map[string]string
	Labels  map[string]string
}

// VolumeInfo describes a volume.
type VolumeInfo struct {
	Name       string
	Driver     string
	Mountpoint string
	Options    map[string]string
	Labels     map[string]string
	Scope      string
	Created    time.Time
}
