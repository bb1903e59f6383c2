package record

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
)

// MaxMessageBytesLimit is the largest MaxMessageBytes a Reassembler accepts.
const MaxMessageBytesLimit = 64 << 20

// retainBufBytes is the largest partial-message buffer a Reassembler keeps
// for reuse after delivering from it; a larger one is dropped so that one
// big message does not pin its memory for the life of the endpoint.
const retainBufBytes = 256 << 10

// AppendMessage appends msg to a send log: uvarint(len(msg)) || msg.
func AppendMessage(dst, msg []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(msg)))
	return append(dst, msg...)
}

// MessageOverhead returns the log bytes AppendMessage adds to a message of n
// bytes: the length of uvarint(n).
func MessageOverhead(n int) int { return uvarintLen(uint64(n)) }

// Reassembler parses messages out of the receive log: uvarint(length) ||
// bytes, repeated. It is fed log bytes in order, in chunks of any size, and
// delivers each message once, in order. Not safe for concurrent use.
//
// A message that lies inside one chunk is delivered as a sub-slice of it
// (zero-copy). A message spanning chunks is copied into a buffer sized
// exactly to the message, allocated once its length is known and after that
// length has been checked against the limit. So the Reassembler never holds
// more than MaxMessageBytes plus a 10-byte length prefix.
type Reassembler struct {
	maxBytes uint64

	// Length prefix of the current message, possibly split across chunks.
	varint uint64
	shift  uint
	nvar   int  // prefix bytes seen
	inBody bool // prefix complete; need is the body length
	need   uint64

	buf []byte // body bytes of a message that spans chunks
	// inBuf: deliver is running on a message in buf; kept: it called Keep.
	inBuf, kept bool

	delivered uint64
	messages  uint64
	err       error
}

// NewReassembler returns a Reassembler that rejects messages longer than
// maxMessageBytes, which must be 1 to MaxMessageBytesLimit.
func NewReassembler(maxMessageBytes int) (*Reassembler, error) {
	if maxMessageBytes < 1 || maxMessageBytes > MaxMessageBytesLimit {
		return nil, fmt.Errorf("record: MaxMessageBytes %d is outside 1 to %d (64 MiB)", maxMessageBytes, MaxMessageBytesLimit)
	}
	return &Reassembler{maxBytes: uint64(maxMessageBytes)}, nil
}

// Feed consumes the next log bytes b and calls deliver once per completed
// message, in order. msg is valid only until deliver returns (it aliases b
// or the Reassembler's buffer); deliver must copy what it keeps. Zero-length
// messages are delivered too.
//
// A length above MaxMessageBytes is rejected as soon as its prefix is
// complete, before anything is allocated (the error wraps ErrTooLarge); a
// prefix longer than 10 bytes or overflowing 64 bits wraps ErrMalformed.
// After any error, including one returned by deliver, the Reassembler is
// dead and Feed returns that error forever.
func (r *Reassembler) Feed(b []byte, deliver func(msg []byte) error) error {
	if r.err != nil {
		return r.err
	}
	for len(b) > 0 || r.inBody && r.need == uint64(len(r.buf)) {
		var err error
		if !r.inBody && r.nvar == 0 {
			if b, err = r.whole(b, deliver); err != nil {
				r.err = err
				return err
			}
			if len(b) == 0 {
				break
			}
		}
		if !r.inBody {
			b, err = r.prefix(b)
		} else {
			b, err = r.body(b, deliver)
		}
		if err != nil {
			r.err = err
			r.buf = nil
			return err
		}
	}
	return nil
}

// whole delivers the messages that lie entirely in b, between message
// boundaries: the common case, in one tight loop. It returns the rest of b,
// which starts with an incomplete message.
func (r *Reassembler) whole(b []byte, deliver func([]byte) error) ([]byte, error) {
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > uint64(len(b)-n) {
			return b, nil // incomplete or bad prefix: the slow path decides
		}
		if v > r.maxBytes {
			return nil, tooLarge("message of %d bytes exceeds MaxMessageBytes %d", v, r.maxBytes)
		}
		end := n + int(v)
		msg := b[n:end:end]
		b = b[end:]
		r.delivered += uint64(end)
		r.messages++
		if err := deliver(msg); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// prefix consumes length-prefix bytes of the next message.
func (r *Reassembler) prefix(b []byte) ([]byte, error) {
	if r.nvar == 0 {
		// Fast path: the whole prefix is in b.
		v, n := binary.Uvarint(b)
		if n > 0 {
			r.nvar = n
			return b[n:], r.setLength(v)
		}
		if n < 0 {
			return nil, malformed("message length prefix overflows 64 bits or exceeds %d bytes", binary.MaxVarintLen64)
		}
	}
	for i, c := range b {
		if r.nvar == binary.MaxVarintLen64-1 && c > 1 {
			return nil, malformed("message length prefix overflows 64 bits or exceeds %d bytes", binary.MaxVarintLen64)
		}
		r.varint |= uint64(c&0x7f) << r.shift
		r.shift += 7
		r.nvar++
		if c < 0x80 {
			v := r.varint
			r.varint, r.shift = 0, 0
			return b[i+1:], r.setLength(v)
		}
	}
	return nil, nil
}

// setLength starts the body of a message of n bytes.
func (r *Reassembler) setLength(n uint64) error {
	if n > r.maxBytes {
		return tooLarge("message of %d bytes exceeds MaxMessageBytes %d", n, r.maxBytes)
	}
	r.inBody, r.need = true, n
	return nil
}

// body consumes body bytes of the current message and delivers it when
// complete.
func (r *Reassembler) body(b []byte, deliver func([]byte) error) ([]byte, error) {
	if len(r.buf) == 0 && r.need <= uint64(len(b)) {
		// Fast path: the whole body is in b.
		msg := b[:r.need:r.need]
		return b[r.need:], r.complete(msg, deliver)
	}
	if r.buf == nil || cap(r.buf) < int(r.need) {
		r.buf = GetBuf(int(r.need))
	}
	k := min(r.need-uint64(len(r.buf)), uint64(len(b)))
	if r.inRoom(b) {
		r.buf = r.buf[:len(r.buf)+int(k)] // written in place (Room)
	} else {
		r.buf = append(r.buf, b[:k]...)
	}
	b = b[k:]
	if uint64(len(r.buf)) < r.need {
		return b, nil
	}
	r.inBuf = true
	err := r.complete(r.buf, deliver)
	r.inBuf = false
	switch {
	case r.kept:
		r.kept, r.buf = false, nil // deliver owns it now
	case cap(r.buf) > retainBufBytes:
		PutBuf(r.buf) // large buffers go back to a shared pool, not kept here
		r.buf = nil
	default:
		r.buf = r.buf[:0]
	}
	return b, err
}

// Room returns where the next n log bytes go when all of them belong to
// the body of a message being assembled in the Reassembler's own buffer
// (one that spans chunks): an empty slice with room for n bytes. A caller
// that writes the bytes there and feeds that very slice saves their copy.
// Otherwise Room returns nil and the bytes are fed as usual.
func (r *Reassembler) Room(n int) []byte {
	if r.err != nil || !r.inBody || n <= 0 || uint64(len(r.buf))+uint64(n) > r.need || uint64(cap(r.buf)) < r.need {
		return nil
	}
	return r.buf[len(r.buf) : len(r.buf) : len(r.buf)+n]
}

// inRoom reports whether b starts where Room pointed: bytes already in
// place.
func (r *Reassembler) inRoom(b []byte) bool {
	return len(b) > 0 && cap(r.buf) > len(r.buf) && &b[0] == &r.buf[:len(r.buf)+1][len(r.buf)]
}

// Keep, called from deliver, hands the message being delivered over to
// the caller when it lies in a large buffer of the Reassembler's own (a
// message above 256 KiB that spanned chunks): it returns true, and the
// message stays valid after deliver returns, for the caller to keep (and
// give back with PutBuf when done, optionally). Otherwise it returns false
// and the message is valid only during deliver, as always.
func (r *Reassembler) Keep() bool {
	if !r.inBuf || cap(r.buf) <= retainBufBytes {
		return false
	}
	r.kept = true
	return true
}

// Buffers for messages larger than retainBufBytes come from pools by
// power-of-two size class, so a stream of large messages neither
// allocates nor zeroes a buffer per message, and an idle endpoint holds
// none.
var bigBufs [27]sync.Pool // class c holds buffers of capacity 1<<c

// GetBuf returns an empty buffer with room for n bytes: above 256 KiB from
// the pool of large message buffers, below it a new one.
func GetBuf(n int) []byte {
	if n <= retainBufBytes {
		return make([]byte, 0, n)
	}
	c := bits.Len(uint(n - 1))
	if v := bigBufs[c].Get(); v != nil {
		return (*v.(*[]byte))[:0]
	}
	return make([]byte, 0, 1<<c)
}

// PutBuf gives back a buffer GetBuf returned (or Keep handed over) for
// reuse. Others, and small ones, are left to the garbage collector.
func PutBuf(b []byte) {
	c := bits.Len(uint(cap(b) - 1))
	if cap(b) <= retainBufBytes || cap(b) != 1<<c || c >= len(bigBufs) {
		return // not from GetBuf's pools
	}
	b = b[:0]
	bigBufs[c].Put(&b)
}

// complete counts the current message as delivered and hands it to deliver.
func (r *Reassembler) complete(msg []byte, deliver func([]byte) error) error {
	r.delivered += uint64(r.nvar) + r.need
	r.messages++
	r.nvar, r.inBody, r.need = 0, false, 0
	return deliver(msg)
}

// Delivered returns the number of log bytes consumed as complete messages
// (prefixes included): the offset up to which the endpoint may acknowledge
// and credit. It counts a message before deliver is called for it.
func (r *Reassembler) Delivered() uint64 { return r.delivered }

// Messages returns the number of messages delivered.
func (r *Reassembler) Messages() uint64 { return r.messages }

// Pending returns the number of log bytes fed but not yet part of a
// delivered message: the partial length prefix and the body bytes buffered
// so far, at most MaxMessageBytes+9. Delivered()+Pending() is the number of
// log bytes fed.
func (r *Reassembler) Pending() int {
	if r.inBody {
		return r.nvar + len(r.buf)
	}
	return r.nvar
}

// MaxMessageBytes returns the configured limit.
func (r *Reassembler) MaxMessageBytes() int { return int(r.maxBytes) }
