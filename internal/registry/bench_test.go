package registry

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"

	"github.com/berth-dev/berth/internal/images"
)

// BenchmarkPushPull200MB pushes and pulls a 200 MB single-layer image with
// the docker CLI through Berth and, in the same run, through Debian's
// docker-registry (the same Distribution code, standalone): the figures are
// MB/s of each and Berth's ratio to the baseline.
//
//	go test -run '^$' -bench PushPull200MB -benchtime 3x ./internal/registry
func BenchmarkPushPull200MB(b *testing.B) {
	const size = 200 << 20
	d := newDockerCLI(b)
	baseline := startDockerRegistry(b)
	e := newEnv(b, envOpts{})
	name := "bench-" + uniq()
	if _, err := e.ecr().CreateRepository(b.Context(), &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
		b.Fatal(err)
	}
	e.login(d)
	im := buildTestImage(b, "x", size)

	var push, pull [2]time.Duration
	for i := 0; b.Loop(); i++ {
		for j, host := range []string{e.host, baseline} {
			ref := fmt.Sprintf("%s/%s:r%d", host, name, i)
			im.Ref = ref
			var buf bytes.Buffer
			if err := images.WriteDockerArchive(&buf, im); err != nil {
				b.Fatal(err)
			}
			d.removeLater(ref)
			if out, err := d.tryInput(buf.Bytes(), "load"); err != nil {
				b.Fatalf("docker load: %v\n%s", err, out)
			}
			start := time.Now()
			d.run("push", ref)
			push[j] += time.Since(start)
			d.run("rmi", "-f", ref)
			start = time.Now()
			d.run("pull", ref)
			pull[j] += time.Since(start)
			d.run("rmi", "-f", ref)
		}
	}
	mbps := func(t time.Duration) float64 { return float64(b.N) * size / (1 << 20) / t.Seconds() }
	b.ReportMetric(mbps(push[0]), "berth-push-MB/s")
	b.ReportMetric(mbps(pull[0]), "berth-pull-MB/s")
	b.ReportMetric(mbps(push[1]), "baseline-push-MB/s")
	b.ReportMetric(mbps(pull[1]), "baseline-pull-MB/s")
	b.ReportMetric(push[1].Seconds()/push[0].Seconds(), "push-ratio")
	b.ReportMetric(pull[1].Seconds()/pull[0].Seconds(), "pull-ratio")
}

// startDockerRegistry runs /usr/bin/docker-registry (Debian package
// docker-registry) on a free loopback port with filesystem storage.
func startDockerRegistry(b *testing.B) string {
	b.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		b.Fatalf("the baseline needs Debian's docker-registry package (apt-get install docker-registry): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := b.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfg)
	if err := cmd.Start(); err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
	}
	b.Fatalf("docker-registry did not start on %s", addr)
	return ""
}
