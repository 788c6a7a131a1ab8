package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Module and command paths that identify a berth binary and its source tree.
const (
	modulePath  = "github.com/berth-dev/berth"
	commandPath = modulePath + "/cmd/berth"
)

// buildTimeout bounds building berth for tests: a cold build of the whole
// tree takes about a minute on two cores; ten means something is wrong.
const buildTimeout = 10 * time.Minute

// keepBinaries is how long built binaries stay in the cache after their last
// build; older ones are removed by the next build.
const keepBinaries = 24 * time.Hour

var (
	binMu   sync.Mutex
	binPath string // the process's answer once found
)

// BerthBinary returns the path of a static berth binary to put in images:
// $BERTH_BINARY when set, else in a berth process its own executable when it
// is static. In any other case (a test binary, a cgo build of berth) it
// builds ./cmd/berth with CGO_ENABLED=0 from the source tree above the
// working directory, once per process, into a cache shared by processes
// under a file lock; the go command makes repeated builds cheap. The path
// returned names the binary's content, so it never changes under a reader.
func BerthBinary(ctx context.Context, log *slog.Logger) (string, error) {
	if log == nil {
		log = slog.Default()
	}
	binMu.Lock()
	defer binMu.Unlock()
	if binPath != "" {
		return binPath, nil
	}
	if p := os.Getenv("BERTH_BINARY"); p != "" {
		// A prebuilt binary, e.g. from CI's build step: no build per package.
		if err := checkStatic(p); err != nil {
			return "", err
		}
		binPath = p
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("berth binary: %w", err)
	}
	var notStatic error // why this berth process's own executable cannot go into images
	if isBerthCommand(exe) {
		if notStatic = checkStatic(exe); notStatic == nil {
			binPath = exe
			return exe, nil
		}
		// A cgo build (`go run ./cmd/berth dev` where a C compiler is
		// installed): build a static one from the source tree instead.
	}
	p, err := buildBerth(ctx, log)
	if err != nil {
		if notStatic != nil {
			return "", fmt.Errorf("%w; building a static one from the source tree failed too: %v", notStatic, err)
		}
		return "", err
	}
	binPath = p
	return p, nil
}

func isBerthCommand(exe string) bool {
	info, err := buildinfo.ReadFile(exe)
	return err == nil && info.Path == commandPath
}

// checkStatic fails for a dynamically linked binary (a cgo build), which
// cannot run in an image that holds nothing else.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("berth binary %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("berth binary %s is dynamically linked; build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// CacheDir is where built binaries and locks live: $BERTH_CACHE_DIR, else the
// user cache directory's berth folder.
func CacheDir() (string, error) {
	if d := os.Getenv("BERTH_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("berth cache dir: %w", err)
	}
	return filepath.Join(d, "berth"), nil
}

// moduleRoot finds the berth source tree at or above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if strings.TrimSpace(line) == "module "+modulePath {
					return d, nil
				}
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("this process is not berth and no berth source tree is above %s", dir)
		}
	}
}

func buildBerth(ctx context.Context, log *slog.Logger) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("berth binary: %w", err)
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	buildDir := filepath.Join(cache, "build")
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return "", fmt.Errorf("berth binary: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "build.lock"))
	if err != nil {
		return "", fmt.Errorf("berth binary: %w", err)
	}
	defer unlock()

	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("berth binary: building berth needs the go command: %w", err)
	}
	// The go command skips the link when the output's build id is current,
	// so a build with nothing changed takes a fraction of a second.
	out := filepath.Join(buildDir, "berth")
	start := time.Now()
	log.Info("building berth for images (CGO_ENABLED=0; the first build takes about a minute)", "dir", root)
	bctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(bctx, goCmd, "build", "-trimpath", "-o", out, "./cmd/berth")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS="+staticGoFlags(os.Getenv("GOFLAGS")))
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		// In a shared work tree another package may not compile for a
		// while; the images only need sample-app and pause, so the last good
		// build serves (with a warning) rather than failing every test.
		if last := lastBuilt(filepath.Join(cache, "bin")); last != "" && ctx.Err() == nil {
			log.Warn("go build ./cmd/berth failed; using the last good build", "path", last, "err", err, "output", stderr.String())
			return last, nil
		}
		return "", fmt.Errorf("berth binary: go build ./cmd/berth: %w\n%s", err, stderr.String())
	}
	sum, err := fileSHA256(out)
	if err != nil {
		return "", fmt.Errorf("berth binary: %w", err)
	}
	final := filepath.Join(cache, "bin", "berth-"+sum[:16])
	if err := publish(out, final); err != nil {
		return "", fmt.Errorf("berth binary: %w", err)
	}
	pruneOld(filepath.Dir(final), final)
	log.Info("berth built", "path", final, "took", time.Since(start).Round(time.Millisecond))
	return final, nil
}

// staticGoFlags drops from GOFLAGS what cannot build a static binary or
// does not belong in an image: CI runs `GOFLAGS=-race go test`, and -race
// (like -msan, -asan) needs cgo.
func staticGoFlags(flags string) string {
	var keep []string
	for _, f := range strings.Fields(flags) {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		switch name {
		case "race", "msan", "asan", "cover", "covermode", "coverpkg":
			continue
		}
		keep = append(keep, f)
	}
	return strings.Join(keep, " ")
}

// publish copies src to dst through a temporary file and a rename, so a
// reader sees either no dst or all of it. An existing dst has the same
// content (its name is the content's hash) and is kept.
func publish(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		now := time.Now()
		return os.Chtimes(dst, now, now) // marks it used, for pruneOld
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".berth-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// pruneOld removes cached binaries unused for keepBinaries.
func pruneOld(dir, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if p == keep || !strings.HasPrefix(e.Name(), "berth-") {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > keepBinaries {
			_ = os.Remove(p)
		}
	}
}

// lastBuilt returns the most recently published binary in dir, or "".
func lastBuilt(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var best string
	var bestTime time.Time
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "berth-") {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().After(bestTime) {
			best, bestTime = filepath.Join(dir, e.Name()), info.ModTime()
		}
	}
	return best
}

// fileSHA256 returns the hex sha256 of a file.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var errLockCanceled = errors.New("waiting for the lock was canceled")

// sums caches binary hashes by path, size and mtime: EnsureImages runs in
// every test that needs images, and hashing 40 MiB each time would add up.
var (
	sumMu sync.Mutex
	sums  = map[sumKey]string{}
)

type sumKey struct {
	path  string
	size  int64
	mtime time.Time
}

func binarySum(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	k := sumKey{path, st.Size(), st.ModTime()}
	sumMu.Lock()
	defer sumMu.Unlock()
	if s, ok := sums[k]; ok {
		return s, nil
	}
	s, err := fileSHA256(path)
	if err != nil {
		return "", err
	}
	sums[k] = s
	return s, nil
}

func mkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }
