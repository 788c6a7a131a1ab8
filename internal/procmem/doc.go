// Package procmem keeps a long-running Berth process's resident memory to
// what it uses. MapTouchedPagesOnly makes the kernel map the executable one
// page per fault instead of 64 KiB blocks around each faulting page; Trim
// gives back what start-up used and no longer needs: the pages of the
// executable that only package initialisers touched, and the heap they left
// behind as garbage.
//
// One binary holds every component (etcd, the registry, the ECS API, the
// agent), and the Go runtime runs every package's init in every process, so a
// process such as `berth agent` faults in code and data it never uses again,
// and the code it does use is scattered among pages it never uses. The
// commands decide when start-up is over and call Trim once.
//
// It owns no Berth state and must not import other Berth packages.
package procmem
