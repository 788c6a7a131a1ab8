package sampleapp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ProbeTimeout is how long Probe waits for an answer. Docker's health check
// timeout (ECS default 5 s) bounds the whole command; the probe answers first
// so a slow app reads as "unhealthy" rather than as a timed-out check.
const ProbeTimeout = 2 * time.Second

// Probe GETs url and returns nil when it answers 2xx within timeout
// (ProbeTimeout when zero). It is the health check command of the sample image:
// ["CMD", "/berth", "sample-app", "probe", "http://127.0.0.1:8080/health"].
func Probe(ctx context.Context, url string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = ProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	// A fresh transport per probe: the process lives for one request and a
	// keep-alive pool would only delay its exit.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("probe: GET %s: %s", url, resp.Status)
	}
	return nil
}

// Pause blocks until ctx ends (SIGTERM or SIGINT in `berth pause`) and returns
// nil, so the pause container exits 0. It holds the task's network namespace
// for awsvpc tasks the way the ECS agent's pause container does.
func Pause(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
