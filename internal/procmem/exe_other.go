//go:build !linux

package procmem

import "errors"

func dropExecutablePages() (int64, error) {
	return 0, errors.New("dropping executable pages needs Linux")
}

// MapTouchedPagesOnly needs Linux (see the Linux version).
func MapTouchedPagesOnly() (int64, error) {
	return 0, errors.New("mapping single pages needs Linux")
}
