package procmem

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent    = 1 << 63
	pmFileShared = 1 << 61 // the page is file-backed (or shared anonymous)
)

// dropExecutablePages calls madvise(MADV_DONTNEED) on this process's
// read-only, private mappings of its own executable (.text, .rodata,
// .gopclntab), page run by page run.
//
// Why it is safe: those mappings are never written, so every page in them is
// a clean page of the file's page cache; MADV_DONTNEED only removes it from
// this process's page tables, and the next access maps the same page again
// from the page cache (a minor fault, or a major one if memory pressure
// evicted it meanwhile, exactly as could happen without this call). The
// writable data segment is left alone: its written pages are private copies.
// A page that is present but not file-backed is a private copy too (a
// debugger breakpoint, a uprobe): it is skipped, so they survive.
//
// Why it is worth it: package initialisers of every component run in every
// process of the one binary, and the kernel maps file pages in fault-around
// blocks (64 KiB by default), so by the end of init most of the ~48 MB of
// text and read-only data are mapped although the process never uses them
// again. What it costs: pages the process does use come back by minor faults
// (again in fault-around blocks); BenchmarkAgentRSS counts about 350 more
// minor faults from idle through 50 tasks than without the trim.
func dropExecutablePages() (int64, error) {
	ranges, err := executableRanges()
	if err != nil {
		return 0, err
	}
	pagemap, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return 0, err
	}
	defer pagemap.Close()
	page := uint64(os.Getpagesize())
	var dropped int64
	for _, r := range ranges {
		n, err := dropFilePages(pagemap, r.lo, r.hi, page)
		dropped += n
		if err != nil {
			return dropped, fmt.Errorf("%x-%x %s: %w", r.lo, r.hi, r.path, err)
		}
	}
	return dropped, nil
}

// addrRange is one mapping of the executable: [lo, hi) in this process.
type addrRange struct {
	lo, hi uint64
	path   string
}

// executableRanges lists this process's read-only, private mappings of its
// own executable (.text, .rodata, .gopclntab), never the writable data.
func executableRanges() ([]addrRange, error) {
	// /proc/self/exe and /proc/self/maps name the file the same way (both
	// with " (deleted)" if it was replaced); the path may hold spaces, so
	// a mapping's line is matched by its suffix.
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	var out []addrRange
	sc := bufio.NewScanner(strings.NewReader(string(maps)))
	for sc.Scan() {
		// address perms offset dev inode path
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 6 || f[1][1] == 'w' || f[1][3] != 'p' || !strings.HasSuffix(line, " "+exe) {
			continue
		}
		if lo, hi, ok := parseRange(f[0]); ok {
			out = append(out, addrRange{lo, hi, exe})
		}
	}
	return out, sc.Err()
}

// dropFilePages drops the runs of present, file-backed pages in [lo, hi).
func dropFilePages(pagemap io.ReaderAt, lo, hi, page uint64) (int64, error) {
	buf := make([]byte, (hi-lo)/page*8)
	if _, err := pagemap.ReadAt(buf, int64(lo/page*8)); err != nil {
		return 0, fmt.Errorf("reading pagemap: %w", err)
	}
	var dropped int64
	start := uint64(0) // start of the current run, 0 when none
	flush := func(end uint64) error {
		if start == 0 {
			return nil
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED); e != 0 {
			return fmt.Errorf("madvise: %w", e)
		}
		dropped += int64(end - start)
		start = 0
		return nil
	}
	for i := uint64(0); i < uint64(len(buf))/8; i++ {
		addr := lo + i*page
		e := binary.LittleEndian.Uint64(buf[i*8:])
		if e&pmPresent != 0 && e&pmFileShared != 0 {
			if start == 0 {
				start = addr
			}
			continue
		}
		if err := flush(addr); err != nil {
			return dropped, err
		}
	}
	return dropped, flush(hi)
}

func parseRange(s string) (lo, hi uint64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	lo, err1 := strconv.ParseUint(a, 16, 64)
	hi, err2 := strconv.ParseUint(b, 16, 64)
	return lo, hi, found && err1 == nil && err2 == nil && lo < hi
}
