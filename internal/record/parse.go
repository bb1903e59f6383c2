package record

import (
	"encoding/binary"
	"math"
)

// ParseFrame decodes a frame body (the output of AppendFrame) into f,
// overwriting every field. f.Data and f.Close.Reason alias body; the caller
// must not modify body while it uses them. ParseFrame does not allocate
// except to build an error. The error wraps ErrMalformed and says what was
// wrong.
func ParseFrame(body []byte, f *Frame) error {
	f.reset()
	if len(body) == 0 {
		return malformed("empty frame body")
	}
	fl := body[0]
	if fl&FlagDetached != 0 && fl&FlagData == 0 {
		return malformed("detached flag 0x%02x without DATA in flags 0x%02x", FlagDetached, fl)
	}
	r := reader{b: body[1:]}
	if fl&FlagHello != 0 {
		f.HasHello = true
		r.sessionID(&f.Hello.SessionID)
		f.Hello.RecvOffset = r.uvarint("HELLO recv offset")
		f.Hello.MaxMessageBytes = r.uvarint("HELLO max message bytes")
	}
	if fl&FlagAck != 0 {
		f.HasAck = true
		f.Ack.Offset = r.uvarint("ACK offset")
		f.Ack.Window = r.uvarint("ACK window")
	}
	if fl&FlagPNAck != 0 {
		f.HasPNAck = true
		r.pnack(&f.PNAck)
	}
	if fl&FlagPing != 0 {
		f.HasPing = true
		f.Ping = r.uvarint("PING id")
	}
	if fl&FlagPong != 0 {
		f.HasPong = true
		f.Pong = r.uvarint("PONG id")
	}
	if fl&FlagClose != 0 {
		f.HasClose = true
		r.close(&f.Close)
	}
	if fl&FlagDetached != 0 {
		r.detached(f)
	} else if fl&FlagData != 0 {
		r.data(f)
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = malformed("%d trailing bytes after the last section (flags 0x%02x)", len(r.b), fl)
	}
	if r.err != nil {
		f.reset()
	}
	return r.err
}

// reset zeroes f except the PNAck ranges beyond NumRanges, which are
// unspecified: clearing 1 KiB per record is wasted work.
func (f *Frame) reset() {
	f.HasHello, f.Hello = false, Hello{}
	f.HasAck, f.Ack = false, Ack{}
	f.HasPNAck, f.PNAck.AckDelayMicros, f.PNAck.NumRanges = false, 0, 0
	f.HasPing, f.Ping = false, 0
	f.HasPong, f.Pong = false, 0
	f.HasClose, f.Close = false, Close{}
	f.DataOffset, f.Data, f.Detached = 0, nil, 0
}

// reader consumes a body. After the first error every read returns zero and
// the error sticks, so ParseFrame reads straight through and checks once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	switch {
	case n == 0:
		r.err = malformed("%s truncated", what)
		return 0
	case n < 0:
		r.err = malformed("%s: varint overflows 64 bits", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) sessionID(id *[SessionIDLen]byte) {
	if len(r.b) < SessionIDLen {
		r.err = malformed("HELLO session id truncated: %d of %d bytes", len(r.b), SessionIDLen)
		return
	}
	copy(id[:], r.b)
	r.b = r.b[SessionIDLen:]
}

// pnack decodes QUIC-style ACK ranges: largest, delay, range count, first
// range length, then (gap, length) pairs going down.
func (r *reader) pnack(a *PNAck) {
	largest := r.uvarint("PNACK largest")
	a.AckDelayMicros = r.uvarint("PNACK ack delay")
	count := r.uvarint("PNACK range count")
	first := r.uvarint("PNACK first range length")
	if r.err != nil {
		return
	}
	if count > MaxPNAckRanges {
		r.err = malformed("PNACK range count %d exceeds %d", count, MaxPNAckRanges)
		return
	}
	if first > largest {
		r.err = malformed("PNACK first range length %d exceeds largest %d", first, largest)
		return
	}
	a.Ranges[0] = PNRange{Smallest: largest - first, Largest: largest}
	a.NumRanges = 1
	for i := 1; i <= int(count); i++ {
		gap := r.uvarint("PNACK gap")
		length := r.uvarint("PNACK range length")
		if r.err != nil {
			return
		}
		prev := a.Ranges[i-1].Smallest
		if prev < 2 || gap > prev-2 {
			r.err = malformed("PNACK gap %d below packet %d underflows", gap, prev)
			return
		}
		hi := prev - gap - 2
		if length > hi {
			r.err = malformed("PNACK range length %d exceeds its largest %d", length, hi)
			return
		}
		a.Ranges[i] = PNRange{Smallest: hi - length, Largest: hi}
		a.NumRanges = i + 1
	}
}

func (r *reader) close(c *Close) {
	c.Code = r.uvarint("CLOSE code")
	n := r.uvarint("CLOSE reason length")
	if r.err != nil {
		return
	}
	if n > MaxCloseReason {
		r.err = malformed("CLOSE reason length %d exceeds %d", n, MaxCloseReason)
		return
	}
	if uint64(len(r.b)) < n {
		r.err = malformed("CLOSE reason truncated: %d of %d bytes", len(r.b), n)
		return
	}
	c.Reason = r.b[:n:n]
	r.b = r.b[n:]
}

// data takes the rest of the body as DATA.
func (r *reader) data(f *Frame) {
	off := r.uvarint("DATA offset")
	if r.err != nil {
		return
	}
	if len(r.b) == 0 {
		r.err = malformed("empty DATA section")
		return
	}
	if uint64(len(r.b)) > math.MaxUint64-off {
		r.err = malformed("DATA offset %d plus length %d overflows", off, len(r.b))
		return
	}
	f.DataOffset, f.Data = off, r.b[:len(r.b):len(r.b)]
	r.b = nil
}

// detached reads a detached DATA section: offset and length, the bytes
// following as the next record.
func (r *reader) detached(f *Frame) {
	off := r.uvarint("DATA offset")
	n := r.uvarint("detached DATA length")
	if r.err != nil {
		return
	}
	if n == 0 || n > MaxPlaintext {
		r.err = malformed("detached DATA length %d: want 1 to %d", n, MaxPlaintext)
		return
	}
	if n > math.MaxUint64-off {
		r.err = malformed("DATA offset %d plus length %d overflows", off, n)
		return
	}
	f.DataOffset, f.Detached = off, int(n)
}
