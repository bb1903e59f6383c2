package libp2p

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/goconn"
	"github.com/weftnet/weft/transport"
)

// The path of the bytes, for one connection (one libp2p stream;
// internal/goconn has the details):
//
//	Write (worker)   ─ append to the outbox; wake the writer if it idles
//	writer goroutine ─ take the whole outbox, one Stream.Write per chunk,
//	                   repeat; after Close: flush, CloseWrite, then
//	                   OnClose(nil)
//	reader goroutine ─ Stream.Read into its buffer, hand the buffer to the
//	                   inbox (waiting while the inbox holds
//	                   RecvBufferBytes); post one drain to the mailbox per
//	                   burst
//	drain (worker)   ─ OnData with everything in the inbox, then OnClose
//	                   if the stream ended
//
// go-libp2p's own goroutines (the connection's muxer and security, the
// host's) sit below the reader and writer. The mailbox runs drains,
// OnWritable and posted tasks on whichever worker owns the connection,
// across moves: a move only freezes and thaws the mailbox, since no socket
// is attached to a worker. A libp2p stream has no write that cannot
// block, so every Write goes through the writer goroutine.

// chunkSize is the capacity of an outbox chunk: one chunk is one stream
// Write, which yamux sends as one frame (at most 64 KiB with its 12-byte
// header) that Noise seals as one message (at most 65535 bytes with its
// 16-byte tag): one encryption and one system call per chunk.
const chunkSize = 65535 - 16 - 12

// conn is one libp2p stream under the transport's protocol.
type conn struct {
	goconn.Conn
	t                     *Transport
	st                    network.Stream
	local, remote         ma.Multiaddr
	localPeer, remotePeer identity.PeerID
}

var (
	_ transport.Conn          = (*conn)(nil)
	_ transport.Authenticated = (*conn)(nil)
)

func newConn(t *Transport, st network.Stream, remotePeer identity.PeerID, w *driver.Worker) (*conn, error) {
	nc := st.Conn()
	c := &conn{
		t: t, st: st,
		local: nc.LocalMultiaddr(), remote: nc.RemoteMultiaddr(),
		localPeer: t.local, remotePeer: remotePeer,
	}
	err := c.Init(goconn.Config{
		Name: "libp2p", Self: c, Stream: stream{st, c}, Worker: w,
		SendBufferBytes: t.cfg.SendBufferBytes, RecvBufferBytes: t.cfg.RecvBufferBytes,
		ChunkBytes: chunkSize,
	})
	if err != nil {
		return nil, fmt.Errorf("libp2p: %w", err)
	}
	return c, nil
}

func (c *conn) LocalAddr() ma.Multiaddr     { return c.local }
func (c *conn) RemoteAddr() ma.Multiaddr    { return c.remote }
func (c *conn) LocalPeer() identity.PeerID  { return c.localPeer }
func (c *conn) RemotePeer() identity.PeerID { return c.remotePeer }

func (c *conn) String() string {
	return fmt.Sprintf("libp2p %s %s->%s (%s)", c.t.cfg.Protocol, c.local, c.remote, c.remotePeer)
}

// Reset kills c, a connection of this package, abruptly: it resets the
// libp2p stream, so data in flight either way is lost and both ends'
// OnClose get an error wrapping transport.ErrReset (c's own gets nil if it
// was closed before). The libp2p connection under it, and its other
// streams, are not affected. It returns an error for a connection of
// another transport. Safe from any goroutine.
func Reset(c transport.Conn) error {
	lc, ok := c.(*conn)
	if !ok {
		return fmt.Errorf("libp2p: reset: %v is not a libp2p connection", c)
	}
	lc.Kill("reset locally")
	return nil
}
