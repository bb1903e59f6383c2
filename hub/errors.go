package hub

import (
	"errors"
	"fmt"
	"strings"

	"github.com/weftnet/weft/identity"
)

// Errors callers branch on with errors.Is.
var (
	// ErrClosed: the hub is closed.
	ErrClosed = errors.New("hub: closed")
	// ErrNotMember: the peer is not a member of the hub (never added, or
	// removed).
	ErrNotMember = errors.New("hub: not a member")
	// ErrNotConnected: the member has no connection on the lane right now
	// (it is down, or still connecting), or the connection ended before
	// the message could be queued or answered.
	ErrNotConnected = errors.New("hub: peer not connected")
	// ErrNoQuorum: a quorum call ended with fewer replies than it needed.
	ErrNoQuorum = errors.New("hub: no quorum")
	// ErrRefused: the peer refused our connection (we are not one of its
	// members, or it already had one on that lane).
	ErrRefused = errors.New("hub: connection refused by peer")
	// ErrPeerRestarted: a member's connection was given up because a new
	// instance of the member connected (PeerEvent.Err).
	ErrPeerRestarted = errors.New("hub: peer restarted")
	// ErrMalformed: a hub frame could not be parsed.
	ErrMalformed = errors.New("hub: malformed frame")
	// ErrRemote: the peer's handler answered a request with an error.
	ErrRemote = errors.New("hub: remote error")
)

// PeerError is the outcome of an operation on one member.
type PeerError struct {
	Peer identity.PeerID
	Err  error
}

func (e *PeerError) Error() string { return fmt.Sprintf("hub: peer %s: %v", e.Peer, e.Err) }
func (e *PeerError) Unwrap() error { return e.Err }

// BroadcastError reports the members a Broadcast could not reach; the
// others were sent the message.
type BroadcastError struct {
	Failed []*PeerError
	Sent   int // members the message was queued for
}

func (e *BroadcastError) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		parts[i] = fmt.Sprintf("%s: %v", f.Peer, f.Err)
	}
	return fmt.Sprintf("hub: broadcast reached %d of %d members; failed: %s", e.Sent, e.Sent+len(e.Failed), strings.Join(parts, "; "))
}

// Unwrap returns the per-peer errors, so errors.Is(err, ErrNotConnected)
// holds when any member was not connected.
func (e *BroadcastError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f
	}
	return out
}

// QuorumError is returned by Quorum when it got fewer than Need
// successful replies. It unwraps to ErrNoQuorum and to Err, the reason the
// call stopped waiting (the context's error, or ErrNoQuorum itself when
// every member had answered or failed for good).
type QuorumError struct {
	Need, Got int
	Err       error
	Failed    []*PeerError // members that answered with an error or lost their connection
}

func (e *QuorumError) Error() string {
	return fmt.Sprintf("hub: quorum: %d of %d replies: %v", e.Got, e.Need, e.Err)
}

func (e *QuorumError) Unwrap() []error { return []error{ErrNoQuorum, e.Err} }

// RemoteError is a request's error reply: the peer's handler failed it.
type RemoteError struct {
	Peer    identity.PeerID
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("hub: peer %s replied with an error: %s", e.Peer, e.Message)
}

func (e *RemoteError) Unwrap() error { return ErrRemote }

// FrameError is a hub frame that could not be parsed.
type FrameError struct {
	Reason string
}

func (e *FrameError) Error() string { return "hub: malformed frame: " + e.Reason }
func (e *FrameError) Unwrap() error { return ErrMalformed }
