package metadata

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/agent/engine"
	"github.com/berth-dev/berth/internal/runtime"
)

// Tasks is what the endpoint reads: engine snapshots and the runtime.
type Tasks interface {
	ByToken(token string) (*engine.Task, string, bool)
	Runtime() runtime.Runtime
}

// Info is instance-level data in the task response.
type Info struct {
	Cluster              string
	AvailabilityZone     string
	ContainerInstanceARN string
}

// requestTimeout bounds the runtime calls of one request.
const requestTimeout = 10 * time.Second

// Handler serves the v4 endpoint.
func Handler(tasks Tasks, info Info) http.Handler {
	h := &handler{tasks: tasks, info: info}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v4/{token}", h.container)
	mux.HandleFunc("GET /v4/{token}/task", h.task(false))
	mux.HandleFunc("GET /v4/{token}/taskWithTags", h.task(true))
	mux.HandleFunc("GET /v4/{token}/stats", h.stats)
	mux.HandleFunc("GET /v4/{token}/task/stats", h.taskStats)
	return mux
}

type handler struct {
	tasks Tasks
	info  Info
}

// Task is the ${URI}/task body.
type Task struct {
	Cluster               string            `json:"Cluster"`
	TaskARN               string            `json:"TaskARN"`
	Family                string            `json:"Family"`
	Revision              string            `json:"Revision"`
	DesiredStatus         string            `json:"DesiredStatus"`
	KnownStatus           string            `json:"KnownStatus"`
	Limits                *Limits           `json:"Limits,omitempty"`
	PullStartedAt         *time.Time        `json:"PullStartedAt,omitempty"`
	PullStoppedAt         *time.Time        `json:"PullStoppedAt,omitempty"`
	ExecutionStoppedAt    *time.Time        `json:"ExecutionStoppedAt,omitempty"`
	AvailabilityZone      string            `json:"AvailabilityZone,omitempty"`
	LaunchType            string            `json:"LaunchType"`
	Containers            []Container       `json:"Containers"`
	TaskTags              map[string]string `json:"TaskTags,omitempty"`
	ContainerInstanceTags map[string]string `json:"ContainerInstanceTags,omitempty"`
	ServiceName           string            `json:"ServiceName,omitempty"`
	Group                 string            `json:"Group,omitempty"`
}

// Limits are CPU (vCPUs) and memory (MiB) limits.
type Limits struct {
	CPU    float64 `json:"CPU,omitempty"`
	Memory int     `json:"Memory,omitempty"`
}

// Container is the ${URI} body and an element of Task.Containers.
type Container struct {
	DockerID      string            `json:"DockerId"`
	Name          string            `json:"Name"`
	DockerName    string            `json:"DockerName"`
	Image         string            `json:"Image"`
	ImageID       string            `json:"ImageID"`
	Ports         []Port            `json:"Ports,omitempty"`
	Labels        map[string]string `json:"Labels,omitempty"`
	DesiredStatus string            `json:"DesiredStatus"`
	KnownStatus   string            `json:"KnownStatus"`
	ExitCode      *int              `json:"ExitCode,omitempty"`
	Limits        Limits            `json:"Limits"`
	CreatedAt     *time.Time        `json:"CreatedAt,omitempty"`
	StartedAt     *time.Time        `json:"StartedAt,omitempty"`
	FinishedAt    *time.Time        `json:"FinishedAt,omitempty"`
	Type          string            `json:"Type"`
	Networks      []Network         `json:"Networks,omitempty"`
	Health        *Health           `json:"Health,omitempty"`
	Volumes       []Volume          `json:"Volumes,omitempty"`
	LogDriver     string            `json:"LogDriver,omitempty"`
	LogOptions    map[string]string `json:"LogOptions,omitempty"`
	ContainerARN  string            `json:"ContainerARN,omitempty"`
	RestartCount  *int              `json:"RestartCount,omitempty"`
}

// Port is a published port.
type Port struct {
	ContainerPort int    `json:"ContainerPort"`
	Protocol      string `json:"Protocol"`
	HostPort      int    `json:"HostPort,omitempty"`
	HostIP        string `json:"HostIp,omitempty"`
}

// Network is one of a container's networks.
type Network struct {
	NetworkMode              string   `json:"NetworkMode"`
	IPv4Addresses            []string `json:"IPv4Addresses,omitempty"`
	AttachmentIndex          *int     `json:"AttachmentIndex,omitempty"`
	MACAddress               string   `json:"MACAddress,omitempty"`
	IPv4SubnetCIDRBlock      string   `json:"IPv4SubnetCIDRBlock,omitempty"`
	PrivateDNSName           string   `json:"PrivateDNSName,omitempty"`
	SubnetGatewayIpv4Address string   `json:"SubnetGatewayIpv4Address,omitempty"`
}

// Health is a container's health.
type Health struct {
	Status      string     `json:"status"`
	StatusSince *time.Time `json:"statusSince,omitempty"`
	ExitCode    *int       `json:"exitCode,omitempty"`
	Output      string     `json:"output,omitempty"`
}

// Volume is a mount.
type Volume struct {
	DockerName  string `json:"DockerName,omitempty"`
	Source      string `json:"Source,omitempty"`
	Destination string `json:"Destination"`
}

func (h *handler) lookup(w http.ResponseWriter, r *http.Request) (*engine.Task, string, bool) {
	t, name, ok := h.tasks.ByToken(r.PathValue("token"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown metadata id"})
	}
	return t, name, ok
}

func (h *handler) container(w http.ResponseWriter, r *http.Request) {
	t, name, ok := h.lookup(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, h.containerBody(ctx, t, t.Container(name)))
}

func (h *handler) task(withTags bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, _, ok := h.lookup(w, r)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		body := Task{
			Cluster: h.info.Cluster, TaskARN: t.ARN, Family: t.Family(), Revision: strconv.Itoa(t.Revision()),
			DesiredStatus: t.Desired.String(), KnownStatus: t.Known.String(), LaunchType: "EC2",
			AvailabilityZone: h.info.AvailabilityZone, Group: t.Spec.Group, PullStartedAt: timePtr(t.PullStartedAt),
			PullStoppedAt: timePtr(t.PullStoppedAt), ExecutionStoppedAt: timePtr(t.ExecutionStoppedAt),
			Containers: []Container{},
		}
		if t.Spec.ClusterARN != "" {
			body.Cluster = t.Spec.ClusterARN
		}
		if t.Spec.AvailabilityZone != "" {
			body.AvailabilityZone = t.Spec.AvailabilityZone
		}
		if t.Spec.LaunchType != "" {
			body.LaunchType = t.Spec.LaunchType
		}
		if cpu, mem := taskLimits(t); cpu > 0 || mem > 0 {
			body.Limits = &Limits{CPU: cpu, Memory: mem}
		}
		if withTags {
			body.TaskTags, body.ContainerInstanceTags = map[string]string{}, map[string]string{}
		}
		for _, c := range t.Containers {
			if !c.Pause {
				body.Containers = append(body.Containers, h.containerBody(ctx, t, c))
			}
		}
		writeJSON(w, http.StatusOK, body)
	}
}

func (h *handler) containerBody(ctx context.Context, t *engine.Task, c *engine.Container) Container {
	out := Container{
		DockerID: c.RuntimeID, Name: c.Name, Image: deref(c.Def.Image), ImageID: c.ImageID,
		DesiredStatus: c.Desired.String(), KnownStatus: c.Known.String(), Type: "NORMAL",
		CreatedAt: timePtr(c.CreatedAt), StartedAt: timePtr(c.StartedAt), FinishedAt: timePtr(c.FinishedAt),
		Limits:       Limits{CPU: float64(deref(c.Def.Cpu)), Memory: int(deref(c.Def.Memory))},
		ContainerARN: t.Spec.ContainerARNs[c.Name],
	}
	if c.Known == engine.ContainerStopped {
		out.ExitCode = c.ExitCode
	}
	if lc := c.Def.LogConfiguration; lc != nil {
		out.LogDriver, out.LogOptions = string(lc.LogDriver), lc.Options
	}
	for _, b := range c.Bindings {
		out.Ports = append(out.Ports, Port{ContainerPort: b.ContainerPort, Protocol: b.Protocol, HostPort: b.HostPort, HostIP: b.BindIP})
	}
	if len(out.Ports) == 0 {
		for _, pm := range c.Def.PortMappings {
			p := Port{ContainerPort: int(deref(pm.ContainerPort)), Protocol: "tcp"}
			if pm.Protocol != nil {
				p.Protocol = string(*pm.Protocol)
			}
			out.Ports = append(out.Ports, p)
		}
	}
	if c.Def.HealthCheck != nil {
		out.Health = &Health{Status: c.Health}
		if out.Health.Status == "" {
			out.Health.Status = engine.HealthUnknown
		}
	}
	if c.RuntimeID == "" {
		return out
	}
	info, err := h.tasks.Runtime().InspectContainer(ctx, c.RuntimeID)
	if err != nil {
		return out
	}
	out.DockerName, out.Labels = info.Name, info.Labels
	restarts := info.Restarts
	out.RestartCount = &restarts
	mode := t.NetworkMode()
	if mode == "awsvpc" {
		// The task's containers share the pause container's namespace.
		for _, p := range t.Containers {
			if p.Pause && p.RuntimeID != "" {
				if pi, err := h.tasks.Runtime().InspectContainer(ctx, p.RuntimeID); err == nil {
					info.Networks = pi.Networks
				}
			}
		}
	}
	for i, n := range info.Networks {
		nw := Network{NetworkMode: mode, MACAddress: n.MACAddress, SubnetGatewayIpv4Address: n.Gateway}
		if n.IPv4Address != "" {
			nw.IPv4Addresses = []string{n.IPv4Address}
			if n.PrefixLen > 0 {
				nw.IPv4SubnetCIDRBlock = n.IPv4Address + "/" + strconv.Itoa(n.PrefixLen)
			}
		}
		if mode == "awsvpc" {
			idx := i
			nw.AttachmentIndex = &idx
			if t.Spec.Network != nil {
				nw.IPv4SubnetCIDRBlock = t.Spec.Network.Subnet
			}
		}
		out.Networks = append(out.Networks, nw)
	}
	if len(out.Networks) == 0 {
		out.Networks = []Network{{NetworkMode: mode}}
	}
	for _, m := range info.Mounts {
		out.Volumes = append(out.Volumes, Volume{DockerName: m.Name, Source: m.Source, Destination: m.Destination})
	}
	return out
}

func (h *handler) stats(w http.ResponseWriter, r *http.Request) {
	t, name, ok := h.lookup(w, r)
	if !ok {
		return
	}
	c := t.Container(name)
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	writeJSON(w, http.StatusOK, h.sample(ctx, c.RuntimeID))
}

func (h *handler) taskStats(w http.ResponseWriter, r *http.Request) {
	t, _, ok := h.lookup(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	out := map[string]json.RawMessage{}
	for _, c := range t.Containers {
		if c.RuntimeID != "" && !c.Pause {
			out[c.RuntimeID] = h.sample(ctx, c.RuntimeID)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// sample is one Docker stats sample, or null when unavailable (a stopped
// container, as the ECS agent answers).
func (h *handler) sample(ctx context.Context, id string) json.RawMessage {
	src, ok := h.tasks.Runtime().(runtime.StatsReader)
	if !ok || id == "" {
		return json.RawMessage("null")
	}
	b, err := src.ContainerStats(ctx, id)
	if err != nil || len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func taskLimits(t *engine.Task) (cpu float64, mem int) {
	units, mem := t.Limits()
	return float64(units) / 1024, mem
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
