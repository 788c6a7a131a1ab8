package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Optional capabilities. A runtime that can read logs or sample stats
// implements these next to Runtime; callers check with a type assertion, so
// a simulated runtime need not fake them.

// LogReader reads a container's output (the agent's awslogs shipping).
type LogReader interface {
	// ContainerLogs calls fn for each line the container wrote since
	// opts.Since, in order. With opts.Follow it keeps reading until the
	// container stops or ctx ends (then it returns ctx's error); otherwise it
	// returns at the end of what is logged. An error from fn stops the read and
	// is returned.
	ContainerLogs(ctx context.Context, id string, opts LogOptions, fn func(LogLine) error) error
}

// LogOptions selects log lines.
type LogOptions struct {
	Since  time.Time // zero reads from the start
	Follow bool
	Tail   int // when > 0, only the last Tail lines before following
}

// Log streams.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// LogLine is one line of output.
type LogLine struct {
	Stream string // Stdout or Stderr
	Time   time.Time
	Text   string // without the line break
}

// StatsReader samples a container's resource use (the metadata endpoint's
// /stats and Container Insights).
type StatsReader interface {
	// ContainerStats returns one sample as the Docker stats JSON, which is
	// also the body ECS's task metadata endpoint serves; ParseStats reads
	// the figures Berth uses.
	ContainerStats(ctx context.Context, id string) (json.RawMessage, error)
}

// Stats are the figures of one stats sample.
type Stats struct {
	Read time.Time
	// CPUTotalNanos is the container's CPU time; SystemCPUNanos the host's,
	// so two samples give a usage share: dCPU/dSystem*OnlineCPUs.
	CPUTotalNanos  uint64
	SystemCPUNanos uint64
	OnlineCPUs     int
	// MemoryUsageBytes excludes the page cache, as `docker stats` shows it.
	MemoryUsageBytes uint64
	MemoryLimitBytes uint64
	NetworkRxBytes   uint64
	NetworkTxBytes   uint64
	BlockReadBytes   uint64
	BlockWriteBytes  uint64
	PIDs             uint64
}

// dockerStats is the part of the Docker stats JSON that Stats needs.
type dockerStats struct {
	Read     time.Time `json:"read"`
	CPUStats struct {
		CPUUsage struct {
			TotalUsage  uint64   `json:"total_usage"`
			PercpuUsage []uint64 `json:"percpu_usage"`
		} `json:"cpu_usage"`
		SystemUsage uint64 `json:"system_cpu_usage"`
		OnlineCPUs  int    `json:"online_cpus"`
	} `json:"cpu_stats"`
	MemoryStats struct {
		Usage uint64            `json:"usage"`
		Limit uint64            `json:"limit"`
		Stats map[string]uint64 `json:"stats"`
	} `json:"memory_stats"`
	Networks map[string]struct {
		RxBytes uint64 `json:"rx_bytes"`
		TxBytes uint64 `json:"tx_bytes"`
	} `json:"networks"`
	BlkioStats struct {
		IOServiceBytesRecursive []struct {
			Op    string `json:"op"`
			Value uint64 `json:"value"`
		} `json:"io_service_bytes_recursive"`
	} `json:"blkio_stats"`
	PidsStats struct {
		Current uint64 `json:"current"`
	} `json:"pids_stats"`
}

// ParseStats reads a Docker stats JSON sample.
func ParseStats(raw []byte) (Stats, error) {
	var d dockerStats
	if err := json.Unmarshal(raw, &d); err != nil {
		return Stats{}, fmt.Errorf("parse stats: %w", err)
	}
	s := Stats{
		Read:             d.Read,
		CPUTotalNanos:    d.CPUStats.CPUUsage.TotalUsage,
		SystemCPUNanos:   d.CPUStats.SystemUsage,
		OnlineCPUs:       d.CPUStats.OnlineCPUs,
		MemoryUsageBytes: d.MemoryStats.Usage,
		MemoryLimitBytes: d.MemoryStats.Limit,
		PIDs:             d.PidsStats.Current,
	}
	if s.OnlineCPUs == 0 {
		s.OnlineCPUs = len(d.CPUStats.CPUUsage.PercpuUsage)
	}
	// docker stats subtracts the cache: inactive_file on cgroup v2,
	// total_inactive_file (or cache) on v1.
	for _, k := range []string{"inactive_file", "total_inactive_file", "cache"} {
		if v, ok := d.MemoryStats.Stats[k]; ok {
			if v < s.MemoryUsageBytes {
				s.MemoryUsageBytes -= v
			}
			break
		}
	}
	for _, n := range d.Networks {
		s.NetworkRxBytes += n.RxBytes
		s.NetworkTxBytes += n.TxBytes
	}
	for _, e := range d.BlkioStats.IOServiceBytesRecursive {
		switch e.Op {
		case "read", "Read":
			s.BlockReadBytes += e.Value
		case "write", "Write":
			s.BlockWriteBytes += e.Value
		}
	}
	return s, nil
}
