package record

import (
	"encoding/binary"
	"math"
)

// Section flags: bits of the first byte of a frame body. The sections follow
// in the order HELLO, ACK, PNACK, PING, PONG, CLOSE, DATA (not bit order).
const (
	FlagData  = 0x01
	FlagAck   = 0x02
	FlagPNAck = 0x04
	FlagPing  = 0x08
	FlagPong  = 0x10
	FlagHello = 0x20
	FlagClose = 0x40
	// FlagDetached marks a DATA section that holds only its offset and
	// length: its bytes are the whole plaintext of the next record on the
	// stream (no header byte, never compressed). A sender seals them
	// straight from its send log instead of copying them into a frame
	// first. Stream records only; set only together with FlagData.
	FlagDetached = 0x80
)

// Limits of the frame format.
const (
	// SessionIDLen is the length of Hello.SessionID.
	SessionIDLen = 16
	// MaxPNAckRanges is the largest PNACK range count: the number of ranges
	// after the first one. A PNACK therefore holds 1 to MaxPNAckRanges+1
	// ranges.
	MaxPNAckRanges = 64
	// MaxCloseReason is the longest CLOSE reason, in bytes.
	MaxCloseReason = 256
)

// Hello opens a session on a (new) transport.
type Hello struct {
	// SessionID names the session; it stays the same across transport
	// renewals.
	SessionID [SessionIDLen]byte
	// RecvOffset is the number of log bytes this side has received from the
	// peer in this session: the peer resends from there.
	RecvOffset uint64
	// MaxMessageBytes is the largest message this side accepts.
	MaxMessageBytes uint64
}

// Ack acknowledges and credits the peer's send log.
type Ack struct {
	// Offset is cumulative: every peer log byte below it was received.
	Offset uint64
	// Window lets the peer send log bytes up to Offset+Window.
	Window uint64
}

// PNRange is an inclusive range of packet numbers.
type PNRange struct {
	Smallest, Largest uint64
}

// PNAck acknowledges received datagram packet numbers, like a QUIC ACK
// frame. Ranges[:NumRanges] are the acknowledged ranges in descending order:
// Ranges[0].Largest is the largest packet number received, and each range
// lies below the previous one with at least one packet missing in between.
// Entries at or beyond NumRanges are unspecified.
type PNAck struct {
	// AckDelayMicros is how long the receiver held the ack after receiving
	// the largest packet, in microseconds (for RTT estimation).
	AckDelayMicros uint64
	// NumRanges is the number of valid entries of Ranges, 1 to
	// MaxPNAckRanges+1.
	NumRanges int
	// Ranges is fixed-size so that a Frame parses without allocating.
	Ranges [MaxPNAckRanges + 1]PNRange
}

// Acked returns Ranges[:NumRanges], clamped to the array. It does not
// allocate when a is addressable.
func (a *PNAck) Acked() []PNRange {
	n := min(max(a.NumRanges, 0), len(a.Ranges))
	return a.Ranges[:n]
}

// Largest returns the largest acknowledged packet number (0 if there are no
// ranges).
func (a *PNAck) Largest() uint64 {
	if a.NumRanges <= 0 {
		return 0
	}
	return a.Ranges[0].Largest
}

// Close ends the session.
type Close struct {
	Code uint64
	// Reason is at most MaxCloseReason bytes. After ParseFrame it aliases
	// the parsed body.
	Reason []byte
}

// Frame is the decoded body of one record. Each section is present iff its
// Has field is set; DATA is present iff len(Data) > 0 (an empty DATA section
// is invalid on the wire). A Frame is a plain value with no pointers besides
// the aliasing Data and Close.Reason, so one Frame can be reused for every
// record without allocating.
type Frame struct {
	HasHello bool
	Hello    Hello

	HasAck bool
	Ack    Ack

	HasPNAck bool
	PNAck    PNAck

	HasPing bool
	Ping    uint64

	HasPong bool
	Pong    uint64

	HasClose bool
	Close    Close

	// DataOffset is the send-log offset of Data[0] (or of the detached
	// bytes).
	DataOffset uint64
	// Data is a chunk of the send log. After ParseFrame it aliases the
	// parsed body.
	Data []byte
	// Detached, when above 0, is the length of a detached DATA chunk (see
	// FlagDetached): Data is empty and the next record carries the bytes.
	// At most MaxPlaintext.
	Detached int
}

// Per-section worst-case sizes, for MaxOverhead.
const (
	maxVarint     = binary.MaxVarintLen64
	maxHelloLen   = SessionIDLen + 2*maxVarint
	maxAckLen     = 2 * maxVarint
	maxPNAckLen   = 3*maxVarint + 1 + MaxPNAckRanges*2*maxVarint // count <= 64 is one byte
	maxCloseLen   = maxVarint + 2 + MaxCloseReason               // reasonLen <= 256 is two bytes
	maxSectionsLn = maxHelloLen + maxAckLen + maxPNAckLen + 2*maxVarint + maxCloseLen
)

// MaxOverhead is the largest number of plaintext bytes a record adds around
// its DATA bytes: the plaintext header byte, the flags byte, every other
// section at its largest, and the DATA offset. A record whose DATA chunk is
// at most limit-MaxOverhead bytes has a plaintext of at most limit bytes
// (compression never makes a plaintext larger; see AppendPlaintext).
// Frame.Overhead gives the exact figure for one frame.
const MaxOverhead = 1 + 1 + maxSectionsLn + maxVarint

// Overhead returns the number of plaintext bytes the record for f adds
// around len(f.Data) bytes of DATA, assuming DATA is present: the plaintext
// header byte, the flags byte, f's other sections, and the DATA offset. So
// the largest DATA chunk for a plaintext limit is limit-f.Overhead().
func (f *Frame) Overhead() int {
	n := 1 + 1 + uvarintLen(f.DataOffset)
	if f.Detached > 0 {
		n += uvarintLen(uint64(f.Detached))
	}
	if f.HasHello {
		n += SessionIDLen + uvarintLen(f.Hello.RecvOffset) + uvarintLen(f.Hello.MaxMessageBytes)
	}
	if f.HasAck {
		n += uvarintLen(f.Ack.Offset) + uvarintLen(f.Ack.Window)
	}
	if f.HasPNAck {
		n += pnackLen(&f.PNAck)
	}
	if f.HasPing {
		n += uvarintLen(f.Ping)
	}
	if f.HasPong {
		n += uvarintLen(f.Pong)
	}
	if f.HasClose {
		n += uvarintLen(f.Close.Code) + uvarintLen(uint64(len(f.Close.Reason))) + len(f.Close.Reason)
	}
	return n
}

// pnackLen is the encoded length of a valid PNAck.
func pnackLen(a *PNAck) int {
	rs := a.Acked()
	if len(rs) == 0 {
		return 0
	}
	n := uvarintLen(rs[0].Largest) + uvarintLen(a.AckDelayMicros) +
		uvarintLen(uint64(len(rs)-1)) + uvarintLen(rs[0].Largest-rs[0].Smallest)
	for i := 1; i < len(rs); i++ {
		n += uvarintLen(rs[i-1].Smallest-rs[i].Largest-2) + uvarintLen(rs[i].Largest-rs[i].Smallest)
	}
	return n
}

// Validate reports whether AppendFrame can encode f: PNAck ranges are 1 to
// MaxPNAckRanges+1, each non-empty, descending and separated by at least one
// packet; the Close reason is at most MaxCloseReason bytes; DataOffset plus
// len(Data) does not overflow. The error wraps ErrMalformed.
func (f *Frame) Validate() error {
	if f.HasPNAck {
		if err := f.PNAck.validate(); err != nil {
			return err
		}
	}
	if f.HasClose && len(f.Close.Reason) > MaxCloseReason {
		return malformed("CLOSE reason length %d exceeds %d", len(f.Close.Reason), MaxCloseReason)
	}
	if uint64(len(f.Data)) > math.MaxUint64-f.DataOffset {
		return malformed("DATA offset %d plus length %d overflows", f.DataOffset, len(f.Data))
	}
	if f.Detached != 0 {
		if f.Detached < 0 || f.Detached > MaxPlaintext || len(f.Data) > 0 {
			return malformed("detached DATA of %d bytes (with %d inline): want 1 to %d, none inline", f.Detached, len(f.Data), MaxPlaintext)
		}
		if uint64(f.Detached) > math.MaxUint64-f.DataOffset {
			return malformed("DATA offset %d plus length %d overflows", f.DataOffset, f.Detached)
		}
	}
	return nil
}

func (a *PNAck) validate() error {
	if a.NumRanges < 1 || a.NumRanges > MaxPNAckRanges+1 {
		return malformed("PNACK has %d ranges, want 1 to %d", a.NumRanges, MaxPNAckRanges+1)
	}
	for i, r := range a.Ranges[:a.NumRanges] {
		if r.Smallest > r.Largest {
			return malformed("PNACK range %d is [%d, %d]: smallest above largest", i, r.Smallest, r.Largest)
		}
		if i > 0 && (a.Ranges[i-1].Smallest < 2 || r.Largest > a.Ranges[i-1].Smallest-2) {
			return malformed("PNACK range %d (largest %d) is not below range %d (smallest %d) with a gap",
				i, r.Largest, i-1, a.Ranges[i-1].Smallest)
		}
	}
	return nil
}

// AppendFrame appends the body encoding of f (the flags byte, then each
// present section, DATA last) to dst and returns the extended slice. A
// detached DATA section (f.Detached > 0) is its offset and length; the
// caller seals the bytes as the next record.
//
// f must be valid (see Validate): an invalid frame is a bug in the caller,
// not bad input, and AppendFrame panics on it rather than put bytes on the
// wire that the peer would reject.
func AppendFrame(dst []byte, f *Frame) []byte {
	if err := f.Validate(); err != nil {
		panic("record: AppendFrame: invalid frame: " + err.Error())
	}
	dst = append(dst, f.flags())
	if f.HasHello {
		dst = append(dst, f.Hello.SessionID[:]...)
		dst = binary.AppendUvarint(dst, f.Hello.RecvOffset)
		dst = binary.AppendUvarint(dst, f.Hello.MaxMessageBytes)
	}
	if f.HasAck {
		dst = binary.AppendUvarint(dst, f.Ack.Offset)
		dst = binary.AppendUvarint(dst, f.Ack.Window)
	}
	if f.HasPNAck {
		dst = appendPNAck(dst, &f.PNAck)
	}
	if f.HasPing {
		dst = binary.AppendUvarint(dst, f.Ping)
	}
	if f.HasPong {
		dst = binary.AppendUvarint(dst, f.Pong)
	}
	if f.HasClose {
		dst = binary.AppendUvarint(dst, f.Close.Code)
		dst = binary.AppendUvarint(dst, uint64(len(f.Close.Reason)))
		dst = append(dst, f.Close.Reason...)
	}
	if f.Detached > 0 {
		dst = binary.AppendUvarint(dst, f.DataOffset)
		dst = binary.AppendUvarint(dst, uint64(f.Detached))
	} else if len(f.Data) > 0 {
		dst = binary.AppendUvarint(dst, f.DataOffset)
		dst = append(dst, f.Data...)
	}
	return dst
}

func (f *Frame) flags() byte {
	var fl byte
	if f.HasHello {
		fl |= FlagHello
	}
	if f.HasAck {
		fl |= FlagAck
	}
	if f.HasPNAck {
		fl |= FlagPNAck
	}
	if f.HasPing {
		fl |= FlagPing
	}
	if f.HasPong {
		fl |= FlagPong
	}
	if f.HasClose {
		fl |= FlagClose
	}
	if len(f.Data) > 0 {
		fl |= FlagData
	}
	if f.Detached > 0 {
		fl |= FlagData | FlagDetached
	}
	return fl
}

// appendPNAck encodes a validated PNAck the way QUIC encodes ACK ranges.
func appendPNAck(dst []byte, a *PNAck) []byte {
	rs := a.Ranges[:a.NumRanges]
	dst = binary.AppendUvarint(dst, rs[0].Largest)
	dst = binary.AppendUvarint(dst, a.AckDelayMicros)
	dst = binary.AppendUvarint(dst, uint64(len(rs)-1))
	dst = binary.AppendUvarint(dst, rs[0].Largest-rs[0].Smallest)
	for i := 1; i < len(rs); i++ {
		dst = binary.AppendUvarint(dst, rs[i-1].Smallest-rs[i].Largest-2)
		dst = binary.AppendUvarint(dst, rs[i].Largest-rs[i].Smallest)
	}
	return dst
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
