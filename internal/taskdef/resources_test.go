package taskdef

import (
	"strings"
	"testing"
)

// TestParseCPU covers every form the agent's and the control plane's former
// parsers accepted, and what either refused.
func TestParseCPU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		// "" is no task-level limit (the agent's reading).
		{"", 0},
		{"  ", 0},
		// CPU units.
		{"256", 256},
		{"1024", 1024},
		{"128", 128},
		{"196608", 196608},
		{"0", 0},
		{" 512 ", 512},
		{"2048.0", 2048},
		// vCPUs, any case, with or without a space.
		{"1 vCPU", 1024},
		{"1 vcpu", 1024},
		{"0.5 vcpu", 512},
		{"0.25 vcpu", 256},
		{".5 VCPU", 512},
		{"2vCPU", 2048},
		{" 4 vcpu ", 4096},
		{"0.125 vcpu", 128},
		{"192 vcpu", 196608},
		{"1  vcpu", 1024},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got, err := ParseCPU(tt.in); err != nil || got != tt.want {
				t.Errorf("ParseCPU(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
	refused := []struct{ in, why string }{
		{"lots", "not a cpu value"},
		{"vcpu", "not a cpu value"},
		{"-1024", "not a cpu value"},
		{"+1024", "not a cpu value"},
		{"1e3", "not a cpu value"},
		{"1e3 vcpu", "not a cpu value"},
		{"inf vcpu", "not a cpu value"},
		{"0x10", "not a cpu value"},
		{"1024 units", "not a cpu value"},
		{"1.5.2 vcpu", "not a cpu value"},
		{"1/2 vcpu", "not a cpu value"},
		{"1 GB", "not a cpu value"},
		{"0.1 vcpu", "not a whole number of CPU units"},
		{"256.5", "not a whole number of CPU units"},
		{"9999999999", "more than 2147483647 CPU units"},
		{"2097152 vcpu", "more than 2147483647 CPU units"},
	}
	for _, tt := range refused {
		t.Run("refused "+tt.in, func(t *testing.T) {
			t.Parallel()
			if got, err := ParseCPU(tt.in); err == nil || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("ParseCPU(%q) = %d, %v; want an error saying %q", tt.in, got, err, tt.why)
			}
		})
	}
}

// TestParseMemory covers every form the agent's and the control plane's
// former parsers accepted, and what either refused.
func TestParseMemory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		// MiB, bare or with MiB/MB.
		{"512", 512},
		{"6", 6},
		{" 512 ", 512},
		{"512 MiB", 512},
		{"512mib", 512},
		{"512 mib", 512},
		{"512MB", 512},
		{"512 mb", 512},
		// GB (read as 1024 MiB, as ECS does) and GiB.
		{"1GB", 1024},
		{"1gb", 1024},
		{"2GB", 2048},
		{"2 GB", 2048},
		{"0.5 GB", 512},
		{"0.5GB", 512},
		{".25 gb", 256},
		{"1.5 GiB", 1536},
		{"30 gib", 30720},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if got, err := ParseMemory(tt.in); err != nil || got != tt.want {
				t.Errorf("ParseMemory(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
	refused := []struct{ in, why string }{
		{"lots", "not a memory value"},
		{"GB", "not a memory value"},
		{"2 TB", "not a memory value"},
		{"2048 KB", "not a memory value"},
		{"-512", "not a memory value"},
		{"1e3", "not a memory value"},
		{"1 vcpu", "not a memory value"},
		{"0.0001 GB", "not a whole number of MiB"},
		{"512.5", "not a whole number of MiB"},
		{"3000000 GB", "more than 2147483647 MiB"},
	}
	for _, tt := range refused {
		t.Run("refused "+tt.in, func(t *testing.T) {
			t.Parallel()
			if got, err := ParseMemory(tt.in); err == nil || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("ParseMemory(%q) = %d, %v; want an error saying %q", tt.in, got, err, tt.why)
			}
		})
	}
}

func FuzzParseCPU(f *testing.F) {
	for _, s := range []string{"", "256", "1 vCPU", "0.25 vcpu", "0.1 vcpu", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseCPU(s); err == nil && n < 0 {
			t.Errorf("ParseCPU(%q) = %d", s, n)
		}
	})
}

func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"", "512", "2 GB", "512 MiB", "0.0001 GB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseMemory(s); err == nil && n < 0 {
			t.Errorf("ParseMemory(%q) = %d", s, n)
		}
	})
}
