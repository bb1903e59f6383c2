package handshake

import (
	"errors"
	"fmt"

	"github.com/weftnet/weft/identity"
)

// Sentinel errors. Every error returned by [State.Start] and [State.Step],
// except one caused by a failing Config.Rand, wraps exactly one of them
// (match with errors.Is) and adds detail; the message starts with
// "handshake: ".
var (
	// ErrPeerMismatch: the peer proved an identity other than Config.Expect.
	// The error is a [*PeerMismatchError] naming both peer IDs. An initiator
	// detects it on msg2, before it sends msg3.
	ErrPeerMismatch = errors.New("handshake: peer mismatch")

	// ErrInsecureMismatch: exactly one side set Config.InsecurePlaintext
	// (detected by the responder on msg1), or the responder's decision does
	// not match the initiator's request (detected by the initiator on msg2).
	ErrInsecureMismatch = errors.New("handshake: insecure plaintext mismatch")

	// ErrNoCommonCipher: the two sides' Config.Ciphers have no cipher in
	// common (detected by the responder on msg1), or the responder decided on
	// a cipher the initiator does not allow (detected by the initiator).
	ErrNoCommonCipher = errors.New("handshake: no common cipher")

	// ErrBadSignature: the peer's identity signature over its Noise static
	// key does not verify.
	ErrBadSignature = errors.New("handshake: bad identity signature")

	// ErrMalformed: an inbound message is oversized, truncated, fails
	// authentication (tampered, or from another handshake), or its payload
	// does not decode. The message says which message and what.
	ErrMalformed = errors.New("handshake: malformed message")

	// ErrUnexpected: a call that the state does not allow: Start on a
	// responder or twice, Step on an initiator before Start, or a message
	// after the handshake completed that is not a retransmission.
	ErrUnexpected = errors.New("handshake: unexpected message")
)

// PeerMismatchError reports that the peer is not the one Config.Expect
// named. It matches [ErrPeerMismatch].
type PeerMismatchError struct {
	Want identity.PeerID // Config.Expect
	Got  identity.PeerID // the identity the peer proved
}

// Error names both peer IDs.
func (e *PeerMismatchError) Error() string {
	return fmt.Sprintf("handshake: peer mismatch: want %s, got %s", e.Want, e.Got)
}

// Unwrap returns [ErrPeerMismatch].
func (e *PeerMismatchError) Unwrap() error { return ErrPeerMismatch }

// malformed wraps ErrMalformed; msg names the handshake message ("msg2").
func malformed(msg, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, msg, fmt.Sprintf(format, args...))
}

// malformedErr wraps ErrMalformed and a cause (a decode or Noise error).
func malformedErr(msg string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrMalformed, msg, err)
}
