package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDevFromCgoBuild: the README's `go run ./cmd/berth dev` builds berth
// with cgo wherever a C compiler is installed, and a dynamically linked
// binary cannot go into the images the dev agent runs tasks from. berth dev
// must still start its agent: it builds a static copy from the source tree
// for the images, which it loads before the agent registers, so the agent's
// registration is the check.
func TestDevFromCgoBuild(t *testing.T) {
	requireCLI(t)
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("this test builds berth with cgo, as `go run` does where a C compiler is installed: install gcc: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "berth-cgo")
	build := exec.Command("go", "build", "-o", bin, "../cmd/berth")
	build.Env = append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building berth with cgo: %v\n%s", err, out)
	}
	if out, _ := exec.Command("file", bin).Output(); len(out) > 0 && !strings.Contains(string(out), "dynamically linked") {
		t.Logf("note: the cgo build came out static (%s), so the fallback build is not exercised; the test still checks berth dev registers its agent", out)
	}
	p := startDevBinary(t, bin, t.TempDir(), freeAddr(t))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var out struct{ ContainerInstanceArns []string }
		p.mustAWS(t, &out, "ecs", "list-container-instances")
		if len(out.ContainerInstanceArns) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dev agent of a cgo-built berth never registered:\n%s", p.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
