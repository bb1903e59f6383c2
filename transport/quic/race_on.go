//go:build race

package quic

import "sync/atomic"

// ioSync tells the race detector what the network does: bytes a writer
// hands to quic-go happen before the peer's reader gets them. Go's own
// read and write system calls carry this edge (syscall.ioSync), but
// quic-go sends with sendmsg and receives with recvmmsg, which do not.
// Without it the detector sees no order between a Write and the peer's
// OnData of those bytes (in the same process), and reports races on data
// the two sides share legitimately.
var ioSync atomic.Uint64

// ioRelease runs before the writer hands bytes to quic-go.
func ioRelease() { ioSync.Add(1) }

// ioAcquire runs after the reader got bytes from quic-go.
func ioAcquire() { ioSync.Load() }
