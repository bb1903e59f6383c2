package endpoint

import (
	"encoding/binary"
	"sync"
)

// chunkSize is the size of the send log's blocks. Blocks never move, so the
// worker can read committed bytes while producers append.
const chunkSize = 64 << 10

var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// sendLog is the byte stream of framed messages (uvarint length, bytes) an
// endpoint has accepted and the peer has not yet acknowledged. Offsets are
// absolute positions in the session's stream. Producers append under mu;
// the worker reads committed ranges.
//
//	base ≤ acked ≤ sent ≤ end
//
// base is the first message boundary not yet released; [base, end) is held
// in chunks, chunk 0 starting at chunkBase.
type sendLog struct {
	mu        sync.Mutex
	chunks    []*[chunkSize]byte
	chunkBase uint64 // offset of chunks[0][0]
	base      uint64 // first retained message boundary
	end       uint64 // next byte to append
	msgs      uint64 // messages appended
	released  uint64 // messages released (acknowledged)
}

// used returns the bytes the log holds: queued plus unacknowledged.
func (l *sendLog) used() uint64 { return l.end - l.base }

// appendMsg appends uvarint(len(msg)) || msg. Call with mu held.
func (l *sendLog) appendMsg(msg []byte) {
	l.msgs++
	off := int((l.end - l.chunkBase) % chunkSize)
	if idx := int((l.end - l.chunkBase) / chunkSize); idx < len(l.chunks) && off+binary.MaxVarintLen64+len(msg) <= chunkSize {
		// Fast path: the whole frame fits in the current block.
		c := l.chunks[idx][off:]
		n := binary.PutUvarint(c, uint64(len(msg)))
		n += copy(c[n:], msg)
		l.end += uint64(n)
		return
	}
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(msg)))
	l.write(hdr[:n])
	l.write(msg)
}

func (l *sendLog) write(b []byte) {
	for len(b) > 0 {
		idx := int((l.end - l.chunkBase) / chunkSize)
		off := int((l.end - l.chunkBase) % chunkSize)
		if idx == len(l.chunks) {
			l.chunks = append(l.chunks, chunkPool.Get().(*[chunkSize]byte))
		}
		n := copy(l.chunks[idx][off:], b)
		b = b[n:]
		l.end += uint64(n)
	}
}

// slice returns the bytes at [from, to) that lie in one chunk, starting at
// from (so possibly fewer than asked). The bytes are committed: producers
// never write below end. Call with mu held or from the worker for offsets
// below an end it read under mu.
func (l *sendLog) slice(from, to uint64) []byte {
	idx := int((from - l.chunkBase) / chunkSize)
	off := (from - l.chunkBase) % chunkSize
	n := min(to-from, chunkSize-off)
	return l.chunks[idx][off : off+n]
}

// byteAt returns the byte at offset off.
func (l *sendLog) byteAt(off uint64) byte {
	return l.chunks[(off-l.chunkBase)/chunkSize][(off-l.chunkBase)%chunkSize]
}

// msgLen reads the frame header at message boundary off and returns the
// whole frame's length, or false if the header is not complete before end.
func (l *sendLog) msgLen(off uint64) (uint64, bool) {
	if rel := off - l.chunkBase; rel%chunkSize <= chunkSize-binary.MaxVarintLen64 && off+binary.MaxVarintLen64 <= l.end {
		// Fast path: the header lies in one block.
		c := l.chunks[rel/chunkSize][rel%chunkSize:]
		v, n := binary.Uvarint(c)
		if n <= 0 {
			return 0, false
		}
		return uint64(n) + v, true
	}
	var v uint64
	for i := uint64(0); i < binary.MaxVarintLen64; i++ {
		if off+i >= l.end {
			return 0, false
		}
		b := l.byteAt(off + i)
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return i + 1 + v, true
		}
	}
	return 0, false
}

// release frees every whole message below acked and returns how many
// messages it released. Call with mu held.
func (l *sendLog) release(acked uint64) uint64 {
	n := uint64(0)
	for l.base < acked {
		m, ok := l.msgLen(l.base)
		if !ok || l.base+m > acked {
			break
		}
		l.base += m
		n++
	}
	l.released += n
	for len(l.chunks) > 0 && l.base-l.chunkBase >= chunkSize {
		chunkPool.Put(l.chunks[0])
		l.chunks[0] = nil
		l.chunks = l.chunks[1:]
		l.chunkBase += chunkSize
	}
	return n
}

// pending returns the number of messages not yet released.
func (l *sendLog) pending() uint64 { return l.msgs - l.released }

// free returns every chunk to the pool. Call with mu held, once.
func (l *sendLog) free() {
	for i, c := range l.chunks {
		chunkPool.Put(c)
		l.chunks[i] = nil
	}
	l.chunks = nil
	l.chunkBase = l.end
	l.base = l.end
}
