package procmem

import (
	"fmt"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// userfaultfd(2) ABI (include/uapi/linux/userfaultfd.h; the ioctl numbers
// encode only the argument sizes, so they are the same on every 64-bit
// architecture).
const (
	uffdUserModeOnly   = 1          // handle user-mode faults only: allowed unprivileged
	uffdAPI            = 0xAA       // UFFD_API
	uffdFeatureWPAsync = 1 << 15    // UFFD_FEATURE_WP_ASYNC (Linux 6.7)
	uffdioAPI          = 0xC018AA3F // _IOWR(0xAA, 0x3F, struct uffdio_api)
	uffdioRegister     = 0xC020AA00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	uffdRegisterModeWP = 1 << 1     // UFFDIO_REGISTER_MODE_WP
)

// faultAround is MapTouchedPagesOnly's one result. The userfaultfd it opens
// is never closed: closing it would unregister the mappings.
var faultAround struct {
	once sync.Once
	n    int64
	err  error
}

// MapTouchedPagesOnly makes the kernel map this process's executable one
// page per fault instead of the fault-around block (64 KiB by default)
// around each faulting page, for the rest of the process's life. It returns
// how many bytes of mappings it covers.
//
// Why: Linux maps file pages in fault-around blocks to save faults on the
// assumption that neighbouring pages are used together. In one binary that
// holds every Berth component, the code and type data a `berth agent` uses
// are scattered among pages it never uses, so each block maps mostly
// strangers: running the first tasks mapped ~10 MiB of the executable,
// 64 KiB for every few hundred bytes used. With blocks of one page, the
// process's resident file pages are the pages it really touched.
//
// How: the kernel skips fault-around on mappings registered with a
// userfaultfd for write-protect faults (uffd_disable_fault_around). The
// registration is asynchronous write-protect (UFFD_FEATURE_WP_ASYNC): no
// page is ever write-protected and no handler runs, the mappings are
// read-only anyway; the registration only marks them. The file stays in
// the page cache exactly as before, shared with every other process.
//
// What it costs: one minor fault per page touched for the first time instead
// of one per block (BenchmarkAgentRSS reports the counts).
//
// It needs Linux 6.7 or later on x86-64 (6.10 on arm64, whose userfaultfd
// write-protect came later) and userfaultfd(2) (Docker's default seccomp
// profile denies it to containers); otherwise it returns an error and
// changes nothing. Calling it again returns the first call's result.
func MapTouchedPagesOnly() (int64, error) {
	faultAround.once.Do(func() {
		faultAround.n, faultAround.err = registerExecutable()
	})
	return faultAround.n, faultAround.err
}

func registerExecutable() (int64, error) {
	ranges, err := executableRanges()
	if err != nil {
		return 0, err
	}
	if len(ranges) == 0 {
		return 0, fmt.Errorf("no read-only mapping of the executable in /proc/self/maps")
	}
	r, _, e := syscall.Syscall(unix.SYS_USERFAULTFD, syscall.O_CLOEXEC|syscall.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if e != 0 {
		return 0, fmt.Errorf("userfaultfd: %w", e)
	}
	fd := int(r)
	api := struct{ api, features, ioctls uint64 }{api: uffdAPI, features: uffdFeatureWPAsync}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), uffdioAPI, uintptr(unsafe.Pointer(&api))); e != 0 {
		syscall.Close(fd)
		return 0, fmt.Errorf("userfaultfd: asynchronous write-protect (Linux 6.7 or later on x86-64, 6.10 on arm64): %w", e)
	}
	var n int64
	for _, m := range ranges {
		reg := struct{ start, len, mode, ioctls uint64 }{start: m.lo, len: m.hi - m.lo, mode: uffdRegisterModeWP}
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), uffdioRegister, uintptr(unsafe.Pointer(&reg))); e != 0 {
			// Closing the fd unregisters what was registered: all or
			// nothing, as the caller is told.
			syscall.Close(fd)
			return 0, fmt.Errorf("registering %x-%x of %s with userfaultfd: %w", m.lo, m.hi, m.path, e)
		}
		n += int64(m.hi - m.lo)
	}
	return n, nil
}
