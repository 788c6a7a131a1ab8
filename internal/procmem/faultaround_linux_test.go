package procmem

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// touchedGrowth reads one byte at each address through /proc/self/mem (the
// kernel faults the page in as a read of this process would) and returns
// how much RssFile grew.
func touchedGrowth(t *testing.T, addrs []uint64) int {
	t.Helper()
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	var b [1]byte
	// Warm this function's own paths first, so that the figure counts the
	// reads' pages, not the code that measures them.
	if _, err := mem.ReadAt(b[:], int64(addrs[0]-4096)); err != nil {
		t.Fatal(err)
	}
	rssFileKiB(t)
	before := rssFileKiB(t)
	for _, a := range addrs {
		if _, err := mem.ReadAt(b[:], int64(a)); err != nil {
			t.Fatalf("reading %x: %v", a, err)
		}
	}
	return rssFileKiB(t) - before
}

// spread picks addresses 128 KiB apart inside the ranges, away from their
// edges, so that no two share a fault-around block.
func spread(ranges []addrRange) []uint64 {
	const step = 128 << 10
	var out []uint64
	for _, r := range ranges {
		for a := r.lo + step; a+step <= r.hi; a += step {
			out = append(out, a+100)
		}
	}
	return out
}

// After MapTouchedPagesOnly, a first read of a page of the executable maps
// that page, not the 64 KiB around it; a private mapping of the same file
// that is not registered still maps whole blocks (the baseline: it shows
// the kernel does fault around, so the first figure means something).
func TestMapTouchedPagesOnly(t *testing.T) {
	ranges, err := executableRanges()
	if err != nil || len(ranges) == 0 {
		t.Fatalf("no executable mappings: %v %v", ranges, err)
	}
	n, err := MapTouchedPagesOnly()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM) {
		t.Skipf("this kernel or sandbox has no asynchronous userfaultfd write-protect (Linux 6.7+): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, r := range ranges {
		total += int64(r.hi - r.lo)
	}
	if n != total {
		t.Fatalf("registered %d bytes, the executable's read-only mappings hold %d", n, total)
	}
	if again, err := MapTouchedPagesOnly(); again != n || err != nil {
		t.Fatalf("second call: %d %v, want %d nil", again, err, n)
	}

	// Baseline: the same file mapped again, not registered.
	f, err := os.Open(ranges[0].path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	var sum byte
	for i := 0; i < len(m); i += 4096 {
		sum += m[i] // into the page cache
	}
	if err := syscall.Madvise(m, syscall.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	var offs []int
	for off := 128 << 10; off+(128<<10) <= len(m); off += 128 << 10 {
		offs = append(offs, off+100)
	}
	before := rssFileKiB(t)
	for _, off := range offs {
		sum += m[off]
	}
	baseline := rssFileKiB(t) - before
	t.Logf("unregistered mapping: %d first reads mapped %d KiB (%d KiB each)", len(offs), baseline, baseline/len(offs))
	if baseline < len(offs)*16 {
		t.Skipf("this kernel maps single pages anyway (%d KiB for %d reads): nothing to compare", baseline, len(offs))
	}

	if _, err := dropExecutablePages(); err != nil {
		t.Fatal(err)
	}
	addrs := spread(ranges)
	growth := touchedGrowth(t, addrs)
	t.Logf("registered executable: %d first reads mapped %d KiB (%d KiB each); checksum %d", len(addrs), growth, growth/len(addrs), sum)
	// One 4 KiB page per read, plus the pages this test's own code and the
	// runtime fault in meanwhile.
	if limit := len(addrs)*4 + 128; growth > limit {
		t.Fatalf("%d reads of the registered executable mapped %d KiB, want at most %d (one page each)", len(addrs), growth, limit)
	}
}
