//go:build !race

package quic

// ioRelease and ioAcquire are no-ops without the race detector; see
// race_on.go.
func ioRelease() {}
func ioAcquire() {}
