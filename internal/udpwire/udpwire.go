// Package udpwire is the header of weft's UDP transport (transport/udp):
// one byte in front of every datagram, and the padded INITIAL and the
// small control datagrams that validate a dialer's address and reset an
// association the listener no longer has.
//
// Every datagram starts with a header byte whose high nibble is 0x5 and
// whose low nibble is the type:
//
//	DATA      0x50 | payload...                      either direction
//	INITIAL   0x51 | length(2, big endian) | payload | zero padding
//	          dialer to listener until the dialer has heard from it; the
//	          whole datagram is at least MinInitialBytes long
//	CHALLENGE 0x52 | token(8)   listener to dialer: echo this token
//	RESPONSE  0x53 | token(8)   dialer to listener: the echo
//	RESET     0x54 | token(8)   listener to dialer: no association here
//
// Parse accepts exactly these encodings: any other high nibble or type,
// a short or over-long control datagram, an INITIAL whose length runs past
// its end, whose padding is not zero, which is shorter than
// MinInitialBytes or padded beyond it (longer than InitialSize of its
// payload) fails with ErrMalformed. Each valid datagram has one encoding:
// Append of what Parse returned gives the same bytes.
package udpwire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed reports a datagram that does not follow the format.
var ErrMalformed = errors.New("udpwire: malformed datagram")

// Type is a datagram's type, the low nibble of its header byte.
type Type uint8

// The datagram types.
const (
	Data Type = iota
	Initial
	Challenge
	Response
	Reset
)

func (t Type) String() string {
	switch t {
	case Data:
		return "DATA"
	case Initial:
		return "INITIAL"
	case Challenge:
		return "CHALLENGE"
	case Response:
		return "RESPONSE"
	case Reset:
		return "RESET"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

const (
	// magic is the high nibble of every header byte.
	magic = 0x50
	// TokenLen is the length of a CHALLENGE, RESPONSE or RESET token.
	TokenLen = 8
	// ControlLen is the length of a whole control datagram.
	ControlLen = 1 + TokenLen
	// DataOverhead is what a DATA header adds to its payload.
	DataOverhead = 1
	// InitialOverhead is what an INITIAL header adds to its payload,
	// before padding.
	InitialOverhead = 3
	// MinInitialBytes is the least size of an INITIAL datagram: a
	// listener may answer an unvalidated address with as many bytes as
	// it received, so a dialer's first datagram buys room for the reply
	// (as QUIC's 1200-byte Initial packets do).
	MinInitialBytes = 1200
	// MaxPayload is the largest payload an INITIAL can carry (its length
	// field), and so the largest any datagram of this format carries.
	MaxPayload = 65535
)

// Packet is a parsed datagram. Payload aliases the parsed bytes.
type Packet struct {
	Type    Type
	Token   [TokenLen]byte // CHALLENGE, RESPONSE, RESET
	Payload []byte         // DATA, INITIAL
}

// Parse decodes one datagram. It never allocates.
func Parse(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if b[0]&0xf0 != magic {
		return Packet{}, fmt.Errorf("%w: header byte 0x%02x", ErrMalformed, b[0])
	}
	p := Packet{Type: Type(b[0] & 0x0f)}
	switch p.Type {
	case Data:
		p.Payload = b[1:]
	case Initial:
		return parseInitial(b)
	case Challenge, Response, Reset:
		if len(b) != ControlLen {
			return Packet{}, fmt.Errorf("%w: %v of %d bytes, want %d", ErrMalformed, p.Type, len(b), ControlLen)
		}
		copy(p.Token[:], b[1:])
	default:
		return Packet{}, fmt.Errorf("%w: unknown type %d", ErrMalformed, p.Type)
	}
	return p, nil
}

func parseInitial(b []byte) (Packet, error) {
	if len(b) < MinInitialBytes {
		return Packet{}, fmt.Errorf("%w: INITIAL of %d bytes, want at least %d", ErrMalformed, len(b), MinInitialBytes)
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	end := InitialOverhead + n
	if end > len(b) {
		return Packet{}, fmt.Errorf("%w: INITIAL payload of %d bytes in a %d-byte datagram", ErrMalformed, n, len(b))
	}
	if want := InitialSize(n); len(b) != want {
		// Padding beyond MinInitialBytes: Append never sends it, and
		// accepting it would give one packet two encodings.
		return Packet{}, fmt.Errorf("%w: INITIAL of %d bytes for a %d-byte payload, want %d", ErrMalformed, len(b), n, want)
	}
	for _, x := range b[end:] {
		if x != 0 {
			return Packet{}, fmt.Errorf("%w: INITIAL padding is not zero", ErrMalformed)
		}
	}
	return Packet{Type: Initial, Payload: b[InitialOverhead:end]}, nil
}

// InitialSize returns the size of the INITIAL datagram carrying n payload
// bytes.
func InitialSize(n int) int { return max(MinInitialBytes, InitialOverhead+n) }

// Append appends the encoding of p to dst. An INITIAL is padded to
// InitialSize; its payload must not exceed MaxPayload.
func Append(dst []byte, p Packet) []byte {
	switch p.Type {
	case Data:
		return append(append(dst, magic|byte(Data)), p.Payload...)
	case Initial:
		dst = append(dst, magic|byte(Initial))
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.Payload)))
		dst = append(dst, p.Payload...)
		pad := InitialSize(len(p.Payload)) - InitialOverhead - len(p.Payload)
		for range pad {
			dst = append(dst, 0)
		}
		return dst
	default:
		return append(append(dst, magic|byte(p.Type)), p.Token[:]...)
	}
}

// DataHeader is the header byte of a DATA datagram.
const DataHeader = magic | byte(Data)
