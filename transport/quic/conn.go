package quic

import (
	"fmt"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	quicgo "github.com/quic-go/quic-go"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
)

// The path of the bytes, for one connection:
//
//	Write (worker)  ─ append to the outbox; wake the writer if it idles
//	writer goroutine ─ take the whole outbox, one Stream.Write, repeat;
//	                   after Close: flush, FIN, then OnClose(nil) is due
//	reader goroutine ─ Stream.Read into its buffer, append to the inbox
//	                   (waiting while the inbox holds RecvBufferBytes);
//	                   post one drain to the mailbox per burst
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
	t                     *Transport
	qc                    *quicgo.Conn
	st                    *quicgo.Stream
	local, remote         ma.Multiaddr
	localPeer, remotePeer identity.PeerID
	mb                    *driver.Mailbox
	release               func() // after the connection is gone: sockets, listener count
	sendBuf               int64

	// w is the owner, for counters; an atomic since a Write may come
	// from the endpoint while the connection moves.
	w atomic.Pointer[driver.Worker]

	// Owned by the worker (mailbox tasks and handler callbacks).
	h        transport.Handler
	finished bool

	localClose atomic.Bool // Close was called: OnClose gets nil
	writable   atomic.Bool // h is a WritableHandler
	armed      atomic.Bool // a Write left Buffered() > 0: OnWritable is owed
	pending    atomic.Int64
	load       atomic.Uint64

	in    inbox
	out   outbox
	nudge nudger

	drainFn, writableFn func()
}

var (
	_ transport.Conn          = (*conn)(nil)
	_ transport.Authenticated = (*conn)(nil)
)

func newConn(t *Transport, qc *quicgo.Conn, st *quicgo.Stream, w *driver.Worker, peer identity.PeerID, release func()) *conn {
	c := &conn{
		t: t, qc: qc, st: st, mb: driver.NewMailbox(w),
		local: quicAddr(qc.LocalAddr()), remote: quicAddr(qc.RemoteAddr()),
		localPeer: t.local, remotePeer: peer, release: release,
		sendBuf: int64(t.cfg.SendBufferBytes),
	}
	c.w.Store(w)
	c.in.init(t.cfg.RecvBufferBytes)
	c.drainFn, c.writableFn = c.drain, c.onWritable
	return c
}

func (c *conn) setHandler(h transport.Handler) {
	c.h = h
	_, ok := h.(transport.WritableHandler)
	c.writable.Store(ok)
}

// start runs the reader goroutine; a dialer first queues its preamble,
// which counts as pending until the writer hands it over.
func (c *conn) start(dialer bool) {
	if dialer {
		c.pending.Store(1)
		if start, _ := c.out.push([][]byte{{preamble}}); start {
			go c.writeLoop()
		}
	}
	go c.readLoop()
}

func (c *conn) Kind() transport.Kind        { return transport.Stream }
func (c *conn) MaxDatagram() int            { return 0 }
func (c *conn) LocalAddr() ma.Multiaddr     { return c.local }
func (c *conn) RemoteAddr() ma.Multiaddr    { return c.remote }
func (c *conn) LocalPeer() identity.PeerID  { return c.localPeer }
func (c *conn) RemotePeer() identity.PeerID { return c.remotePeer }
func (c *conn) Owner() *driver.Worker       { return c.mb.Owner() }
func (c *conn) Load() uint64                { return c.load.Load() }
func (c *conn) String() string              { return fmt.Sprintf("quic %s->%s", c.local, c.remote) }
func (c *conn) Buffered() int               { return int(max(c.pending.Load()-c.sendBuf, 0)) }
func (c *conn) closedErr(op string) error {
	return fmt.Errorf("quic: %s on %v: %w", op, c, transport.ErrClosed)
}
func (c *conn) Writev(bufs [][]byte) error     { return c.write(bufs...) }
func (c *conn) Write(b []byte) error           { return c.write(b) }
func (c *conn) postTask(fn func()) (err error) { return c.mb.Post(fn) }

func (c *conn) Post(fn func()) error {
	if err := c.mb.Post(fn); err != nil {
		return fmt.Errorf("quic: post to %v: %w (%w)", c, transport.ErrClosed, err)
	}
	return nil
}

// write queues bufs for the writer goroutine (on the worker).
func (c *conn) write(bufs ...[]byte) error {
	if c.finished {
		return c.closedErr("write")
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	// Counted before the writer can see the bytes, so that pending never
	// dips below what quic-go has yet to take.
	queued := c.pending.Add(int64(n))
	start, ok := c.out.push(bufs)
	if !ok {
		c.pending.Add(-int64(n))
		return c.closedErr("write")
	}
	if start {
		go c.writeLoop()
	}
	c.load.Add(uint64(n))
	c.w.Load().CountIO(0, n)
	if queued > c.sendBuf && c.writable.Load() {
		c.arm()
	}
	return nil
}

// Backpressure without a lock per Write: the worker adds to pending, the
// writer subtracts what quic-go took. When a Write leaves Buffered() > 0,
// the worker sets armed, then re-reads pending; the writer subtracts, then
// reads armed. One of the two sees the other's write, so the OnWritable
// owed is never lost; a spurious one is caught by onWritable's re-check.

// arm runs on the worker after a Write left Buffered() > 0.
func (c *conn) arm() {
	c.armed.Store(true)
	if c.Buffered() == 0 && c.armed.CompareAndSwap(true, false) {
		_ = c.postTask(c.writableFn) // it drained meanwhile
	}
}

// sent records that quic-go took n bytes (writer goroutine).
func (c *conn) sent(n int) {
	if c.pending.Add(-int64(n)) <= c.sendBuf && c.armed.Load() && c.armed.CompareAndSwap(true, false) {
		_ = c.postTask(c.writableFn)
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
		c.w.Load().CountIO(len(buf), 0)
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
// a local Close the error is nil, whatever ended the connection.
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
	c.w.Load().Untrack(c)
	if c.h != nil {
		c.h.OnClose(c, err)
	}
}

// Close implements transport.Conn: Writes fail from now on; the writer
// flushes what was written (for at most CloseTimeout), sends FIN, and
// then OnClose(nil) runs. doc.go describes the rest of the close.
func (c *conn) Close() error {
	if c.localClose.Swap(true) {
		return nil
	}
	_ = c.st.SetWriteDeadline(time.Now().Add(c.t.cfg.CloseTimeout))
	c.nudge.start(c.qc, func() { _ = c.qc.CloseWithError(codeClosed, "peer gone") })
	if c.out.close() {
		go c.writeLoop()
	}
	return nil
}

// kill resets the connection: what is queued either way is lost, both
// sides' OnClose get ErrReset (this side's nil after a Close).
func (c *conn) kill(why string) {
	c.postIf(c.drainFn, c.in.end(fmt.Errorf("quic: %s: %w", why, transport.ErrReset), true))
	c.out.stop()
	_ = c.qc.CloseWithError(codeReset, why)
}

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
	qc.kill("reset locally")
	return nil
}

// Detach freezes the mailbox from inside one of its own tasks, so that no
// drain of it is left queued or running on the old worker when done runs;
// see transport/mem, whose connections move the same way. The reader and
// writer goroutines keep going: they only touch the inbox and outbox, and
// post to the mailbox, which holds their tasks until Attach.
func (c *conn) Detach(done func(error)) {
	src := c.Owner()
	err := c.mb.Post(func() {
		if c.finished || c.w.Load() != src {
			done(fmt.Errorf("quic: detach %v: %w", c, driver.ErrNotOwner))
			return
		}
		c.mb.Freeze()
		if err := src.Execute(func() { done(nil) }); err != nil {
			c.mb.Thaw(src)
			done(err)
		}
	})
	if err != nil {
		done(fmt.Errorf("quic: detach %v: %w (%w)", c, driver.ErrNotOwner, transport.ErrClosed))
	}
}

// Attach implements driver.Movable.
func (c *conn) Attach(w *driver.Worker) {
	c.w.Store(w)
	c.mb.Thaw(w)
}
