package quic

import (
	"fmt"

	ma "github.com/multiformats/go-multiaddr"
	quicgo "github.com/quic-go/quic-go"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/goconn"
	"github.com/weftnet/weft/transport"
)

// The path of the bytes, for one connection (internal/goconn has the
// details):
//
//	Write (worker)   ─ small, with nothing queued: straight to quic-go
//	                   (Stream.TryWriteAll, which never blocks); else
//	                   append to the outbox and wake the writer if it idles
//	writer goroutine ─ take the whole outbox, one Stream.Write per 64 KiB
//	                   chunk, repeat; after Close: flush, FIN, then
//	                   OnClose(nil) is due
//	reader goroutine ─ Stream.Read into its buffer, hand the buffer to the
//	                   inbox (waiting while the inbox holds
//	                   RecvBufferBytes); post one drain to the mailbox per
//	                   burst
//	drain (worker)   ─ OnData with everything in the inbox, then OnClose
//	                   if the stream ended
//
// quic-go's own goroutines (one per connection, one per UDP socket) sit
// below the reader and writer. The mailbox runs drains, OnWritable and
// posted tasks on whichever worker owns the connection, across moves: a
// move only freezes and thaws the mailbox, since no socket is attached to
// a worker.

// conn is one QUIC connection and its stream.
type conn struct {
	goconn.Conn
	t                     *Transport
	qc                    *quicgo.Conn
	st                    *quicgo.Stream
	local, remote         ma.Multiaddr
	localPeer, remotePeer identity.PeerID
	release               func() // after the connection is gone: sockets, listener count
	nudge                 nudger
}

var (
	_ transport.Conn          = (*conn)(nil)
	_ transport.Authenticated = (*conn)(nil)
)

func newConn(t *Transport, qc *quicgo.Conn, st *quicgo.Stream, w *driver.Worker, peer identity.PeerID, release func()) (*conn, error) {
	c := &conn{
		t: t, qc: qc, st: st,
		local: quicAddr(qc.LocalAddr()), remote: quicAddr(qc.RemoteAddr()),
		localPeer: t.local, remotePeer: peer, release: release,
	}
	err := c.Init(goconn.Config{
		Name: "quic", Self: c, Stream: stream{st, c}, Worker: w,
		SendBufferBytes: t.cfg.SendBufferBytes, RecvBufferBytes: t.cfg.RecvBufferBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("quic: %w", err)
	}
	return c, nil
}

// start runs the reader goroutine; a dialer first queues its preamble,
// which counts as Buffered until the writer hands it over.
func (c *conn) start(dialer bool) {
	if dialer {
		c.Preface([]byte{preamble})
	}
	go c.ReadLoop()
}

func (c *conn) LocalAddr() ma.Multiaddr     { return c.local }
func (c *conn) RemoteAddr() ma.Multiaddr    { return c.remote }
func (c *conn) LocalPeer() identity.PeerID  { return c.localPeer }
func (c *conn) RemotePeer() identity.PeerID { return c.remotePeer }
func (c *conn) String() string              { return fmt.Sprintf("quic %s->%s", c.local, c.remote) }

// Reset kills c, a connection of this package, abruptly: data in flight
// either way is lost and both ends' OnClose get an error wrapping
// transport.ErrReset (c's own gets nil if it was closed before). It
// returns an error for a connection of another transport. It blocks until
// quic-go has sent its CONNECTION_CLOSE, a few microseconds.
func Reset(c transport.Conn) error {
	qc, ok := c.(*conn)
	if !ok {
		return fmt.Errorf("quic: reset: %v is not a QUIC connection", c)
	}
	qc.Kill("reset locally")
	return nil
}
