package libp2p

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
)

// The path of the bytes, for one connection (one libp2p stream):
//
//	Write (worker)   ─ append to the outbox; wake the writer if it idles
//	writer goroutine ─ take the whole outbox, one Stream.Write, repeat;
//	                   after Close: flush, CloseWrite, then OnClose(nil)
//	reader goroutine ─ Stream.Read into its buffer, append to the inbox
//	                   (waiting while the inbox holds RecvBufferBytes);
//	                   post one drain to the mailbox per burst
//	drain (worker)   ─ OnData with everything in the inbox, then OnClose
//	                   if the stream ended
//
// go-libp2p's own goroutines (the connection's muxer and security, the
// host's) sit below the reader and writer. The mailbox runs drains,
// OnWritable and posted tasks on whichever worker owns the connection,
// across moves: a move only freezes and thaws the mailbox, since no socket
// is attached to a worker.

// conn is one libp2p stream under the transport's protocol.
type conn struct {
	t                     *Transport
	st                    network.Stream
	local, remote         ma.Multiaddr
	localPeer, remotePeer identity.PeerID
	mb                    *driver.Mailbox
	sendBuf               int64

	// Owned by the worker (mailbox tasks and handler callbacks).
	w        *driver.Worker
	h        transport.Handler
	finished bool

	localClose atomic.Bool // Close was called: OnClose gets nil
	writable   atomic.Bool // h is a WritableHandler
	armed      atomic.Bool // a Write left Buffered() > 0: OnWritable is owed
	pending    atomic.Int64
	load       atomic.Uint64

	in  inbox
	out outbox

	drainFn, writableFn func()
}

var (
	_ transport.Conn          = (*conn)(nil)
	_ transport.Authenticated = (*conn)(nil)
)

func newConn(t *Transport, st network.Stream, remotePeer identity.PeerID, w *driver.Worker) *conn {
	nc := st.Conn()
	c := &conn{
		t: t, st: st, w: w, mb: driver.NewMailbox(w),
		local: nc.LocalMultiaddr(), remote: nc.RemoteMultiaddr(),
		localPeer: t.local, remotePeer: remotePeer,
		sendBuf: int64(t.cfg.SendBufferBytes),
	}
	c.in.init(t.cfg.RecvBufferBytes)
	c.drainFn, c.writableFn = c.drain, c.onWritable
	return c
}

func (c *conn) setHandler(h transport.Handler) {
	c.h = h
	_, ok := h.(transport.WritableHandler)
	c.writable.Store(ok)
}

func (c *conn) Kind() transport.Kind        { return transport.Stream }
func (c *conn) MaxDatagram() int            { return 0 }
func (c *conn) LocalAddr() ma.Multiaddr     { return c.local }
func (c *conn) RemoteAddr() ma.Multiaddr    { return c.remote }
func (c *conn) LocalPeer() identity.PeerID  { return c.localPeer }
func (c *conn) RemotePeer() identity.PeerID { return c.remotePeer }
func (c *conn) Owner() *driver.Worker       { return c.mb.Owner() }
func (c *conn) Load() uint64                { return c.load.Load() }
func (c *conn) Buffered() int               { return int(max(c.pending.Load()-c.sendBuf, 0)) }
func (c *conn) Writev(bufs [][]byte) error  { return c.write(bufs...) }
func (c *conn) Write(b []byte) error        { return c.write(b) }

func (c *conn) String() string {
	return fmt.Sprintf("libp2p %s %s->%s (%s)", c.t.cfg.Protocol, c.local, c.remote, c.remotePeer)
}

func (c *conn) closedErr(op string) error {
	return fmt.Errorf("libp2p: %s on %v: %w", op, c, transport.ErrClosed)
}

func (c *conn) Post(fn func()) error {
	if err := c.mb.Post(fn); err != nil {
		return fmt.Errorf("libp2p: post to %v: %w (%w)", c, transport.ErrClosed, err)
	}
	return nil
}

// postIf hands fn to the mailbox if needed; that fails only once the
// connection finished or its worker stopped, when nothing is left to do.
func (c *conn) postIf(fn func(), needed bool) {
	if needed {
		_ = c.mb.Post(fn)
	}
}

// write queues bufs for the writer goroutine (on the worker).
func (c *conn) write(bufs ...[]byte) error {
	if c.finished {
		return c.closedErr("write")
	}
	n, start, ok := c.out.push(bufs)
	if !ok {
		return c.closedErr("write")
	}
	if n == 0 {
		return nil
	}
	if start {
		go c.writeLoop()
	}
	c.load.Add(uint64(n))
	c.w.CountIO(0, n)
	if c.pending.Add(int64(n)) > c.sendBuf && c.writable.Load() {
		c.arm()
	}
	return nil
}

// Backpressure without a lock per Write: the worker adds to pending, the
// writer subtracts what the stream took. When a Write leaves Buffered() >
// 0, the worker sets armed, then re-reads pending; the writer subtracts,
// then reads armed. One of the two sees the other's write, so the
// OnWritable owed is never lost; a spurious one is caught by onWritable's
// re-check.

// arm runs on the worker after a Write left Buffered() > 0.
func (c *conn) arm() {
	c.armed.Store(true)
	if c.Buffered() == 0 && c.armed.CompareAndSwap(true, false) {
		_ = c.mb.Post(c.writableFn) // it drained meanwhile
	}
}

// sent records that the stream took n bytes (writer goroutine).
func (c *conn) sent(n int) {
	if c.pending.Add(-int64(n)) <= c.sendBuf && c.armed.Load() && c.armed.CompareAndSwap(true, false) {
		_ = c.mb.Post(c.writableFn)
	}
}

func (c *conn) onWritable() {
	if c.finished {
		return
	}
	if c.Buffered() > 0 {
		c.arm()
		return
	}
	if wh, ok := c.h.(transport.WritableHandler); ok {
		wh.OnWritable(c)
	}
}

// drain hands what the reader queued to the handler (a mailbox task).
func (c *conn) drain() {
	buf, ended, end := c.in.take()
	if len(buf) > 0 && !c.finished {
		c.load.Add(uint64(len(buf)))
		c.w.CountIO(len(buf), 0)
		if c.h != nil {
			c.h.OnData(c, buf)
		}
	}
	c.in.recycle(buf)
	if ended {
		c.finish(end)
	}
}

// finish ends c on the worker: OnClose runs once, nothing after it. After
// a local Close the error is nil, whatever ended the stream.
func (c *conn) finish(err error) {
	if c.finished {
		return
	}
	c.finished = true
	if c.localClose.Load() {
		err = nil
	}
	c.in.kill()
	c.out.stop()
	c.mb.Close()
	c.w.Untrack(c)
	if c.h != nil {
		c.h.OnClose(c, err)
	}
}

// Close implements transport.Conn: Writes fail from now on; the writer
// flushes what was written (for at most CloseTimeout), closes the
// stream's write side, and then OnClose(nil) runs. doc.go describes the
// rest of the close.
func (c *conn) Close() error {
	if c.localClose.Swap(true) {
		return nil
	}
	_ = c.st.SetWriteDeadline(time.Now().Add(c.t.cfg.CloseTimeout))
	if c.out.close() {
		go c.writeLoop()
	}
	return nil
}

// kill resets the stream: what is queued either way is lost, both sides'
// OnClose get ErrReset (this side's nil after a Close).
func (c *conn) kill(why string) {
	c.postIf(c.drainFn, c.in.end(fmt.Errorf("libp2p: %s: %w", why, transport.ErrReset), true))
	c.out.stop()
	_ = c.st.Reset()
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
	lc.kill("reset locally")
	return nil
}

// Detach freezes the mailbox from inside one of its own tasks, so that no
// drain of it is left queued or running on the old worker when done runs:
// done is handed to the worker as a new task, which runs after the drain
// that froze the mailbox has returned. The reader and writer goroutines
// keep going: they only touch the inbox and outbox, and post to the
// mailbox, which holds their tasks until Attach. The move fails if the
// connection closed or moved (a concurrent move) since Detach was called.
func (c *conn) Detach(done func(error)) {
	src := c.Owner()
	err := c.mb.Post(func() {
		if c.finished || c.w != src {
			done(fmt.Errorf("libp2p: detach %v: %w", c, driver.ErrNotOwner))
			return
		}
		c.mb.Freeze()
		if err := src.Execute(func() { done(nil) }); err != nil {
			c.mb.Thaw(src)
			done(err)
		}
	})
	if err != nil {
		done(fmt.Errorf("libp2p: detach %v: %w (%w)", c, driver.ErrNotOwner, transport.ErrClosed))
	}
}

// Attach implements driver.Movable.
func (c *conn) Attach(w *driver.Worker) {
	c.w = w
	c.mb.Thaw(w)
}
