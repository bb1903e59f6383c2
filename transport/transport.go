package transport

import (
	"context"
	"errors"
	"fmt"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
)

// Kind says what a connection carries.
type Kind uint8

const (
	// Stream connections carry an ordered, reliable byte stream (tcp, a
	// QUIC stream, mem streams). Message boundaries are not kept.
	Stream Kind = iota + 1
	// Datagram connections carry packets that may be lost, duplicated or
	// reordered (udp, mem datagrams). Each Write is one packet and each
	// OnData call one packet.
	Datagram
)

func (k Kind) String() string {
	switch k {
	case Stream:
		return "stream"
	case Datagram:
		return "datagram"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Errors that transports return or pass to Handler.OnClose, wrapped with
// detail. Callers branch on them with errors.Is.
var (
	// ErrClosed: the connection or listener was closed, locally or by the
	// peer; a Write after that fails with it.
	ErrClosed = errors.New("transport: closed")
	// ErrReset: the connection died abruptly (a reset, a killed link).
	ErrReset = errors.New("transport: connection reset")
	// ErrRefused: nobody listens at the dialled address.
	ErrRefused = errors.New("transport: connection refused")
	// ErrUnsupportedAddr: the address is not one this transport handles.
	ErrUnsupportedAddr = errors.New("transport: unsupported address")
	// ErrTooLarge: a datagram larger than the connection's limit.
	ErrTooLarge = errors.New("transport: datagram too large")
)

// DialError is the error of a failed Dial. It unwraps to its cause (often
// ErrRefused, ErrUnsupportedAddr or a context error).
type DialError struct {
	Addr ma.Multiaddr
	Err  error
}

func (e *DialError) Error() string { return fmt.Sprintf("transport: dial %s: %v", e.Addr, e.Err) }
func (e *DialError) Unwrap() error { return e.Err }

// Timeout reports whether the dial failed because its context ended.
func (e *DialError) Timeout() bool {
	return errors.Is(e.Err, context.DeadlineExceeded)
}

// Transport moves bytes (Stream) or packets (Datagram) between addresses.
// It knows nothing of peers, messages or security: that is the endpoint's
// job. Every connection belongs to one driver worker, which runs all its
// callbacks; gnet-based transports (tcp, udp) poll their sockets on that
// worker's event loop with no goroutine per connection, the others (mem,
// quic) hand their bytes to the worker.
//
// A Transport is safe for concurrent use.
type Transport interface {
	// Kind returns Stream or Datagram.
	Kind() Kind
	// Handles reports whether addr is an address of this transport.
	Handles(addr ma.Multiaddr) bool
	// Dial connects to addr. The connection belongs to w and h receives its
	// events on w; they may start before Dial returns. Dial blocks until the
	// connection is up, ctx ends or the dial fails (*DialError, and then h
	// receives no events). Do not call it from a worker.
	Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h Handler) (Conn, error)
	// Listen accepts connections at addr and places each on a worker of d
	// (d.Pick), where accept is called before any of its data. Listen does
	// not block. An address the transport does not handle fails with
	// ErrUnsupportedAddr.
	Listen(addr ma.Multiaddr, d *driver.Driver, accept AcceptFunc) (Listener, error)
}

// AcceptFunc is called on the new connection's worker. It returns the
// Handler for the connection's events, or nil to refuse it (the connection
// is then closed; nothing is delivered).
type AcceptFunc func(c Conn) Handler

// Listener accepts connections for a Transport.
type Listener interface {
	// Addr returns the address it listens on, with any port 0 resolved.
	Addr() ma.Multiaddr
	// Close stops accepting and returns once no accept callback runs or
	// will run (so never call it from an accept callback). Connections
	// already accepted are not affected. Close is idempotent.
	Close() error
}

// Conn is one connection. It is a driver.Movable: Driver.Move takes it,
// and its state, to another worker while traffic flows.
//
// Methods marked "on the worker" must be called on the connection's owner:
// from its Handler callbacks or from tasks handed over with Post.
type Conn interface {
	driver.Movable

	// Kind returns Stream or Datagram.
	Kind() Kind

	// Write sends b (on the worker). It never blocks: what the OS does not
	// take at once is copied and sent later, in order; b may be reused as
	// soon as Write returns. For a Datagram connection b is one packet and
	// a packet larger than MaxDatagram fails with ErrTooLarge. Write fails
	// with ErrClosed once the connection is closed.
	Write(b []byte) error
	// Writev is Write for several buffers at once (one system call where
	// the transport can). For Datagram connections each buffer is a packet.
	Writev(bufs [][]byte) error
	// Buffered returns how many bytes Write accepted that are not yet handed
	// to the OS or the peer (on the worker). Senders use it for
	// backpressure, with WritableHandler.
	Buffered() int
	// MaxDatagram returns the largest packet Write accepts on a Datagram
	// connection, 0 for a Stream.
	MaxDatagram() int

	// Post runs fn on the connection's worker, in Post order, wherever the
	// connection has moved. Safe from any goroutine; it fails with ErrClosed
	// once the connection has closed (OnClose ran). Tasks posted before that
	// still run.
	Post(fn func()) error

	// Close closes the connection (from any goroutine; idempotent). From
	// the moment it is called Write and Writev fail with ErrClosed; bytes
	// written before are flushed first, for a bounded time. The Handler's
	// OnClose then runs once, on the worker, with a nil error. The peer of a
	// Datagram connection may never learn of the close.
	Close() error

	LocalAddr() ma.Multiaddr
	RemoteAddr() ma.Multiaddr
}

// Handler receives a connection's events. Every method runs on the
// connection's worker, one at a time, and must not block: it holds up
// every other connection on that worker.
type Handler interface {
	// OnData delivers received bytes (Stream) or one packet (Datagram).
	// b is valid only during the call: the transport reuses it.
	OnData(c Conn, b []byte)
	// OnClose runs once when the connection ends: err is nil after a local
	// Close, wraps io.EOF when the peer closed it, ErrReset when it died.
	// No method is called after it.
	OnClose(c Conn, err error)
}

// WritableHandler is implemented by a Handler that wants to know when the
// send buffer drains: after a Write leaves Buffered() above 0, OnWritable
// runs on the worker once Buffered() is back to 0 (stream transports may
// notice up to a timer tick late).
type WritableHandler interface {
	Handler
	OnWritable(c Conn)
}

// Authenticated is implemented by a Conn whose transport has already
// authenticated the peer's identity key and encrypts and integrity-protects
// every byte (quic's TLS 1.3 with a certificate bound to the node key, a
// libp2p stream over its secured connection). An endpoint over such a
// connection skips its own Noise handshake: it checks RemotePeer against
// the peer it expects and frames its records in plaintext, since the
// transport already seals them.
//
// A transport must only return Authenticated connections whose RemotePeer
// was proven by a signature from that peer's key during the connection's
// own handshake.
type Authenticated interface {
	Conn
	// LocalPeer is the peer ID this side proved to the remote.
	LocalPeer() identity.PeerID
	// RemotePeer is the peer ID the remote proved to this side.
	RemotePeer() identity.PeerID
}
