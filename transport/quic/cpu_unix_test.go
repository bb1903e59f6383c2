//go:build unix

package quic_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time this process has used, user and system: on
// a machine shared with other work, CPU per message varies less than
// wall-clock rates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
