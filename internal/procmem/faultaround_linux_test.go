package procmem

import (
	"encoding/binary"
	"errors"
	"os"
	"syscall"
	"testing"
	"unsafe"
)

// faultAroundBlock is the kernel's default fault-around window.
const faultAroundBlock = 64 << 10

// neighbours reads /proc/self/pagemap and reports, for the page holding
// addr, whether it is present and how many other pages of its 64 KiB block
// are present too.
func neighbours(t *testing.T, pagemap *os.File, addr uintptr) (present bool, others int) {
	t.Helper()
	page := uintptr(os.Getpagesize())
	lo := addr &^ (faultAroundBlock - 1)
	buf := make([]byte, faultAroundBlock/page*8)
	if _, err := pagemap.ReadAt(buf, int64(lo/page*8)); err != nil {
		t.Fatalf("reading pagemap at %x: %v", lo, err)
	}
	for i := uintptr(0); i < faultAroundBlock/page; i++ {
		p := binary.LittleEndian.Uint64(buf[i*8:])&pmPresent != 0
		if lo+i*page == addr&^(page-1) {
			present = p
		} else if p {
			others++
		}
	}
	return present, others
}

// load reads the byte at addr, a mapped address of this process that Go
// does not manage (the executable's read-only segments).
func load(addr uintptr) byte {
	return *(*byte)(unsafe.Add(unsafe.Pointer(nil), addr))
}

// After MapTouchedPagesOnly, a first read of a page of the executable maps
// that page and none around it; a private mapping of the same file that is
// not registered maps the block around each read (the baseline: it shows
// this kernel does fault around, so the first result means something).
// Both are read the same way (a load) and checked in /proc/self/pagemap.
func TestMapTouchedPagesOnly(t *testing.T) {
	page := os.Getpagesize()
	if page >= faultAroundBlock {
		t.Skipf("%d-byte pages: a fault-around block is one page", page)
	}
	ranges, err := executableRanges()
	if err != nil || len(ranges) == 0 {
		t.Fatalf("no executable mappings: %v %v", ranges, err)
	}
	n, err := MapTouchedPagesOnly()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EPERM) {
		t.Skipf("this kernel or sandbox has no asynchronous userfaultfd write-protect: %v", err)
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
	pagemap, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pagemap.Close()

	// Baseline: the same file mapped again, not registered, its pages in
	// the page cache but not mapped.
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
	for i := 0; i < len(m); i += page {
		sum += m[i]
	}
	if err := syscall.Madvise(m, syscall.MADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	base := uintptr(unsafe.Pointer(&m[0]))
	aroundBaseline, reads := 0, 0
	for off := 2 * faultAroundBlock; off+2*faultAroundBlock <= len(m); off += 2 * faultAroundBlock {
		sum += m[off+100]
		if present, others := neighbours(t, pagemap, base+uintptr(off+100)); !present {
			t.Fatalf("unregistered mapping: offset %d not present after a read", off+100)
		} else if others > 0 {
			aroundBaseline++
		}
		reads++
	}
	t.Logf("unregistered mapping: %d of %d first reads mapped pages around the one read", aroundBaseline, reads)
	if aroundBaseline < reads/2 {
		t.Skipf("this kernel maps single pages anyway (%d of %d reads mapped more): nothing to compare", aroundBaseline, reads)
	}

	// The registered executable, its pages dropped, read the same way.
	if _, err := dropExecutablePages(); err != nil {
		t.Fatal(err)
	}
	around, reads := 0, 0
	for _, r := range ranges {
		for a := r.lo + 2*faultAroundBlock; a+2*faultAroundBlock <= r.hi; a += 2 * faultAroundBlock {
			addr := uintptr(a + 100)
			present, before := neighbours(t, pagemap, addr)
			if present {
				continue // this test's own code or data uses it: not a first read
			}
			sum += load(addr)
			present, after := neighbours(t, pagemap, addr)
			if !present {
				t.Fatalf("executable: %x not present after a read", addr)
			}
			if after > before {
				around++
			}
			reads++
		}
	}
	t.Logf("registered executable: %d of %d first reads mapped more pages around the one read (checksum %d)", around, reads, sum)
	if reads < 8 {
		t.Fatalf("only %d first reads: the executable is too small to tell", reads)
	}
	// A page around may come in because code running meanwhile (this
	// test, the runtime) uses it; far from every time.
	if around > reads/4 {
		t.Fatalf("%d of %d first reads of the registered executable mapped pages around the one read, want at most %d",
			around, reads, reads/4)
	}
}
