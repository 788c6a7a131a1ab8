package taskdef

import (
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/berth-dev/berth/internal/lazyregexp"
)

// The accepted forms: a plain or decimal number, optionally followed
// (spaces allowed, any case) by a unit. A leading sign, exponents and other
// float syntaxes are refused so "1e3" is never read as 1000.
var (
	cpuRE    = lazyregexp.New(`^(?i)(\d+(?:\.\d+)?|\.\d+)\s*(vcpu)?$`)
	memoryRE = lazyregexp.New(`^(?i)(\d+(?:\.\d+)?|\.\d+)\s*(gb|gib|mb|mib)?$`)
)

// ParseCPU reads a task-level cpu in CPU units ("256") or vCPUs ("1 vCPU",
// "0.25 vcpu", "2vCPU"; 1 vCPU is 1024 units) and returns CPU units. "" is 0
// (no task-level limit). The value must come to a whole number of units:
// "0.1 vcpu" (102.4 units) is refused rather than rounded, so the control
// plane and the agent can never disagree on it. Range checks are the caller's.
func ParseCPU(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	m := cpuRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a cpu value: use CPU units (1024) or vCPUs (1 vCPU)", s)
	}
	scale := int64(1)
	if m[2] != "" {
		scale = 1024
	}
	return scaled(s, m[1], scale, "CPU units")
}

// ParseMemory reads a task-level memory in MiB ("512", "512 MiB", "512MB")
// or GB ("1GB", "2 GB", "0.5 gb", "1.5 GiB"; 1 GB is 1024 MiB, as ECS
// reads it) and returns MiB. "" is 0 (no task-level limit). The value must
// come to a whole number of MiB. Range checks are the caller's.
func ParseMemory(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	m := memoryRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a memory value: use MiB (512) or GB (1 GB)", s)
	}
	scale := int64(1)
	if u := strings.ToLower(m[2]); u == "gb" || u == "gib" {
		scale = 1024
	}
	return scaled(s, m[1], scale, "MiB")
}

// scaled returns the decimal num times scale, exactly: big.Rat rather than a
// float so "0.125 vcpu" is 128 and "0.1 vcpu" is refused, not 102.
func scaled(s, num string, scale int64, unit string) (int, error) {
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%q is not a number", s) // unreachable after the regexp
	}
	r.Mul(r, new(big.Rat).SetInt64(scale))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of %s", s, unit)
	}
	// Container cpu and memory are int32 on the wire; a larger task value
	// could not be honoured anyway.
	if !r.Num().IsInt64() || r.Num().Int64() > math.MaxInt32 {
		return 0, fmt.Errorf("%q is more than %d %s", s, math.MaxInt32, unit)
	}
	return int(r.Num().Int64()), nil
}
