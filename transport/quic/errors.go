package quic

import (
	"errors"
	"fmt"
	"io"
	"os"

	quicgo "github.com/quic-go/quic-go"

	"github.com/weftnet/weft/transport"
)

// ErrPeerMismatch: a dial to an address ending in /p2p/<peer-id> reached a
// peer that proved another identity. Dial's *transport.DialError wraps it.
var ErrPeerMismatch = errors.New("quic: peer mismatch")

// ErrBadStream: the peer opened its connection's stream with something
// other than weft's preamble byte. The connection is closed.
var ErrBadStream = errors.New("quic: bad stream preamble")

// Application error codes of CONNECTION_CLOSE. doc.go describes the close
// protocol.
const (
	// codeClosed: this side read the peer's FIN, or closed before the peer
	// sent anything it needs; the peer's OnClose gets io.EOF.
	codeClosed quicgo.ApplicationErrorCode = 0
	// codeRefused: the listener refused the connection (its AcceptFunc
	// returned nil, or it was closed); io.EOF, like a refused TCP accept.
	codeRefused quicgo.ApplicationErrorCode = 1
	// codeReset: the connection was killed, or a close could not complete;
	// the peer's OnClose gets ErrReset.
	codeReset quicgo.ApplicationErrorCode = 2
	// codeProtocol: the peer broke the stream protocol (ErrBadStream).
	codeProtocol quicgo.ApplicationErrorCode = 3
)

// preamble is the first byte a dialer writes on its stream: QUIC announces
// a stream only with its first byte, and the listener must learn of the
// connection's stream before the dialer has anything to say.
const preamble = 0x77

// closeError explains why a connection's stream ended, as OnClose reports
// it: io.EOF for a graceful close by the peer, ErrReset otherwise.
func closeError(err error) error {
	var app *quicgo.ApplicationError
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("quic: closed by peer: %w", io.EOF)
	case errors.As(err, &app) && app.Remote && (app.ErrorCode == codeClosed || app.ErrorCode == codeRefused):
		return fmt.Errorf("quic: closed by peer (%v): %w", app, io.EOF)
	}
	return fmt.Errorf("%w: %w", transport.ErrReset, err)
}

// isDeadline reports whether err is a stream deadline this side set.
func isDeadline(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
