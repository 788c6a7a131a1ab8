package procmem

import "runtime/debug"

// Result is what Trim did.
type Result struct {
	// Dropped is how many bytes of the executable's read-only mappings were
	// unmapped from this process (they stay in the page cache).
	Dropped int64
	// Err says why the executable's pages were left alone, if they were
	// (e.g. /proc is not mounted); the heap is returned either way.
	Err error
}

// Trim drops this process's mappings of the executable's read-only pages
// (see dropExecutablePages), then collects garbage and returns free heap pages
// to the OS. The collection comes second on purpose: it touches the metadata
// of every live type and every goroutine's frames, and those pages are part
// of what the process keeps using, so they count in a later measurement.
//
// Call it once, after start-up. Calling it periodically would only move
// pages in and out of the page tables (costing minor faults) and make
// resident-memory figures flatter than the process really is.
func Trim() Result {
	n, err := dropExecutablePages()
	debug.FreeOSMemory()
	return Result{Dropped: n, Err: err}
}
