package hub

import (
	"encoding/binary"
	"fmt"
)

// Lane is a class of traffic to a member. Each lane has its own endpoint
// (its own ordered channel and transport connection), so a message on one
// lane never waits behind messages queued on another.
type Lane uint8

const (
	// Control is for small, urgent messages: votes, heartbeats, requests.
	// The default lane of Send, Broadcast, Request and Quorum.
	Control Lane = 0
	// Bulk is for large transfers (log catch-up, snapshots, state sync).
	Bulk Lane = 1

	numLanes = 2
)

// allLanes lists the lanes, in order.
var allLanes = [numLanes]Lane{Control, Bulk}

func (l Lane) String() string {
	switch l {
	case Control:
		return "control"
	case Bulk:
		return "bulk"
	}
	return fmt.Sprintf("Lane(%d)", uint8(l))
}

func (l Lane) valid() bool { return l < numLanes }

// Kind is the type of a hub frame.
type Kind uint8

// The frame kinds. Hello, Activate and Refuse set up a connection; the
// others carry the application's messages.
const (
	KindHello    Kind = 1 // first frame each side sends on a connection
	KindActivate Kind = 2 // the deciding side makes the connection the lane's
	KindRefuse   Kind = 3 // the connection is refused; it closes next
	KindMessage  Kind = 4 // a one-way message
	KindRequest  Kind = 5 // a request; the peer answers with Reply or Error
	KindReply    Kind = 6 // a successful answer to a request
	KindError    Kind = 7 // a failed answer to a request
)

func (k Kind) String() string {
	names := [...]string{"", "hello", "activate", "refuse", "message", "request", "reply", "error"}
	if int(k) < len(names) && k != 0 {
		return names[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Refusal codes carried by a Refuse frame.
const (
	RefuseNotMember uint8 = 1 // the dialer is not a member of this hub
	RefuseDuplicate uint8 = 2 // the lane already has a connection
	RefuseStale     uint8 = 3 // the dialer's hub instance is older than the one connected
	RefuseBadHello  uint8 = 4 // the hello was malformed or named an unknown lane
)

// Limits of frame fields.
const (
	frameVersion   = 1
	maxReasonBytes = 1024 // Refuse and Error texts
	helloLen       = 1 + 8 + 1
)

// Frame is one hub message on an endpoint: one byte holding the format
// version (high nibble) and the Kind (low nibble), then the kind's fields:
//
//	Hello     epoch (8 bytes, big endian), lane (1 byte)
//	Activate  nothing
//	Refuse    code (1 byte), reason (the rest, at most 1024 bytes)
//	Message   payload (the rest)
//	Request   id (uvarint, minimal), payload (the rest)
//	Reply     id (uvarint, minimal), payload (the rest)
//	Error     id (uvarint, minimal), reason (the rest, at most 1024 bytes)
//
// The encoding is canonical: a frame that parses re-encodes to the same
// bytes.
type Frame struct {
	Kind    Kind
	Epoch   uint64 // Hello: the sender's hub instance (its start time, ns)
	Lane    Lane   // Hello: the lane of the connection
	Code    uint8  // Refuse: why
	ID      uint64 // Request, Reply, Error: the correlation id
	Payload []byte // Message, Request, Reply: the application's bytes; Refuse, Error: the reason
}

// AppendFrame appends f's encoding to dst.
func AppendFrame(dst []byte, f *Frame) []byte {
	dst = append(dst, frameVersion<<4|byte(f.Kind&0x0f))
	switch f.Kind {
	case KindHello:
		dst = binary.BigEndian.AppendUint64(dst, f.Epoch)
		dst = append(dst, byte(f.Lane))
	case KindActivate:
	case KindRefuse:
		dst = append(dst, f.Code)
		dst = append(dst, f.Payload...)
	case KindRequest, KindReply, KindError:
		dst = binary.AppendUvarint(dst, f.ID)
		dst = append(dst, f.Payload...)
	default:
		dst = append(dst, f.Payload...)
	}
	return dst
}

// ParseFrame parses b into f. f.Payload aliases b. Errors are
// *FrameError, wrapping ErrMalformed.
func ParseFrame(b []byte, f *Frame) error {
	*f = Frame{}
	if len(b) == 0 {
		return &FrameError{"empty"}
	}
	if v := b[0] >> 4; v != frameVersion {
		return &FrameError{fmt.Sprintf("version %d, want %d", v, frameVersion)}
	}
	f.Kind = Kind(b[0] & 0x0f)
	body := b[1:]
	switch f.Kind {
	case KindHello:
		return f.parseHello(b)
	case KindActivate:
		if len(body) != 0 {
			return &FrameError{fmt.Sprintf("activate with %d bytes of body", len(body))}
		}
	case KindRefuse:
		if len(body) < 1 {
			return &FrameError{"refuse without a code"}
		}
		f.Code, f.Payload = body[0], body[1:]
		return checkReason(f.Payload)
	case KindMessage:
		f.Payload = body
	case KindRequest, KindReply, KindError:
		return f.parseCorrelated(body)
	default:
		return &FrameError{fmt.Sprintf("unknown kind %d", uint8(f.Kind))}
	}
	return nil
}

func (f *Frame) parseHello(b []byte) error {
	if len(b) != helloLen {
		return &FrameError{fmt.Sprintf("hello of %d bytes, want %d", len(b), helloLen)}
	}
	f.Epoch = binary.BigEndian.Uint64(b[1:9])
	f.Lane = Lane(b[9])
	if !f.Lane.valid() {
		return &FrameError{fmt.Sprintf("hello for unknown lane %d", b[9])}
	}
	return nil
}

func (f *Frame) parseCorrelated(body []byte) error {
	id, n := binary.Uvarint(body)
	if n <= 0 {
		return &FrameError{f.Kind.String() + ": bad correlation id"}
	}
	if n != uvarintLen(id) {
		return &FrameError{f.Kind.String() + ": correlation id not minimally encoded"}
	}
	f.ID, f.Payload = id, body[n:]
	if f.Kind == KindError {
		return checkReason(f.Payload)
	}
	return nil
}

func checkReason(r []byte) error {
	if len(r) > maxReasonBytes {
		return &FrameError{fmt.Sprintf("reason of %d bytes exceeds %d", len(r), maxReasonBytes)}
	}
	return nil
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// truncReason shortens s to what a Refuse or Error frame may carry.
func truncReason(s string) []byte {
	if len(s) > maxReasonBytes {
		s = s[:maxReasonBytes]
	}
	return []byte(s)
}
