package taskdef

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The former reading, by regexp and big.Rat: the reference the hand-written
// parsers must agree with, value and message.
var (
	refCPURE    = regexp.MustCompile(`^(?i)(\d+(?:\.\d+)?|\.\d+)\s*(vcpu)?$`)
	refMemoryRE = regexp.MustCompile(`^(?i)(\d+(?:\.\d+)?|\.\d+)\s*(gb|gib|mb|mib)?$`)
)

func refParse(s string, memory bool) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	re, unit, what := refCPURE, "CPU units", "%q is not a cpu value: use CPU units (1024) or vCPUs (1 vCPU)"
	if memory {
		re, unit, what = refMemoryRE, "MiB", "%q is not a memory value: use MiB (512) or GB (1 GB)"
	}
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf(what, s)
	}
	scale := int64(1)
	if u := strings.ToLower(m[2]); u == "vcpu" || u == "gb" || u == "gib" {
		scale = 1024
	}
	r, _ := new(big.Rat).SetString(m[1])
	r.Mul(r, new(big.Rat).SetInt64(scale))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is not a whole number of %s", s, unit)
	}
	if !r.Num().IsInt64() || r.Num().Int64() > math.MaxInt32 {
		return 0, fmt.Errorf("%q is more than %d %s", s, math.MaxInt32, unit)
	}
	return int(r.Num().Int64()), nil
}

func TestParseMatchesReference(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"0", "00", "1024", ".5", "0.5", "5.", ".", "..5", "1.5.5", "0.0009765625 vcpu", "0.00097656250 vcpu",
		"0.00048828125 vcpu", "2147483647", "2147483648", "2097151.999 vcpu", "2097152 vcpu", "2097151 vcpu",
		"99999999999.5", "99999999999", "000000000000000000001", "1e3", "-1", "+1", "1 vCPU", "1vcpu", "1 vcpus",
		"2 GB", "2gib", "512 MiB", "512mb", "1.5 GiB", "0.1 gb", " 7 \t", "1\tvcpu", "1\vvcpu", "1 vcpu x", "١٢",
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"0", "1", "5", "9", ".", " ", "\t", "v", "cpu", "CPU", "g", "G", "i", "b", "B", "m", "M", "x", "-", "00", "25", "125"}
	for range 50000 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	ok := 0
	for _, in := range inputs {
		for _, memory := range []bool{false, true} {
			parse := ParseCPU
			if memory {
				parse = ParseMemory
			}
			got, gerr := parse(in)
			want, werr := refParse(in, memory)
			if got != want || fmt.Sprint(gerr) != fmt.Sprint(werr) {
				t.Fatalf("memory=%v %q: got %d, %v; the reference reads %d, %v", memory, in, got, gerr, want, werr)
			}
			if werr == nil {
				ok++
			}
		}
	}
	if ok < 1000 {
		t.Fatalf("only %d inputs parsed: the generator tests too little", ok)
	}
}
