package sampleapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// DefaultPort is the port the sample app listens on when neither a flag nor
// $PORT names one; the sample image exposes it.
const DefaultPort = 8080

// shutdownGrace bounds how long in-flight requests may delay an exit. ECS
// stops a container with SIGTERM and kills it stopTimeout later (30 s by
// default); the sample app must leave well before that so tests observe a
// clean exit code 0 rather than 137.
const shutdownGrace = 2 * time.Second

// Config says how the sample app behaves.
type Config struct {
	// Addr is the listen address, ":8080" when empty.
	Addr string
	// Unhealthy makes /health answer 500 from the start.
	Unhealthy bool
	// ExitAfter, when positive, makes the app exit by itself with ExitCode.
	ExitAfter time.Duration
	// ExitCode is the code used with ExitAfter.
	ExitCode int
	// Out receives the request log (stdout of the container); nil discards.
	Out io.Writer
	// Err receives lines written with /log?stream=stderr; nil uses Out.
	Err io.Writer
	// MetadataURI overrides $ECS_CONTAINER_METADATA_URI_V4 (tests).
	MetadataURI string
}

// ListenAddr returns the address the sample app listens on: ":"+port when
// port > 0, else ":$PORT" when set, else ":8080".
func ListenAddr(port int) string {
	if port > 0 {
		return ":" + strconv.Itoa(port)
	}
	if p := os.Getenv("PORT"); p != "" {
		return ":" + p
	}
	return ":" + strconv.Itoa(DefaultPort)
}

// Run listens on cfg.Addr and serves until ctx ends (exit code 0), /exit is
// called (its code) or ExitAfter elapses (ExitCode). The caller exits the
// process with the returned code.
func Run(ctx context.Context, cfg Config) (int, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = ListenAddr(0)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 1, fmt.Errorf("sample-app: listen %s: %w", addr, err)
	}
	return Serve(ctx, ln, cfg)
}

// Serve is Run on an existing listener, which it closes.
func Serve(ctx context.Context, ln net.Listener, cfg Config) (int, error) {
	a := newApp(cfg)
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a.logf("sample-app: listening on %s (hostname %s, pid %d)", ln.Addr(), a.hostname, os.Getpid())

	var timer <-chan time.Time
	if cfg.ExitAfter > 0 {
		t := time.NewTimer(cfg.ExitAfter)
		defer t.Stop()
		timer = t.C
	}
	code := 0
	select {
	case <-ctx.Done():
		a.logf("sample-app: stopping (%v)", context.Cause(ctx))
	case code = <-a.exit:
		a.logf("sample-app: exiting with code %d as requested", code)
	case <-timer:
		code = cfg.ExitCode
		a.logf("sample-app: exiting with code %d after %s", code, cfg.ExitAfter)
	case err := <-served:
		return 1, fmt.Errorf("sample-app: serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return code, fmt.Errorf("sample-app: shutdown: %w", err)
	}
	return code, nil
}

// app holds the state the handlers share.
type app struct {
	cfg      Config
	hostname string
	started  time.Time
	exit     chan int
	client   *http.Client

	mu      sync.Mutex
	healthy bool
	held    [][]byte // memory kept by /alloc
	out     io.Writer
	errOut  io.Writer
}

func newApp(cfg Config) *app {
	host, _ := os.Hostname()
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	errOut := cfg.Err
	if errOut == nil {
		errOut = out
	}
	return &app{
		cfg:      cfg,
		hostname: host,
		started:  time.Now(),
		exit:     make(chan int, 1),
		client:   &http.Client{Timeout: metadataTimeout},
		healthy:  !cfg.Unhealthy,
		out:      out,
		errOut:   errOut,
	}
}

// logf writes one line to the request log; writes are serialized so lines
// from concurrent requests never interleave.
func (a *app) logf(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Fprintf(a.out, format+"\n", args...)
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", a.handleIndex)
	mux.HandleFunc("/health", a.handleHealth)
	mux.HandleFunc("/sethealth", a.handleSetHealth)
	mux.HandleFunc("/exit", a.handleExit)
	mux.HandleFunc("/burn", a.handleBurn)
	mux.HandleFunc("/alloc", a.handleAlloc)
	mux.HandleFunc("/env", a.handleEnv)
	mux.HandleFunc("/log", a.handleLog)
	mux.HandleFunc("/file", a.handleFile)
	mux.HandleFunc("/resolve", a.handleResolve)
	mux.HandleFunc("/dial", a.handleDial)
	mux.HandleFunc("/metadata", a.handleMetadata)
	return a.logRequests(mux)
}

// statusRecorder remembers the status a handler wrote, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (a *app) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		a.logf("sample-app: %s %s %d %s %s", r.Method, r.URL.RequestURI(), rec.status, r.RemoteAddr, time.Since(start).Round(time.Microsecond))
	})
}
