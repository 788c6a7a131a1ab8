//go:build !unix

package images

import "context"

// lockFile is a no-op where flock does not exist: Berth's agent and tests
// run on Linux.
func lockFile(context.Context, string) (func(), error) { return func() {}, nil }
