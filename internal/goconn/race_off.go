//go:build !race

package goconn

// ioRelease and ioAcquire are no-ops without the race detector; see
// race_on.go.
func ioRelease() {}
func ioAcquire() {}
