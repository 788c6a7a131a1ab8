package procmem

import (
	"os"
	"regexp"
	"runtime"
	"strconv"
	"testing"
)

func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc:", err)
	}
	m := regexp.MustCompile(`RssFile:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Skip("no RssFile in /proc/self/status")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// The executable's pages leave the page tables, and code and read-only data
// still work afterwards (they fault back in).
func TestTrimDropsExecutablePages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	before := rssFileKiB(t)
	res := Trim()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	after := rssFileKiB(t)
	t.Logf("RssFile %d KiB -> %d KiB, dropped %d KiB of mappings", before, after, res.Dropped>>10)
	if res.Dropped == 0 || after >= before {
		t.Fatalf("nothing dropped: RssFile %d -> %d KiB, Dropped %d", before, after, res.Dropped)
	}
	// Run code and read data that were just dropped.
	if !regexp.MustCompile(`^a+b$`).MatchString("aaab") {
		t.Fatal("regexp broken after Trim")
	}
}
