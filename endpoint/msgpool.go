package endpoint

import (
	"math/bits"
	"sync"

	"github.com/weftnet/weft/internal/record"
)

// Messages that Recv returns come from pools by power-of-two size class,
// so a receiver that hands them back with Release allocates nothing per
// message (at bulk rates that allocation drives the garbage collector,
// whose pauses then show in every endpoint's latency).
const (
	minMsgClass = 6  // 64-byte buffers at least
	maxMsgClass = 18 // 256 KiB: larger ones come from record.GetBuf
)

var msgPools [maxMsgClass + 1]sync.Pool

// bigMsg: messages above it share the record layer's pools with the
// reassembler (record.GetBuf), which hands such messages over to Recv
// without a copy (record.Reassembler.Keep).
const bigMsg = 256 << 10

// getMsg returns a buffer holding a copy of msg.
func getMsg(msg []byte) []byte {
	n := len(msg)
	if n == 0 {
		return nil
	}
	if n > bigMsg {
		return append(record.GetBuf(n), msg...)
	}
	c := max(bits.Len(uint(n-1)), minMsgClass)
	var b []byte
	if v := msgPools[c].Get(); v != nil {
		b = (*v.(*[]byte))[:n]
	} else {
		b = make([]byte, n, 1<<c)
	}
	copy(b, msg)
	return b
}

// putMsg takes back a buffer getMsg made; others are left to the garbage
// collector.
func putMsg(b []byte) {
	if cap(b) > bigMsg {
		record.PutBuf(b)
		return
	}
	c := bits.Len(uint(cap(b) - 1))
	if cap(b) == 0 || cap(b) != 1<<c || c < minMsgClass || c > maxMsgClass {
		return
	}
	b = b[:0]
	msgPools[c].Put(&b)
}

// Release hands back a message Recv returned, for reuse by later Recvs.
// It is optional (an unreleased message is garbage collected), and after
// it the caller must not touch msg again.
func (ep *Endpoint) Release(msg []byte) { putMsg(msg) }
