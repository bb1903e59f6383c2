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
// [base, end) is held in chunks, chunk 0 starting at chunkBase. base is a
// message boundary: the first message start in its chunk. Releasing
// acknowledged messages moves base from chunk to chunk using the message
// starts counted per chunk at append time, so it costs a few operations per
// chunk, not a parse of every message header; the acknowledged bytes left
// in base's chunk (less than a chunk) stay until the next one is passed.
type sendLog struct {
	mu        sync.Mutex
	chunks    []*[chunkSize]byte
	meta      []chunkMeta // beside chunks
	chunkBase uint64      // offset of chunks[0][0]
	base      uint64      // first retained message boundary
	acked     uint64      // highest offset the peer acknowledged
	end       uint64      // next byte to append
	msgs      uint64      // messages appended
	released  uint64      // messages released (acknowledged)
	// skip is the number of message starts in base's chunk below base
	// (released already): non-zero only after everything was released.
	skip uint64
}

// chunkMeta counts the messages that start in a chunk.
type chunkMeta struct {
	first  uint64 // offset of the first message start; valid if starts > 0
	starts uint64
}

// used returns the bytes the log holds for the peer: queued plus
// unacknowledged.
func (l *sendLog) used() uint64 { return l.end - max(l.base, l.acked) }

// appendMsg appends uvarint(len(msg)) || msg. Call with mu held.
func (l *sendLog) appendMsg(msg []byte) {
	l.msgs++
	off := int((l.end - l.chunkBase) % chunkSize)
	if idx := int((l.end - l.chunkBase) / chunkSize); idx < len(l.chunks) && off+binary.MaxVarintLen64+len(msg) <= chunkSize {
		// Fast path: the whole frame fits in the current block.
		if m := &l.meta[idx]; m.starts == 0 {
			m.first = l.end
			m.starts = 1
		} else {
			m.starts++
		}
		c := l.chunks[idx][off:]
		n := binary.PutUvarint(c, uint64(len(msg)))
		n += copy(c[n:], msg)
		l.end += uint64(n)
		return
	}
	var hdr [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(hdr[:], uint64(len(msg)))
	l.grow()
	if m := &l.meta[(l.end-l.chunkBase)/chunkSize]; m.starts == 0 {
		m.first = l.end
		m.starts = 1
	} else {
		m.starts++
	}
	l.write(hdr[:n])
	l.write(msg)
}

// grow adds a chunk if end is at the end of the last one.
func (l *sendLog) grow() {
	if int((l.end-l.chunkBase)/chunkSize) == len(l.chunks) {
		l.chunks = append(l.chunks, chunkPool.Get().(*[chunkSize]byte))
		l.meta = append(l.meta, chunkMeta{})
	}
}

func (l *sendLog) write(b []byte) {
	for len(b) > 0 {
		l.grow()
		idx := int((l.end - l.chunkBase) / chunkSize)
		off := int((l.end - l.chunkBase) % chunkSize)
		n := copy(l.chunks[idx][off:], b)
		b = b[n:]
		l.end += uint64(n)
	}
}

// slice returns the bytes at [from, to) that lie in one chunk, starting at
// from (so possibly fewer than asked), for to at most end. Call with mu held
// (producers may grow the chunk list); the bytes may be read after mu is
// released: they are committed, producers never write below end, and only
// release, on the worker, frees their chunk.
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

// release records that the peer acknowledged everything below acked, moves
// base to the last chunk-first message start at or below it, frees the
// chunks below base and returns how many messages it released. Call with mu
// held.
func (l *sendLog) release(acked uint64) uint64 {
	l.acked = max(l.acked, acked)
	if l.acked >= l.end {
		// Everything is acknowledged: drop it all.
		n := l.msgs - l.released
		l.released = l.msgs
		l.base = l.end
		l.dropChunks()
		l.skip = 0
		if k := int((l.base - l.chunkBase) / chunkSize); k < len(l.chunks) {
			l.skip = l.meta[k].starts
		}
		return n
	}
	var n, run uint64 // released; starts from base up to the chunk examined
	k0 := int((l.base - l.chunkBase) / chunkSize)
	for k := k0; k < len(l.chunks); k++ {
		m := l.meta[k]
		if k == k0 {
			run = m.starts - l.skip
			continue
		}
		if m.starts == 0 {
			continue
		}
		if m.first > l.acked {
			break
		}
		n += run
		run = m.starts
		l.base = m.first
		l.skip = 0
	}
	l.released += n
	l.dropChunks()
	return n
}

// dropChunks returns the chunks wholly below base to the pool.
func (l *sendLog) dropChunks() {
	for len(l.chunks) > 0 && l.base-l.chunkBase >= chunkSize {
		chunkPool.Put(l.chunks[0])
		l.chunks[0] = nil
		l.chunks = l.chunks[1:]
		l.meta = l.meta[1:]
		l.chunkBase += chunkSize
	}
}

// ackedHeld returns the number of acknowledged messages not yet released
// (those between base and acked): it parses their headers, at most a
// chunk's worth. Call with mu held.
func (l *sendLog) ackedHeld() uint64 {
	n := uint64(0)
	for off := l.base; off < l.acked; {
		m, ok := l.msgLen(off)
		if !ok || off+m > l.acked {
			break
		}
		off += m
		n++
	}
	return n
}

// acknowledged returns the number of messages the peer acknowledged. Call
// with mu held.
func (l *sendLog) acknowledged() uint64 { return l.released + l.ackedHeld() }

// pending returns the number of messages the peer has not acknowledged.
// Call with mu held.
func (l *sendLog) pending() uint64 { return l.msgs - l.acknowledged() }

// free returns every chunk to the pool. Call with mu held, once.
func (l *sendLog) free() {
	l.released = l.acknowledged()
	for i, c := range l.chunks {
		chunkPool.Put(c)
		l.chunks[i] = nil
	}
	l.chunks, l.meta = nil, nil
	l.chunkBase = l.end
	l.base = l.end
}
