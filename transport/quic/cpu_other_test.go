//go:build !unix

package quic_test

import "time"

// cpuTime is not measured here: BenchmarkCell then reports 0 CPU.
func cpuTime() time.Duration { return 0 }
