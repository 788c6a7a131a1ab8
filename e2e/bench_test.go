package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// listClusters sends one signed ListClusters and reports whether it succeeded.
func listClusters(endpoint string) bool {
	body := []byte(`{}`)
	sum := sha256.Sum256(body)
	req, _ := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "ecs", "us-east-1", time.Now()); err != nil {
		return false
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// BenchmarkColdStart measures process start to the first successful API
// answer of `berth dev` on a fresh data dir (target < 300 ms), and reports the
// idle RSS of the control plane afterwards (target < 100 MB).
func BenchmarkColdStart(b *testing.B) {
	var total time.Duration
	var rssKB int64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		l := freeAddrB(b)
		start := time.Now()
		cmd := exec.Command(berthBin, "dev", "--data-dir", dir, "--listen", l,
			"--access-key-id", testKeyID, "--secret-access-key", testSecret)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for !listClusters("http://" + l) {
			if time.Since(start) > 30*time.Second {
				cmd.Process.Kill()
				b.Fatal("berth dev did not answer within 30s")
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
		if i == b.N-1 {
			time.Sleep(2 * time.Second) // let start-up garbage be collected
			rssKB = vmRSS(b, cmd.Process.Pid)
		}
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/start")
	b.ReportMetric(float64(rssKB)/1024, "idle-RSS-MB")
}

func freeAddrB(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func vmRSS(b *testing.B, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
