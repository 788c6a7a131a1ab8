package sampleapp

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Limits that keep a mistyped request from wedging the container.
const (
	metadataTimeout = 2 * time.Second  // the metadata endpoint is local; slower means broken
	maxBurn         = 10 * time.Minute // /burn longer than this is a typo
	maxAlloc        = 64 << 10         // MiB /alloc may hold in total
	maxFileRead     = 1 << 20          // bytes /file returns
	dialTimeout     = 2 * time.Second  // /dial and /resolve
)

// Info is what / reports, as JSON or as an HTML page.
type Info struct {
	Hostname      string            `json:"hostname"`
	PID           int               `json:"pid"`
	Time          time.Time         `json:"time"`
	Uptime        string            `json:"uptime"`
	Addresses     []string          `json:"addresses"`
	Healthy       bool              `json:"healthy"`
	GoMaxProcs    int               `json:"gomaxprocs"`
	Request       RequestInfo       `json:"request"`
	ECSEnv        map[string]string `json:"ecsEnv,omitempty"`
	Container     json.RawMessage   `json:"container,omitempty"`
	Task          json.RawMessage   `json:"task,omitempty"`
	MetadataError string            `json:"metadataError,omitempty"`
}

// RequestInfo describes the request / answered.
type RequestInfo struct {
	Method     string `json:"method"`
	Host       string `json:"host"`
	RemoteAddr string `json:"remoteAddr"`
	UserAgent  string `json:"userAgent,omitempty"`
}

func (a *app) info(r *http.Request) Info {
	a.mu.Lock()
	healthy := a.healthy
	a.mu.Unlock()
	in := Info{
		Hostname:   a.hostname,
		PID:        os.Getpid(),
		Time:       time.Now().UTC(),
		Uptime:     time.Since(a.started).Round(time.Millisecond).String(),
		Addresses:  interfaceAddrs(),
		Healthy:    healthy,
		GoMaxProcs: runtime.GOMAXPROCS(0),
		Request: RequestInfo{
			Method: r.Method, Host: r.Host, RemoteAddr: r.RemoteAddr, UserAgent: r.UserAgent(),
		},
		ECSEnv: ecsEnv(),
	}
	if uri := a.metadataURI(); uri != "" {
		var errs []string
		var err error
		if in.Container, err = a.fetchJSON(r.Context(), uri); err != nil {
			errs = append(errs, err.Error())
		}
		if in.Task, err = a.fetchJSON(r.Context(), strings.TrimSuffix(uri, "/")+"/task"); err != nil {
			errs = append(errs, err.Error())
		}
		in.MetadataError = strings.Join(errs, "; ")
	}
	return in
}

// metadataURI is the task metadata endpoint v4 base of this container, ""
// when the agent gave none (network mode none).
func (a *app) metadataURI() string {
	if a.cfg.MetadataURI != "" {
		return a.cfg.MetadataURI
	}
	return os.Getenv("ECS_CONTAINER_METADATA_URI_V4")
}

func (a *app) fetchJSON(ctx context.Context, url string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("GET %s: answer is not JSON", url)
	}
	return body, nil
}

func interfaceAddrs() []string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []string
	for _, ad := range addrs {
		if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
			out = append(out, ipn.String())
		}
	}
	return out
}

// ecsEnv returns the variables the agent sets for a task (ECS_*, AWS_*),
// never values that look like secrets.
func ecsEnv() map[string]string {
	out := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(k, "ECS_") || strings.HasPrefix(k, "AWS_")) && !strings.Contains(k, "SECRET") && !strings.Contains(k, "TOKEN") {
			out[k] = v
		}
	}
	return out
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Berth sample app on {{.Hostname}}</title>
<style>body{font-family:sans-serif;margin:2em}td{padding:0 1em 0 0}pre{background:#f4f4f4;padding:1em;overflow:auto}</style>
</head><body>
<h1>Berth sample app</h1>
<table>
<tr><td>hostname</td><td>{{.Hostname}}</td></tr>
<tr><td>addresses</td><td>{{range .Addresses}}{{.}} {{end}}</td></tr>
<tr><td>uptime</td><td>{{.Uptime}}</td></tr>
<tr><td>healthy</td><td>{{.Healthy}}</td></tr>
<tr><td>client</td><td>{{.Request.RemoteAddr}}</td></tr>
</table>
{{if .MetadataError}}<p>metadata: {{.MetadataError}}</p>{{end}}
{{if .Task}}<h2>Task metadata</h2><pre>{{printf "%s" .Task}}</pre>{{end}}
{{if .Container}}<h2>Container metadata</h2><pre>{{printf "%s" .Container}}</pre>{{end}}
</body></html>
`))

func (a *app) handleIndex(w http.ResponseWriter, r *http.Request) {
	in := a.info(r)
	if strings.Contains(r.Header.Get("Accept"), "text/html") && r.URL.Query().Get("format") != "json" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = indexPage.Execute(w, in)
		return
	}
	writeJSON(w, http.StatusOK, in)
}

func (a *app) handleHealth(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	healthy := a.healthy
	a.mu.Unlock()
	if !healthy {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"status": "unhealthy"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "healthy"})
}

// handleSetHealth flips /health: /sethealth?healthy=false.
func (a *app) handleSetHealth(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.ParseBool(r.URL.Query().Get("healthy"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "healthy must be true or false")
		return
	}
	a.mu.Lock()
	a.healthy = v
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"healthy": v})
}

// handleExit answers, then makes Serve return the code: /exit?code=3.
func (a *app) handleExit(w http.ResponseWriter, r *http.Request) {
	code := 0
	if s := r.URL.Query().Get("code"); s != "" {
		c, err := strconv.Atoi(s)
		if err != nil || c < 0 || c > 255 {
			httpError(w, http.StatusBadRequest, "code must be an integer in 0..255")
			return
		}
		code = c
	}
	writeJSON(w, http.StatusOK, map[string]int{"exitCode": code})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	select {
	case a.exit <- code:
	default: // an exit is already under way
	}
}

// handleBurn keeps CPUs busy: /burn?cpu=<ms>[&threads=N].
func (a *app) handleBurn(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("cpu"))
	if err != nil || ms < 0 {
		httpError(w, http.StatusBadRequest, "cpu must be a number of milliseconds")
		return
	}
	d := min(time.Duration(ms)*time.Millisecond, maxBurn)
	threads := 1
	if s := r.URL.Query().Get("threads"); s != "" {
		if threads, err = strconv.Atoi(s); err != nil || threads < 1 || threads > 256 {
			httpError(w, http.StatusBadRequest, "threads must be in 1..256")
			return
		}
	}
	start := time.Now()
	done := make(chan uint64, threads)
	for range threads {
		go func() { done <- burn(r.Context(), d) }()
	}
	var loops uint64
	for range threads {
		loops += <-done
	}
	writeJSON(w, http.StatusOK, map[string]any{"burnedMs": time.Since(start).Milliseconds(), "threads": threads, "loops": loops})
}

// burn spins until d has passed or ctx ends, checking the clock only every
// few thousand iterations so the loop is mostly arithmetic.
func burn(ctx context.Context, d time.Duration) uint64 {
	deadline := time.Now().Add(d)
	var n, x uint64 = 0, 1
	for {
		for range 4096 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		n++
		if time.Now().After(deadline) || ctx.Err() != nil {
			return n + x%2
		}
	}
}

// handleAlloc allocates and touches memory it keeps until exit: /alloc?mb=N.
func (a *app) handleAlloc(w http.ResponseWriter, r *http.Request) {
	mb, err := strconv.Atoi(r.URL.Query().Get("mb"))
	if err != nil || mb < 0 {
		httpError(w, http.StatusBadRequest, "mb must be a number of MiB")
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.held)+mb > maxAlloc {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("at most %d MiB in total", maxAlloc))
		return
	}
	for range mb {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1 // touch every page so it counts against the cgroup
		}
		a.held = append(a.held, b)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"heldMiB\":%d}\n", len(a.held))
}

func (a *app) handleEnv(w http.ResponseWriter, _ *http.Request) {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	writeJSON(w, http.StatusOK, env)
}

// handleLog writes a line to the container's stdout or stderr:
// /log?msg=hello[&stream=stderr].
func (a *app) handleLog(w http.ResponseWriter, r *http.Request) {
	msg := r.URL.Query().Get("msg")
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			httpError(w, http.StatusBadRequest, err.Error())
			return
		}
		msg = string(b)
	}
	dst := a.out
	if r.URL.Query().Get("stream") == "stderr" {
		dst = a.errOut
	}
	a.mu.Lock()
	_, err := io.WriteString(dst, strings.TrimSuffix(msg, "\n")+"\n")
	a.mu.Unlock()
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"bytes": len(msg)})
}

// handleFile reads (GET) or writes (PUT, POST) a file, for volume tests:
// /file?path=/data/x.
func (a *app) handleFile(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	if path == "" {
		httpError(w, http.StatusBadRequest, "path is required")
		return
	}
	switch r.Method {
	case http.MethodGet:
		f, err := os.Open(path)
		if err != nil {
			httpError(w, statusForFileErr(err), err.Error())
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, io.LimitReader(f, maxFileRead))
	case http.MethodPut, http.MethodPost:
		b, err := io.ReadAll(io.LimitReader(r.Body, maxFileRead))
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			httpError(w, statusForFileErr(err), err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"bytes": len(b)})
	default:
		httpError(w, http.StatusMethodNotAllowed, "GET, PUT or POST")
	}
}

func statusForFileErr(err error) int {
	switch {
	case os.IsNotExist(err):
		return http.StatusNotFound
	case os.IsPermission(err):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// handleMetadata answers with one path of the task metadata endpoint as the
// container sees it: /metadata?path=/task/stats GETs
// ${ECS_CONTAINER_METADATA_URI_V4}/task/stats and relays the JSON, so tests
// can read every path (stats included) from inside an image with no curl.
func (a *app) handleMetadata(w http.ResponseWriter, r *http.Request) {
	uri := a.metadataURI()
	if uri == "" {
		httpError(w, http.StatusNotFound, "ECS_CONTAINER_METADATA_URI_V4 is not set")
		return
	}
	path := r.URL.Query().Get("path")
	if path != "" && !strings.HasPrefix(path, "/") {
		httpError(w, http.StatusBadRequest, "path must start with /")
		return
	}
	body, err := a.fetchJSON(r.Context(), strings.TrimSuffix(uri, "/")+path)
	if err != nil {
		httpError(w, http.StatusBadGateway, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// handleResolve looks a name up: /resolve?host=db.
func (a *app) handleResolve(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Query().Get("host")
	ctx, cancel := context.WithTimeout(r.Context(), dialTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		httpError(w, http.StatusBadGateway, err.Error())
		return
	}
	sort.Strings(addrs)
	writeJSON(w, http.StatusOK, map[string]any{"host": host, "addresses": addrs})
}

// handleDial opens a TCP connection and closes it: /dial?addr=host:port.
func (a *app) handleDial(w http.ResponseWriter, r *http.Request) {
	addr := r.URL.Query().Get("addr")
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(r.Context(), "tcp", addr)
	if err != nil {
		httpError(w, http.StatusBadGateway, err.Error())
		return
	}
	local := c.LocalAddr().String()
	_ = c.Close()
	writeJSON(w, http.StatusOK, map[string]string{"addr": addr, "local": local})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
