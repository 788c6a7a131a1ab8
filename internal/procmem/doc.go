// Package procmem gives a long-running Berth process back the memory its
// start-up used and no longer needs: the pages of the executable that only
// package initialisers touched, and the heap they left behind as garbage.
//
// One binary holds every component (etcd, the registry, the ECS API, the
// agent), and the Go runtime runs every package's init in every process, so a
// process such as `berth agent` faults in code and data it never uses again.
// The commands decide when start-up is over and call Trim once.
//
// It owns no Berth state and must not import other Berth packages.
package procmem
