//go:build race

package goconn

import "sync/atomic"

// ioSync tells the race detector what the network does: bytes a writer
// hands to a stream happen before the peer's reader gets them. Go's own
// read and write system calls carry this edge (syscall.ioSync), but a
// stream over something else does not: quic-go sends with sendmsg and
// receives with recvmmsg, which do not. Without it the detector sees no
// order between a Write and the peer's OnData of those bytes (in the same
// process), and reports races on data the two sides share legitimately.
var ioSync atomic.Uint64

// ioRelease runs before bytes are handed to a stream.
func ioRelease() { ioSync.Add(1) }

// ioAcquire runs after a reader got bytes from a stream.
func ioAcquire() { ioSync.Load() }
