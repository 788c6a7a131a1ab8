package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/grpclog"
)

// Defaults for the embedded etcd.
const (
	// DefaultTickMs and DefaultElectionMs are the single-member timings: a
	// member elects itself in tens of milliseconds. Clusters of 3/5 servers
	// should keep etcd's defaults (100/1000) and set them in Config.
	DefaultTickMs     = 10
	DefaultElectionMs = 50
	// DefaultCompactionRetention is the periodic auto-compaction window: watch
	// history older than this is dropped (caches re-list if they fall behind).
	DefaultCompactionRetention = time.Hour
	// DefaultQuotaBytes is the backend size quota (etcd's default is 2 GiB).
	DefaultQuotaBytes = 4 << 30

	etcdDirName = "etcd"
	logFileName = "etcd.log"
)

// embedded is a running embedded etcd and its log file.
type embedded struct {
	etcd    *embed.Etcd
	logFile *os.File
	logger  *zap.Logger
	clients []string
}

// openLog opens (appending) the zap log file in dataDir.
func openLog(dataDir string) (*os.File, *zap.Logger, error) {
	f, err := os.OpenFile(filepath.Join(dataDir, logFileName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("store: open etcd log: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(f)), zapcore.InfoLevel)
	// ErrorOutput defaults to stderr: keep zap's own errors (e.g. writes after
	// the file is closed) out of the terminal too.
	lg := zap.New(core, zap.ErrorOutput(zapcore.AddSync(io.Discard)))
	return f, lg, nil
}

// startEmbedded starts a single-member etcd in cfg.DataDir/etcd and waits until
// it serves requests.
func startEmbedded(ctx context.Context, cfg Config) (*embedded, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("store: Config.DataDir is required for the embedded etcd")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	f, lg, err := openLog(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	grpcLogs.set(f)

	// Free ports are picked by binding :0 and releasing; another process may
	// grab one in between, so retry a few times on "address already in use".
	var e *embed.Etcd
	for attempt := 0; ; attempt++ {
		ecfg, err := embedConfig(cfg, lg)
		if err != nil {
			grpcLogs.unset(f)
			f.Close()
			return nil, err
		}
		e, err = embed.StartEtcd(ecfg)
		if err == nil {
			break
		}
		if attempt < 4 && strings.Contains(err.Error(), "address already in use") &&
			(cfg.ClientURL == "" || cfg.PeerURL == "") {
			continue
		}
		grpcLogs.unset(f)
		f.Close()
		return nil, fmt.Errorf("store: start embedded etcd: %w", err)
	}
	fail := func(err error) (*embedded, error) {
		e.Close()
		grpcLogs.unset(f)
		f.Close()
		return nil, err
	}

	// A fresh single member campaigns after one tick; a restarted one after
	// its election timeout. Either way this is well under a second; the cap
	// only guards against a wedged start when ctx has no deadline.
	timer := time.NewTimer(time.Minute)
	defer timer.Stop()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fail(fmt.Errorf("store: embedded etcd: %w", err))
	case <-ctx.Done():
		return fail(fmt.Errorf("store: waiting for embedded etcd: %w", ctx.Err()))
	case <-timer.C:
		return fail(errors.New("store: embedded etcd not ready after 1m (see etcd.log in the data dir)"))
	}

	var clients []string
	for _, u := range e.Config().AdvertiseClientUrls {
		clients = append(clients, u.String())
	}
	return &embedded{etcd: e, logFile: f, logger: lg, clients: clients}, nil
}

func (m *embedded) close() {
	m.etcd.Close()
	_ = m.logger.Sync()
	grpcLogs.unset(m.logFile)
	m.logFile.Close()
}

func embedConfig(cfg Config, lg *zap.Logger) (*embed.Config, error) {
	ec := embed.NewConfig()
	ec.Name = cfg.Name
	if ec.Name == "" {
		ec.Name = "berth"
	}
	ec.Dir = filepath.Join(cfg.DataDir, etcdDirName)
	ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	ec.LogOutputs = nil

	clientURL, err := listenURL(cfg.ClientURL)
	if err != nil {
		return nil, fmt.Errorf("store: ClientURL: %w", err)
	}
	peerURL, err := listenURL(cfg.PeerURL)
	if err != nil {
		return nil, fmt.Errorf("store: PeerURL: %w", err)
	}
	ec.ListenClientUrls = []url.URL{*clientURL}
	ec.AdvertiseClientUrls = []url.URL{*clientURL}
	ec.ListenPeerUrls = []url.URL{*peerURL}
	ec.AdvertisePeerUrls = []url.URL{*peerURL}
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	ec.InitialClusterToken = "berth"

	ec.TickMs = cfg.TickMs
	if ec.TickMs == 0 {
		ec.TickMs = DefaultTickMs
	}
	ec.ElectionMs = cfg.ElectionMs
	if ec.ElectionMs == 0 {
		ec.ElectionMs = DefaultElectionMs
	}
	// A single member need not wait a whole election timeout before its
	// first campaign.
	ec.InitialElectionTickAdvance = true

	retention := cfg.CompactionRetention
	if retention == 0 {
		retention = DefaultCompactionRetention
	}
	ec.AutoCompactionMode = embed.CompactorModePeriodic
	ec.AutoCompactionRetention = retention.String()
	ec.QuotaBackendBytes = cfg.QuotaBytes
	if ec.QuotaBackendBytes == 0 {
		ec.QuotaBackendBytes = DefaultQuotaBytes
	}
	ec.MaxTxnOps = MaxTxnOps
	// The HTTP/JSON gateway is not used by Berth.
	ec.EnableGRPCGateway = false
	return ec, nil
}

// listenURL parses u, or picks a free port on 127.0.0.1 when u is empty.
func listenURL(u string) (*url.URL, error) {
	if u == "" {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		return &url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", fmt.Sprint(port))}, nil
	}
	return url.Parse(u)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("store: pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// grpcLogs receives gRPC's global warnings and errors: the etcd.log of the
// most recently opened embedded store, or nowhere.
var grpcLogs = &switchWriter{}

type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return len(p), nil
	}
	_, _ = s.w.Write(p)
	return len(p), nil
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

func (s *switchWriter) unset(w io.Writer) {
	s.mu.Lock()
	if s.w == w {
		s.w = nil
	}
	s.mu.Unlock()
}

func init() {
	// gRPC's default logger prints errors (e.g. connection resets when etcd
	// stops) to stderr. SetLoggerV2 must run before any gRPC activity, hence
	// init. An explicit GRPC_GO_LOG_SEVERITY_LEVEL keeps gRPC's own logger.
	// (gRPC writes errors to the info and warning writers as well, so only
	// the warning writer is set.)
	if os.Getenv("GRPC_GO_LOG_SEVERITY_LEVEL") == "" {
		grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, grpcLogs, io.Discard))
	}
}
