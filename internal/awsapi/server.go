package awsapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultMaxBodyBytes bounds a request body; larger requests are refused
// before any parsing.
const DefaultMaxBodyBytes = 8 << 20

// ServerConfig configures the edge.
type ServerConfig struct {
	Credentials Credentials
	Logger      *slog.Logger
	// MaxBodyBytes defaults to DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Now is the clock used for signature expiry; nil means time.Now.
	Now func() time.Time
}

// Server is the edge listener's handler: it routes AWS requests to registered
// services after SigV4 verification, and serves Berth's own paths (/_berth/...)
// and other mounted handlers (the registry's /v2/).
type Server struct {
	cfg      ServerConfig
	byTarget map[string]*Service
	mux      *http.ServeMux
	ready    atomic.Bool
}

// NewServer builds an edge with no services.
func NewServer(cfg ServerConfig) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, byTarget: map[string]*Service{}, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /_berth/health", func(w http.ResponseWriter, r *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "starting\n", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	return s
}

// Register adds a service; its operations answer once SetReady is called.
func (s *Server) Register(svc *Service) { s.byTarget[svc.TargetPrefix] = svc }

// Handle mounts a non-AWS handler (no SigV4 at this layer) on the mux, e.g.
// "POST /_berth/reset" or "/v2/".
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// SetReady makes /_berth/health answer 200.
func (s *Server) SetReady() { s.ready.Store(true) }

type ctxKey int

const (
	principalKey ctxKey = iota
	requestIDKey
)

// PrincipalFrom returns the verified identity of the request.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey).(Principal)
	return p, ok
}

// RequestIDFrom returns the request id sent back as x-amzn-RequestId.
func RequestIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey).(string)
	return s
}

// WithPrincipal returns ctx carrying p (for in-process callers and tests).
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// NewRequestID returns a random UUID-formatted id.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if target == "" || r.Method != http.MethodPost {
		s.mux.ServeHTTP(w, r)
		return
	}
	reqID := NewRequestID()
	w.Header().Set("x-amzn-RequestId", reqID)
	ctx := context.WithValue(r.Context(), requestIDKey, reqID)

	prefix, opName, _ := strings.Cut(target, ".")
	svc := s.byTarget[prefix]
	contentType := "application/x-amz-json-1.1"
	if svc != nil && svc.JSONVersion != "" {
		contentType = "application/x-amz-json-" + svc.JSONVersion
	}
	w.Header().Set("Content-Type", contentType)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.writeError(w, NewError(CodeRequestTooLarge, http.StatusRequestEntityTooLarge,
				"Request body exceeds the limit of %d bytes.", s.cfg.MaxBodyBytes), target)
			return
		}
		s.writeError(w, SerializationError("Could not read the request body: %v", err), target)
		return
	}
	if !s.ready.Load() {
		s.writeError(w, NewError("ServiceUnavailableException", http.StatusServiceUnavailable,
			"Berth is starting; retry shortly."), target)
		return
	}
	if s.cfg.Credentials == nil {
		s.writeError(w, NewError(CodeInternalFailure, http.StatusInternalServerError, "no credential store configured"), target)
		return
	}
	principal, _, aerr := verifySigV4(ctx, r, body, s.cfg.Credentials, s.cfg.Now())
	if aerr != nil {
		s.writeError(w, aerr, target)
		return
	}
	ctx = WithPrincipal(ctx, principal)

	if svc == nil {
		s.writeError(w, NewError(CodeUnknownOperation, http.StatusBadRequest, "Unknown target %q.", target), target)
		return
	}
	op, ok := svc.Operations[opName]
	if !ok {
		s.writeError(w, NewError(CodeUnknownOperation, http.StatusBadRequest,
			"Unknown operation %q for service %s.", opName, svc.Name), target)
		return
	}
	start := time.Now()
	out, err := op.Invoke(ctx, body)
	if err != nil {
		e, ok := AsError(err)
		if !ok {
			s.cfg.Logger.Error("internal error", "op", target, "request_id", reqID, "err", err)
			e = NewError(CodeInternalFailure, http.StatusInternalServerError,
				"Internal failure (request id %s): %v", reqID, err)
		}
		s.writeError(w, e, target)
		return
	}
	if out == nil {
		out = struct{}{}
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, NewError(CodeInternalFailure, http.StatusInternalServerError, "encoding response: %v", err), target)
		return
	}
	s.cfg.Logger.Debug("api", "op", target, "request_id", reqID, "dur", time.Since(start))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func (s *Server) writeError(w http.ResponseWriter, e *Error, target string) {
	body := map[string]any{"__type": e.Code, "message": e.Message}
	for k, v := range e.Fields {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	w.Header().Set("x-amzn-ErrorType", e.Code)
	status := e.StatusCode
	if status == 0 {
		status = http.StatusBadRequest
	}
	if status >= 500 {
		s.cfg.Logger.Warn("api error", "op", target, "code", e.Code, "status", status, "msg", e.Message)
	}
	w.WriteHeader(status)
	w.Write(b)
}
