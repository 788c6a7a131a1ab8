package config

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PullBehavior is ECS_IMAGE_PULL_BEHAVIOR.
type PullBehavior string

// The pull behaviours of the ECS agent.
const (
	// PullDefault pulls and falls back to a cached image when the pull fails.
	PullDefault PullBehavior = "default"
	// PullAlways pulls and fails the task when the pull fails.
	PullAlways PullBehavior = "always"
	// PullOnce pulls only when the image is not cached.
	PullOnce PullBehavior = "once"
	// PullPreferCached uses a cached image and pulls only when there is none.
	PullPreferCached PullBehavior = "prefer-cached"
)

// Defaults of the ECS agent (Linux column of its README).
const (
	DefaultCluster     = "default"
	DefaultStopTimeout = 30 * time.Second
	// MinStopTimeout is the ECS agent's minimum for ECS_CONTAINER_STOP_TIMEOUT.
	MinStopTimeout     = 1 * time.Second
	DefaultCleanupWait = 3 * time.Hour
	DefaultDataDir     = "/var/lib/berth/agent"
)

// DefaultReservedPorts are ECS_RESERVED_PORTS' defaults.
var DefaultReservedPorts = []int{22, 2375, 2376, 51678, 51679}

// DefaultLoggingDrivers are ECS_AVAILABLE_LOGGING_DRIVERS' defaults.
var DefaultLoggingDrivers = []string{"json-file", "none"}

// Config is everything an agent needs.
type Config struct {
	// Endpoint is the control plane's URL (AWS_ENDPOINT_URL).
	Endpoint string
	Region   string
	Cluster  string
	// DataDir keeps the instance ARN and the known task state.
	DataDir string
	// CPU in CPU units (1024 per core); 0 means detect.
	CPU int
	// Memory in MiB before ReservedMemory is subtracted; 0 means detect.
	Memory           int
	ReservedMemory   int
	InstanceType     string
	AvailabilityZone string
	// Attributes are custom attributes, sent at the first registration only.
	Attributes       map[string]string
	ReservedPorts    []int
	ReservedPortsUDP []int
	StopTimeout      time.Duration
	PullBehavior     PullBehavior
	CleanupWait      time.Duration
	LoggingDrivers   []string
	// MetadataListen is the address of the task metadata endpoint; the port
	// must be free on every interface containers can reach. ":0" picks one.
	MetadataListen string
	// Subnet is the CIDR of the agent's own bridge network for awsvpc tasks;
	// empty picks a free /24 in 172.30.0.0/16.
	Subnet string
}

// Default is the configuration before any source is applied.
func Default() Config {
	return Config{
		Region:         "us-east-1",
		Cluster:        DefaultCluster,
		DataDir:        DefaultDataDir,
		InstanceType:   "berth.local",
		ReservedPorts:  slices.Clone(DefaultReservedPorts),
		StopTimeout:    DefaultStopTimeout,
		PullBehavior:   PullDefault,
		CleanupWait:    DefaultCleanupWait,
		LoggingDrivers: slices.Clone(DefaultLoggingDrivers),
		MetadataListen: "0.0.0.0:0",
		Attributes:     map[string]string{},
	}
}

// Sources are the inputs of Load, lowest precedence first.
type Sources struct {
	// File is an ecs.config-style file (KEY=VALUE lines); "" for none.
	File string
	// Env is the process environment as KEY=VALUE strings (os.Environ()).
	Env []string
	// Flags holds the flags the user set explicitly, by flag name without
	// dashes (endpoint, cluster, data-dir, cpu, memory, instance-type,
	// availability-zone, attributes, region).
	Flags map[string]string
}

// Load builds a Config: defaults, then the file, then the environment, then
// the flags.
func Load(src Sources) (Config, error) {
	cfg := Default()
	if src.File != "" {
		vars, err := ReadFile(src.File)
		if err != nil {
			return Config{}, err
		}
		if err := cfg.applyEnv(vars); err != nil {
			return Config{}, fmt.Errorf("%s: %w", src.File, err)
		}
	}
	if err := cfg.applyEnv(envMap(src.Env)); err != nil {
		return Config{}, fmt.Errorf("environment: %w", err)
	}
	if err := cfg.applyFlags(src.Flags); err != nil {
		return Config{}, err
	}
	return cfg, cfg.validate()
}

// ReadFile reads an ecs.config-style file: KEY=VALUE per line, blank lines
// and # comments ignored, an optional "export " prefix, values optionally in
// single or double quotes.
func ReadFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the config file: %w", err)
	}
	defer f.Close()
	return ParseFile(f.Name(), bufio.NewScanner(f))
}

// ParseFile parses the lines of an ecs.config-style file (see ReadFile).
func ParseFile(name string, sc *bufio.Scanner) (map[string]string, error) {
	vars := map[string]string{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: expected KEY=VALUE, got %q", name, n, line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
			v = v[1 : len(v)-1]
		}
		vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return vars, nil
}

func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// applyEnv applies the ECS agent's variables (and the AWS SDK's endpoint and
// region) present in vars.
func (c *Config) applyEnv(vars map[string]string) error {
	set := func(k string, fn func(string) error) error {
		v, ok := vars[k]
		if !ok || strings.TrimSpace(v) == "" {
			return nil
		}
		if err := fn(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		return nil
	}
	str := func(dst *string) func(string) error { return func(v string) error { *dst = v; return nil } }
	steps := []struct {
		key string
		fn  func(string) error
	}{
		{"AWS_ENDPOINT_URL_ECS", str(&c.Endpoint)},
		{"AWS_REGION", str(&c.Region)},
		{"ECS_BACKEND_HOST", str(&c.Endpoint)},
		{"ECS_CLUSTER", str(&c.Cluster)},
		{"ECS_DATADIR", str(&c.DataDir)},
		{"ECS_INSTANCE_ATTRIBUTES", func(v string) error { return parseAttributesJSON(v, c.Attributes) }},
		{"ECS_RESERVED_MEMORY", intVar(&c.ReservedMemory)},
		{"ECS_RESERVED_PORTS", portsVar(&c.ReservedPorts)},
		{"ECS_RESERVED_PORTS_UDP", portsVar(&c.ReservedPortsUDP)},
		{"ECS_CONTAINER_STOP_TIMEOUT", durationVar(&c.StopTimeout)},
		{"ECS_IMAGE_PULL_BEHAVIOR", func(v string) error {
			b := PullBehavior(strings.ToLower(v))
			switch b {
			case PullDefault, PullAlways, PullOnce, PullPreferCached:
				c.PullBehavior = b
				return nil
			}
			return fmt.Errorf("%q is not one of default, always, once, prefer-cached", v)
		}},
		{"ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", durationVar(&c.CleanupWait)},
		{"ECS_AVAILABLE_LOGGING_DRIVERS", func(v string) error {
			var drivers []string
			if err := json.Unmarshal([]byte(v), &drivers); err != nil {
				return fmt.Errorf("want a JSON list of strings such as [\"json-file\",\"none\"]: %w", err)
			}
			c.LoggingDrivers = drivers
			return nil
		}},
		{"BERTH_AGENT_SUBNET", str(&c.Subnet)},
		{"BERTH_AGENT_METADATA_LISTEN", str(&c.MetadataListen)},
	}
	// AWS_ENDPOINT_URL is the general SDK variable; the service-specific one
	// and ECS_BACKEND_HOST (the ECS agent's) win over it.
	if err := set("AWS_ENDPOINT_URL", str(&c.Endpoint)); err != nil {
		return err
	}
	if err := set("AWS_DEFAULT_REGION", str(&c.Region)); err != nil {
		return err
	}
	for _, s := range steps {
		if err := set(s.key, s.fn); err != nil {
			return err
		}
	}
	return nil
}

// FlagNames are the flags applyFlags understands.
var FlagNames = []string{"endpoint", "region", "cluster", "data-dir", "cpu", "memory", "reserved-memory",
	"instance-type", "availability-zone", "attributes", "metadata-listen", "subnet"}

func (c *Config) applyFlags(flags map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(flags)) {
		v := flags[name]
		var err error
		switch name {
		case "endpoint":
			c.Endpoint = v
		case "region":
			c.Region = v
		case "cluster":
			c.Cluster = v
		case "data-dir":
			c.DataDir = v
		case "cpu":
			err = intVar(&c.CPU)(v)
		case "memory":
			err = intVar(&c.Memory)(v)
		case "reserved-memory":
			err = intVar(&c.ReservedMemory)(v)
		case "instance-type":
			c.InstanceType = v
		case "availability-zone":
			c.AvailabilityZone = v
		case "attributes":
			err = parseAttributesList(v, c.Attributes)
		case "metadata-listen":
			c.MetadataListen = v
		case "subnet":
			c.Subnet = v
		default:
			err = fmt.Errorf("unknown flag")
		}
		if err != nil {
			return fmt.Errorf("--%s: %w", name, err)
		}
	}
	return nil
}

func (c *Config) validate() error {
	switch {
	case c.Cluster == "":
		return fmt.Errorf("no cluster: set --cluster or ECS_CLUSTER")
	case c.CPU < 0 || c.Memory < 0 || c.ReservedMemory < 0:
		return fmt.Errorf("cpu, memory and reserved memory must not be negative")
	case c.StopTimeout < MinStopTimeout:
		return fmt.Errorf("ECS_CONTAINER_STOP_TIMEOUT %s is below the minimum %s", c.StopTimeout, MinStopTimeout)
	case c.CleanupWait < 0:
		return fmt.Errorf("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION must not be negative")
	}
	return nil
}

func intVar(dst *int) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		*dst = n
		return nil
	}
}

// durationVar accepts Go durations ("30s", "3h") and, like the ECS agent for
// some keys, bare seconds.
func durationVar(dst *time.Duration) func(string) error {
	return func(v string) error {
		if n, err := strconv.Atoi(v); err == nil {
			*dst = time.Duration(n) * time.Second
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 30s or 3h", v)
		}
		*dst = d
		return nil
	}
}

// portsVar parses a JSON list of ports, e.g. [22, 2375].
func portsVar(dst *[]int) func(string) error {
	return func(v string) error {
		var ports []int
		if err := json.Unmarshal([]byte(v), &ports); err != nil {
			return fmt.Errorf("want a JSON list of ports such as [22, 2375]: %w", err)
		}
		for _, p := range ports {
			if p < 1 || p > 65535 {
				return fmt.Errorf("port %d out of range", p)
			}
		}
		*dst = ports
		return nil
	}
}

func parseAttributesJSON(v string, into map[string]string) error {
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return fmt.Errorf("want a JSON object of strings such as {\"stack\":\"prod\"}: %w", err)
	}
	maps.Copy(into, m)
	return nil
}

// parseAttributesList parses k=v,k2=v2 (a bare k has an empty value).
func parseAttributesList(v string, into map[string]string) error {
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, val, _ := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if k == "" {
			return fmt.Errorf("attribute %q has no name", item)
		}
		into[k] = strings.TrimSpace(val)
	}
	return nil
}
