package taskdef

import (
	"fmt"
	"math"
	"strings"
)

// The accepted forms: a plain or decimal number ("512", "0.25", ".5"),
// optionally followed (spaces allowed, any case) by a unit. A leading sign,
// exponents and other float syntaxes are refused so "1e3" is never read as
// 1000. The parsing is by hand, exact, in integers: the agent reads every
// task's limits, and a regexp compiler and math/big there faulted ~200 KiB
// of code into it (BenchmarkAgentRSS); TestParseMatchesReference holds it to
// the former regexp and big.Rat reading.

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
	num, unit, ok := splitNumber(s)
	scale := int64(1)
	switch {
	case !ok:
	case strings.EqualFold(unit, "vcpu"):
		scale = 1024
	case unit != "":
		ok = false
	}
	if !ok {
		return 0, fmt.Errorf("%q is not a cpu value: use CPU units (1024) or vCPUs (1 vCPU)", s)
	}
	return scaled(s, num, scale, "CPU units")
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
	num, unit, ok := splitNumber(s)
	scale := int64(1)
	switch {
	case !ok:
	case strings.EqualFold(unit, "gb"), strings.EqualFold(unit, "gib"):
		scale = 1024
	case unit != "" && !strings.EqualFold(unit, "mb") && !strings.EqualFold(unit, "mib"):
		ok = false
	}
	if !ok {
		return 0, fmt.Errorf("%q is not a memory value: use MiB (512) or GB (1 GB)", s)
	}
	return scaled(s, num, scale, "MiB")
}

// splitNumber splits s into a decimal number (digits, with at most one
// point, which must have digits after it) and what follows it after
// optional whitespace (the unit, unchecked).
func splitNumber(s string) (num, unit string, ok bool) {
	i, point, digitsBefore, digitsAfter := 0, false, 0, 0
scan:
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9' && point:
			digitsAfter++
		case c >= '0' && c <= '9':
			digitsBefore++
		case c == '.' && !point:
			point = true
		default:
			break scan
		}
	}
	if point && digitsAfter == 0 || !point && digitsBefore == 0 {
		return "", "", false
	}
	return s[:i], strings.TrimLeft(s[i:], " \t\n\f\r"), true
}

// scaled returns the decimal num times scale, exactly, or an error if that
// is not a whole number ("0.125 vcpu" is 128; "0.1 vcpu" is refused, not
// 102) or does not fit an int32.
func scaled(s, num string, scale int64, unit string) (int, error) {
	whole, frac, _ := strings.Cut(num, ".")
	whole = strings.TrimLeft(whole, "0")
	frac = strings.TrimRight(frac, "0")
	// scale is 1 or 1024 = 2^10, so frac*scale/10^len(frac) is whole only
	// if frac has at most 10 digits (1/1024 = 0.0009765625).
	if len(frac) > 10 {
		return 0, fmt.Errorf("%q is not a whole number of %s", s, unit)
	}
	var f, pow int64 = 0, 1
	for _, c := range frac {
		f, pow = f*10+int64(c-'0'), pow*10
	}
	if f*scale%pow != 0 {
		return 0, fmt.Errorf("%q is not a whole number of %s", s, unit)
	}
	// Container cpu and memory are int32 on the wire; a larger task value
	// could not be honoured anyway.
	var w int64
	for _, c := range whole {
		w = w*10 + int64(c-'0')
	}
	if len(whole) > 10 || w*scale+f*scale/pow > math.MaxInt32 {
		return 0, fmt.Errorf("%q is more than %d %s", s, math.MaxInt32, unit)
	}
	return int(w*scale + f*scale/pow), nil
}
