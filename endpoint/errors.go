package endpoint

import (
	"errors"
	"fmt"

	"github.com/weftnet/weft/internal/handshake"
)

// Errors callers branch on with errors.Is.
var (
	// ErrClosed: the endpoint is closed; Send and Recv fail with it.
	ErrClosed = errors.New("endpoint: closed")
	// ErrBufferFull: TrySend found no room under SendBufferBytes.
	ErrBufferFull = errors.New("endpoint: send buffer full")
	// ErrTooLarge: a message above the limit (ours for Send, the peer's
	// for what it sends us).
	ErrTooLarge = errors.New("endpoint: message too large")
	// ErrResumeTimeout: the connection died and could not be resumed
	// within Config.ResumeTimeout.
	ErrResumeTimeout = errors.New("endpoint: resume timed out")
	// ErrSessionLost: the peer no longer knows this session (it restarted),
	// so unacknowledged messages cannot be delivered exactly once.
	ErrSessionLost = errors.New("endpoint: peer lost the session")
	// ErrProtocol: the peer broke the protocol (a bad record, an offset out
	// of range, a window overrun). The connection is closed.
	ErrProtocol = errors.New("endpoint: protocol violation")
	// ErrPeerMismatch: the peer is not the one the dialer expected.
	ErrPeerMismatch = handshake.ErrPeerMismatch
)

// TooLargeError reports a message above a size limit.
type TooLargeError struct {
	Size, Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("endpoint: message of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}

func (e *TooLargeError) Unwrap() error { return ErrTooLarge }
