//go:build race

package udp

import (
	"runtime"
	"unsafe"
)

// ioSync tells the race detector what the kernel orders: what a goroutine
// did before it sent a datagram happens before what the receiver does
// once it has read it, as the standard library and x/sys/unix declare
// for read(2) and write(2). The transport's own system calls (sendmmsg,
// recvmmsg) need saying so too.
var ioSync int64

func raceReleaseIO() { runtime.RaceReleaseMerge(unsafe.Pointer(&ioSync)) }
func raceAcquireIO() { runtime.RaceAcquire(unsafe.Pointer(&ioSync)) }
