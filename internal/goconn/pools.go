package goconn

import "sync"

// Pools. Buffers go back to pools as soon as they are done with, so an
// idle connection keeps none but its reader's, and a busy one reuses what
// it, or another connection, just released.

// Read buffer sizes, powers of two: a reader starts small (idle
// connections are cheap) and doubles its buffer whenever a read fills it.
const (
	minReadBuf = 2 << 10
	maxReadBuf = 64 << 10
)

// readBufs recycle read buffers across connections, one pool per size
// from minReadBuf to maxReadBuf: a busy connection reads into buffers its
// worker just handed back, an idle one keeps only its reader's.
var readBufs [readClasses]sync.Pool

const readClasses = 6 // minReadBuf << 5 == maxReadBuf

// readClass returns the pool index of a buffer of capacity n, or -1 if n
// is not one of the sizes.
func readClass(n int) int {
	for i := range readClasses {
		if n == minReadBuf<<i {
			return i
		}
	}
	return -1
}

// getReadBuf returns an empty buffer of capacity size (a pool size).
func getReadBuf(size int) []byte {
	if p, ok := readBufs[readClass(size)].Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, size)
}

// putReadBuf returns b to its pool, if it is of a pool's size.
func putReadBuf(b []byte) {
	if i := readClass(cap(b)); i >= 0 {
		b = b[:0]
		readBufs[i].Put(&b)
	}
}

// joinPools hold joining buffers, one pool per size (a transport's
// RecvBufferBytes plus maxReadBuf).
var joinPools sync.Map // int → *sync.Pool

// chunkPools hold outbox chunks, one pool per chunk size (a transport
// uses one size).
var chunkPools sync.Map // int → *sync.Pool

// bytePool returns the pool in pools of byte slices of capacity size,
// made on first use.
func bytePool(pools *sync.Map, size int) *sync.Pool {
	if p, ok := pools.Load(size); ok {
		return p.(*sync.Pool)
	}
	p, _ := pools.LoadOrStore(size, &sync.Pool{New: func() any {
		b := make([]byte, 0, size)
		return &b
	}})
	return p.(*sync.Pool)
}
