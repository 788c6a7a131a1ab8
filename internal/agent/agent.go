package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/agent/engine"
	"github.com/berth-dev/berth/internal/agent/metadata"
	"github.com/berth-dev/berth/internal/agentproto"
	"github.com/berth-dev/berth/internal/runtime"
)

// Options are an agent's inputs besides its config.
type Options struct {
	Config  config.Config
	Runtime runtime.Runtime
	// AWS is the SDK config the agent signs its requests with (credentials
	// and region; the endpoint comes from Config.Endpoint when set).
	AWS     aws.Config
	Logger  *slog.Logger
	Version string
}

// Agent is one container instance: registration, the link, the task engine
// and the metadata endpoint.
type Agent struct {
	opts   Options
	cfg    config.Config
	log    *slog.Logger
	ecs    *ecs.Client
	rt     runtime.Runtime
	engine *engine.Engine

	agentID  string
	network  awsvpcNetwork
	mdLn     net.Listener
	mdPort   int
	mdServer *http.Server

	mu          sync.Mutex
	instanceARN string

	reg  Registration
	info runtime.EngineInfo

	needRegister atomic.Bool
	connected    atomic.Bool
	lastSeq      atomic.Int64
	payloads     atomic.Int64
	health       chan agentproto.HealthReport
}

// Timing of start-up.
const (
	// registerBackoffMax bounds the wait between registration attempts
	// while the control plane is unreachable.
	registerBackoffMax = 10 * time.Second
	// setupTimeout bounds engine calls during start-up.
	setupTimeout = 30 * time.Second
)

// identity is what the agent keeps in its data dir across restarts.
type identity struct {
	AgentID     string `json:"agentId"`
	Cluster     string `json:"cluster,omitempty"`
	InstanceARN string `json:"containerInstanceArn,omitempty"`
	// MetadataPort is kept so containers that outlive an agent restart
	// still reach the endpoint named in their environment.
	MetadataPort int `json:"metadataPort,omitempty"`
}

// New prepares an agent: data dir, identity, the awsvpc network, the
// metadata listener and registration (retried until the control plane
// answers or ctx ends). Run then serves.
func New(ctx context.Context, opts Options) (*Agent, error) {
	cfg := opts.Config
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.AWS.Region == "" {
		opts.AWS.Region = cfg.Region
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent data dir: %w", err)
	}
	id, err := loadIdentity(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &Agent{opts: opts, cfg: cfg, rt: opts.Runtime, agentID: id.AgentID, health: make(chan agentproto.HealthReport, 256),
		log: opts.Logger.With("cluster", cfg.Cluster)}
	if id.Cluster == cfg.Cluster {
		a.instanceARN = id.InstanceARN
	}
	a.ecs = ecs.NewFromConfig(opts.AWS, func(o *ecs.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})

	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	info, err := a.rt.Info(sctx)
	if err != nil {
		return nil, fmt.Errorf("container runtime: %w", err)
	}
	if a.network, err = ensureNetwork(sctx, a.rt, a.agentID, cfg.Subnet); err != nil {
		return nil, err
	}
	bridgeGW := "172.17.0.1"
	if n, err := a.rt.InspectNetwork(sctx, "bridge"); err == nil && n.Gateway != "" {
		bridgeGW = n.Gateway
	}
	if a.mdLn, err = listenMetadata(cfg.MetadataListen, id.MetadataPort); err != nil {
		return nil, err
	}
	mdPort := a.mdLn.Addr().(*net.TCPAddr).Port
	a.mdPort = mdPort
	metadataURL := func(mode string) string {
		host := "127.0.0.1"
		switch mode {
		case "bridge":
			host = bridgeGW
		case "awsvpc":
			host = a.network.Gateway
		}
		return "http://" + net.JoinHostPort(host, strconv.Itoa(mdPort))
	}

	a.reg, a.info = buildRegistration(cfg, info, a.network.Subnet, []int{mdPort}), info
	if err := a.register(ctx); err != nil {
		a.mdLn.Close()
		return nil, err
	}
	env := engine.Env{AgentID: a.agentID, InstanceARN: a.InstanceARN(), Region: cfg.Region,
		StopTimeout: cfg.StopTimeout, MetadataURL: metadataURL, Network: a.network.Name}
	if reg := newRegistry(cfg.Endpoint, opts.AWS); reg != nil {
		env.Registry = reg
	}
	if host, _ := os.Hostname(); host != "" && host == info.Name {
		// The engine runs on this host: its cgroups are ours to make.
		env.Cgroups = engine.DetectCgroups("/sys/fs/cgroup", info.CgroupDriver, info.CgroupVersion, a.agentID)
	}
	a.engine = engine.New(engine.Config{
		Runtime: a.rt, DataDir: cfg.DataDir, PullBehavior: cfg.PullBehavior, CleanupWait: cfg.CleanupWait,
		LogDrivers: cfg.LoggingDrivers, Reporter: &reporter{client: newECSPoster(cfg.Endpoint, opts.AWS, opts.Version), cluster: cfg.Cluster},
		Health: a.onHealth, Logger: a.log,
		Env: env,
	})
	a.mdServer = &http.Server{Handler: metadata.Handler(a.engine, metadata.Info{
		Cluster: cfg.Cluster, AvailabilityZone: cfg.AvailabilityZone, ContainerInstanceARN: a.InstanceARN(),
	}), ReadHeaderTimeout: 10 * time.Second}
	return a, nil
}

// Run serves until ctx ends: the task engine, the link and the metadata
// endpoint. Tasks keep running in the engine when it returns.
func (a *Agent) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	engineErr := make(chan error, 1)
	wg.Go(func() { engineErr <- a.engine.Run(ctx) })
	wg.Go(func() { a.linkLoop(ctx) })
	wg.Go(func() {
		// Containers that outlived an agent restart call in at once; answer
		// them only once their tasks are restored (connections wait in the
		// listener's backlog meanwhile).
		select {
		case <-a.engine.Restored():
		case <-ctx.Done():
			a.mdLn.Close()
			return
		}
		if err := a.mdServer.Serve(a.mdLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("task metadata endpoint failed", "err", err)
		}
	})
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = a.mdServer.Shutdown(sctx)
	wg.Wait()
	// The awsvpc network goes with the agent unless tasks still use it
	// (then it stays for them, and the next start finds it): agents on
	// throw-away data dirs must not use up the /24s of the pool.
	if err := a.rt.RemoveNetwork(sctx, a.network.Name); err == nil {
		a.log.Info("removed the idle awsvpc network", "network", a.network.Name)
	}
	return <-engineErr
}

// InstanceARN is the container instance's ARN.
func (a *Agent) InstanceARN() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.instanceARN
}

// AgentID labels every object this agent makes in the runtime.
func (a *Agent) AgentID() string { return a.agentID }

// Engine is the agent's task engine.
func (a *Agent) Engine() *engine.Engine { return a.engine }

// Connected reports whether the link is up.
func (a *Agent) Connected() bool { return a.connected.Load() }

// Subnet is the CIDR of the agent's awsvpc network.
func (a *Agent) Subnet() string { return a.network.Subnet }

// MetadataAddr is the metadata endpoint's listen address.
func (a *Agent) MetadataAddr() string { return a.mdLn.Addr().String() }

// register calls RegisterContainerInstance until it succeeds: it creates
// the default cluster when missing (as the ECS agent does), falls back to a
// fresh registration when the saved ARN is unknown, and retries while the
// control plane is unreachable.
func (a *Agent) register(ctx context.Context) error {
	backoff := 200 * time.Millisecond
	for {
		arn, err := a.registerOnce(ctx, a.reg, a.info)
		if err == nil {
			a.mu.Lock()
			a.instanceARN = arn
			a.mu.Unlock()
			a.log.Info("registered container instance", "instance", arn)
			return saveIdentity(a.cfg.DataDir, identity{AgentID: a.agentID, Cluster: a.cfg.Cluster, InstanceARN: arn, MetadataPort: a.mdPort})
		}
		code := apiCode(err)
		switch {
		case code == "ClusterNotFoundException" && a.cfg.Cluster == config.DefaultCluster:
			_, cerr := a.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(config.DefaultCluster)})
			if cerr == nil {
				continue
			}
			// Fall through to the back-off: never a tight loop against the
			// control plane.
			err = fmt.Errorf("creating the default cluster: %w", cerr)
		case code == "InvalidParameterException" && a.InstanceARN() != "":
			a.log.Warn("the saved container instance is unknown to the control plane; registering anew", "instance", a.InstanceARN())
			a.mu.Lock()
			a.instanceARN = ""
			a.mu.Unlock()
			continue
		case code != "" && code != "ServerException" && code != "ThrottlingException":
			return fmt.Errorf("registering with cluster %s: %w", a.cfg.Cluster, err)
		}
		a.log.Warn("registration failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("registering with cluster %s: %w", a.cfg.Cluster, err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, registerBackoffMax)
	}
}

func (a *Agent) registerOnce(ctx context.Context, reg Registration, info runtime.EngineInfo) (string, error) {
	in := &ecs.RegisterContainerInstanceInput{
		Cluster: aws.String(a.cfg.Cluster),
		TotalResources: []types.Resource{
			{Name: aws.String("CPU"), Type: aws.String("INTEGER"), IntegerValue: int32(reg.CPU)},
			{Name: aws.String("MEMORY"), Type: aws.String("INTEGER"), IntegerValue: int32(reg.Memory)},
			{Name: aws.String("PORTS"), Type: aws.String("STRINGSET"), StringSetValue: reg.Ports},
			{Name: aws.String("PORTS_UDP"), Type: aws.String("STRINGSET"), StringSetValue: reg.PortsUDP},
		},
		VersionInfo: &types.VersionInfo{AgentVersion: aws.String(a.opts.Version), AgentHash: aws.String("berth"),
			DockerVersion: aws.String("DockerVersion: " + info.ServerVersion)},
	}
	if arn := a.InstanceARN(); arn != "" {
		in.ContainerInstanceArn = aws.String(arn)
	}
	for _, k := range sortedKeys(reg.Attributes) {
		attr := types.Attribute{Name: aws.String(k)}
		if v := reg.Attributes[k]; v != "" {
			attr.Value = aws.String(v)
		}
		in.Attributes = append(in.Attributes, attr)
	}
	out, err := a.ecs.RegisterContainerInstance(ctx, in)
	if err != nil {
		return "", err
	}
	if out.ContainerInstance == nil || out.ContainerInstance.ContainerInstanceArn == nil {
		return "", errors.New("RegisterContainerInstance returned no container instance ARN")
	}
	return *out.ContainerInstance.ContainerInstanceArn, nil
}

// checkRegistration notices that the control plane no longer knows the
// instance (deregistered, or its state was reset) so the next link attempt
// registers again.
func (a *Agent) checkRegistration(err error) {
	switch apiCode(err) {
	case "ClusterNotFoundException", "InvalidParameterException":
		a.needRegister.Store(true)
	}
}

// checkLinkError does the same for the link's refusal codes.
func (a *Agent) checkLinkError(code string) {
	c := strings.ToLower(code)
	if strings.Contains(c, "notfound") || strings.Contains(c, "inactive") || strings.Contains(c, "deregistered") {
		a.needRegister.Store(true)
	}
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// listenMetadata opens the metadata endpoint's listener. With port 0 in
// addr it reuses the port of the previous run when free, so the containers
// it started still reach it.
func listenMetadata(addr string, previous int) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("task metadata endpoint address %q: %w", addr, err)
	}
	if port == "0" && previous > 0 {
		if ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(previous))); err == nil {
			return ln, nil
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("task metadata endpoint on %s: %w", addr, err)
	}
	return ln, nil
}

func loadIdentity(dir string) (identity, error) {
	path := filepath.Join(dir, "agent.json")
	var id identity
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &id); err != nil {
			return id, fmt.Errorf("reading %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return id, fmt.Errorf("reading %s: %w", path, err)
	}
	if id.AgentID == "" {
		buf := make([]byte, 6)
		_, _ = rand.Read(buf)
		id.AgentID = hex.EncodeToString(buf)
		if err := saveIdentity(dir, id); err != nil {
			return id, err
		}
	}
	return id, nil
}

func saveIdentity(dir string, id identity) error {
	b, _ := json.MarshalIndent(id, "", "  ")
	path := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return os.Rename(path+".tmp", path)
}
