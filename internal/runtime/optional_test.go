package runtime

import "testing"

func TestParseStats(t *testing.T) {
	t.Parallel()
	raw := `{"read":"2026-01-02T03:04:05Z",
	 "cpu_stats":{"cpu_usage":{"total_usage":500,"percpu_usage":[250,250]},"system_cpu_usage":10000},
	 "memory_stats":{"usage":1000,"limit":4000,"stats":{"inactive_file":300}},
	 "networks":{"eth0":{"rx_bytes":10,"tx_bytes":20},"eth1":{"rx_bytes":1,"tx_bytes":2}},
	 "blkio_stats":{"io_service_bytes_recursive":[{"op":"read","value":7},{"op":"write","value":9},{"op":"Read","value":1}]},
	 "pids_stats":{"current":3}}`
	s, err := ParseStats([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Read: s.Read, CPUTotalNanos: 500, SystemCPUNanos: 10000, OnlineCPUs: 2, MemoryUsageBytes: 700,
		MemoryLimitBytes: 4000, NetworkRxBytes: 11, NetworkTxBytes: 22, BlockReadBytes: 8, BlockWriteBytes: 9, PIDs: 3}
	if s != want || s.Read.Year() != 2026 {
		t.Errorf("stats %+v, want %+v", s, want)
	}
	if _, err := ParseStats([]byte("nope")); err == nil {
		t.Error("parsed garbage")
	}
}
