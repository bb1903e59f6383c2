package record

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package wraps one or more of
// them; callers branch with errors.Is.
var (
	// ErrMalformed reports bytes from the peer that do not follow the wire
	// format: a truncated or oversized section, a reserved bit set, trailing
	// bytes, an impossible PNACK range. On a stream the connection must be
	// closed; on a datagram link the packet is dropped.
	ErrMalformed = errors.New("record: malformed record")

	// ErrTooLarge reports a length above a configured or protocol limit: a
	// message above MaxMessageBytes, a decompressed body above its maximum, a
	// plaintext above MaxPlaintext. It is checked before any allocation.
	ErrTooLarge = errors.New("record: too large")

	// ErrAuth reports a record that failed AEAD authentication. On a stream
	// this is fatal (the opener stays dead): the record was tampered with,
	// replayed, reordered, or one was dropped. On a datagram link it is not
	// fatal: drop the packet and count it.
	ErrAuth = errors.New("record: authentication failed (tampered or replayed record)")

	// ErrReplay reports a datagram whose packet number was already accepted
	// or is older than the replay window. Not fatal: datagram links
	// duplicate packets legitimately; drop and count.
	ErrReplay = errors.New("record: duplicate or too old packet number")
)

// recordError is an error with a detailed message that wraps one or more
// sentinels. Its message starts with "record: " and does not repeat the
// sentinel's text, so "record: PNACK range count 900 exceeds 64" still
// satisfies errors.Is(err, ErrMalformed).
type recordError struct {
	kinds []error
	msg   string
}

func (e *recordError) Error() string   { return "record: " + e.msg }
func (e *recordError) Unwrap() []error { return e.kinds }

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return &recordError{kinds: []error{ErrMalformed}, msg: fmt.Sprintf(format, args...)}
}

// tooLarge returns an error wrapping ErrTooLarge.
func tooLarge(format string, args ...any) error {
	return &recordError{kinds: []error{ErrTooLarge}, msg: fmt.Sprintf(format, args...)}
}

// malformedTooLarge returns an error wrapping both ErrMalformed and
// ErrTooLarge: a peer declared a length above the limit.
func malformedTooLarge(format string, args ...any) error {
	return &recordError{kinds: []error{ErrMalformed, ErrTooLarge}, msg: fmt.Sprintf(format, args...)}
}

// Preallocated errors for datagram drops, which are routine and must not
// allocate.
var (
	errReplayDuplicate = &recordError{kinds: []error{ErrReplay}, msg: "duplicate packet number"}
	errReplayTooOld    = &recordError{kinds: []error{ErrReplay}, msg: "packet number older than the replay window"}
	errShortPacket     = &recordError{kinds: []error{ErrMalformed}, msg: "datagram shorter than its header and tag"}
	errPacketType      = &recordError{kinds: []error{ErrMalformed}, msg: "datagram type is not a data record"}
)
