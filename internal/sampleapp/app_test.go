package sampleapp

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for the server goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type running struct {
	base string
	out  *syncBuffer
	done chan result
}

type result struct {
	code int
	err  error
}

func start(t *testing.T, ctx context.Context, cfg Config) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	cfg.Out = out
	r := &running{base: "http://" + ln.Addr().String(), out: out, done: make(chan result, 1)}
	go func() {
		code, err := Serve(ctx, ln, cfg)
		r.done <- result{code, err}
	}()
	return r
}

func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	return do(t, http.MethodGet, r.base+path, "")
}

func do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *running) wait(t *testing.T) result {
	t.Helper()
	select {
	case res := <-r.done:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("sample app did not exit")
		return result{}
	}
}

func TestHealthAndSetHealth(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	r := start(t, ctx, Config{})
	if code, body := r.get(t, "/health"); code != 200 {
		t.Fatalf("/health = %d %s", code, body)
	}
	if code, _ := r.get(t, "/sethealth?healthy=false"); code != 200 {
		t.Fatalf("/sethealth = %d", code)
	}
	if code, _ := r.get(t, "/health"); code != 500 {
		t.Fatalf("/health after sethealth=false = %d, want 500", code)
	}
	if code, _ := r.get(t, "/sethealth?healthy=maybe"); code != 400 {
		t.Fatalf("/sethealth?healthy=maybe = %d, want 400", code)
	}
	cancel()
	if res := r.wait(t); res.code != 0 || res.err != nil {
		t.Fatalf("after cancel: code %d err %v, want 0 nil", res.code, res.err)
	}
	if !strings.Contains(r.out.String(), "GET /health 500") {
		t.Errorf("request log lacks the 500:\n%s", r.out.String())
	}
}

func TestUnhealthyFlag(t *testing.T) {
	t.Parallel()
	r := start(t, t.Context(), Config{Unhealthy: true})
	if code, _ := r.get(t, "/health"); code != 500 {
		t.Fatalf("/health = %d, want 500", code)
	}
}

func TestExitEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query  string
		status int
		code   int
	}{
		{"?code=3", 200, 3},
		{"", 200, 0},
		{"?code=300", 400, -1},
		{"?code=x", 400, -1},
	} {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			r := start(t, t.Context(), Config{})
			status, body := r.get(t, "/exit"+tc.query)
			if status != tc.status {
				t.Fatalf("/exit%s = %d %s, want %d", tc.query, status, body, tc.status)
			}
			if tc.code < 0 {
				return
			}
			if res := r.wait(t); res.code != tc.code || res.err != nil {
				t.Fatalf("exit = %d %v, want %d", res.code, res.err, tc.code)
			}
		})
	}
}

func TestExitAfter(t *testing.T) {
	t.Parallel()
	r := start(t, t.Context(), Config{ExitAfter: 50 * time.Millisecond, ExitCode: 7})
	if res := r.wait(t); res.code != 7 || res.err != nil {
		t.Fatalf("exit = %d %v, want 7", res.code, res.err)
	}
}

func TestBurnAllocEnvLogFile(t *testing.T) {
	t.Parallel()
	r := start(t, t.Context(), Config{})
	code, body := r.get(t, "/burn?cpu=30&threads=2")
	if code != 200 || !strings.Contains(body, `"threads": 2`) {
		t.Fatalf("/burn = %d %s", code, body)
	}
	if code, _ := r.get(t, "/burn?cpu=abc"); code != 400 {
		t.Fatalf("/burn?cpu=abc = %d, want 400", code)
	}
	if code, body := r.get(t, "/alloc?mb=2"); code != 200 || !strings.Contains(body, `"heldMiB":2`) {
		t.Fatalf("/alloc = %d %s", code, body)
	}
	if code, body := r.get(t, "/env"); code != 200 || !strings.Contains(body, "PATH") {
		t.Fatalf("/env = %d %s", code, body)
	}
	if code, _ := r.get(t, "/log?msg=hello-from-test"); code != 200 || !strings.Contains(r.out.String(), "hello-from-test\n") {
		t.Fatalf("/log = %d, log:\n%s", code, r.out.String())
	}
	path := filepath.Join(t.TempDir(), "f")
	if code, body := do(t, http.MethodPut, r.base+"/file?path="+path, "contents"); code != 200 {
		t.Fatalf("PUT /file = %d %s", code, body)
	}
	if code, body := r.get(t, "/file?path="+path); code != 200 || body != "contents" {
		t.Fatalf("GET /file = %d %q", code, body)
	}
	if code, _ := r.get(t, "/file?path="+path+".missing"); code != 404 {
		t.Fatalf("GET missing file = %d, want 404", code)
	}
	if code, body := r.get(t, "/resolve?host=localhost"); code != 200 {
		t.Fatalf("/resolve = %d %s", code, body)
	}
	if code, body := r.get(t, "/dial?addr="+strings.TrimPrefix(r.base, "http://")); code != 200 {
		t.Fatalf("/dial = %d %s", code, body)
	}
}

func TestIndexShowsTaskMetadata(t *testing.T) {
	t.Parallel()
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v4/abc":
			_, _ = io.WriteString(w, `{"Name":"web"}`)
		case "/v4/abc/task":
			_, _ = io.WriteString(w, `{"Family":"sample","Containers":[]}`)
		case "/v4/abc/task/stats":
			_, _ = io.WriteString(w, `{"id1":{"memory_stats":{"usage":1}}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer meta.Close()
	r := start(t, t.Context(), Config{MetadataURI: meta.URL + "/v4/abc"})

	code, body := r.get(t, "/")
	if code != 200 {
		t.Fatalf("/ = %d %s", code, body)
	}
	var in Info
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatalf("decode /: %v\n%s", err, body)
	}
	host, _ := os.Hostname()
	if in.Hostname != host || !strings.Contains(string(in.Container), `"web"`) || !strings.Contains(string(in.Task), `"sample"`) || in.MetadataError != "" {
		t.Fatalf("/ = %+v", in)
	}

	req, _ := http.NewRequest(http.MethodGet, r.base+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if !strings.Contains(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(page), "Task metadata") {
		t.Fatalf("HTML page: %s\n%s", resp.Header.Get("Content-Type"), page)
	}
	// /metadata relays one path of the endpoint as is; a missing one is 502.
	if code, body := r.get(t, "/metadata?path=/task/stats"); code != 200 || body != `{"id1":{"memory_stats":{"usage":1}}}` {
		t.Fatalf("/metadata?path=/task/stats = %d %s", code, body)
	}
	if code, body := r.get(t, "/metadata"); code != 200 || body != `{"Name":"web"}` {
		t.Fatalf("/metadata = %d %s", code, body)
	}
	if code, body := r.get(t, "/metadata?path=/stats"); code != http.StatusBadGateway {
		t.Fatalf("/metadata?path=/stats (not served) = %d %s", code, body)
	}
	if code, body := r.get(t, "/metadata?path=stats"); code != http.StatusBadRequest {
		t.Fatalf("/metadata?path=stats = %d %s", code, body)
	}
	if code, _ := r.get(t, "/nope"); code != 404 {
		t.Fatalf("/nope = %d, want 404", code)
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	r := start(t, t.Context(), Config{})
	if err := Probe(t.Context(), r.base+"/health", 0); err != nil {
		t.Fatalf("probe healthy: %v", err)
	}
	if err := Probe(t.Context(), r.base+"/nope", 0); err == nil {
		t.Fatal("probe of a 404 succeeded")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // accepts nothing: the probe must give up on time
	start := time.Now()
	if err := Probe(t.Context(), "http://"+ln.Addr().String()+"/", 200*time.Millisecond); err == nil {
		t.Fatal("probe of a silent server succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("probe took %s with a 200ms timeout", d)
	}
}

func TestPauseReturnsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Pause(ctx); err != nil {
		t.Fatal(err)
	}
}
