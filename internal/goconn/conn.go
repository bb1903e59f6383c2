package goconn

import (
	"fmt"
	"sync/atomic"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// Conn is the part of a transport.Conn that a transport over a blocking
// stream shares with the others: a transport's connection embeds it, sets
// it up with Init, and adds its addresses, String and the stream's close
// protocol (Stream). Its exported methods follow transport.Conn; the
// others are for the transport.
type Conn struct {
	self    transport.Conn
	st      Stream
	try     TryWriter // st, if it is one and inline writes are on
	name    string
	mb      *driver.Mailbox
	sendBuf int64

	// w is the owner, for counters; an atomic since a Write may come from
	// the endpoint while the connection moves.
	w atomic.Pointer[driver.Worker]

	// Owned by the worker (mailbox tasks and handler callbacks).
	h           transport.Handler
	finished    bool
	inlineBytes int
	scratch     []byte // a Writev's buffers joined for an inline write

	localClose   atomic.Bool  // Close was called: OnClose gets nil
	writable     atomic.Bool  // h is a WritableHandler
	armed        atomic.Bool  // a Write left Buffered() > 0: OnWritable is owed
	pending      atomic.Int64 // bytes queued for the writer or in its Write
	load         atomic.Uint64
	inlineCredit atomic.Int64 // spent by inline writes, renewed by the writer
	inlineBudget int64

	in  inbox
	out outbox

	drainFn, writableFn func()
}

// Init sets c up; call it once, before the Conn is used or its goroutines
// start.
func (c *Conn) Init(cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	c.self, c.st, c.name = cfg.Self, cfg.Stream, cfg.Name
	c.mb = driver.NewMailbox(cfg.Worker)
	c.w.Store(cfg.Worker)
	c.sendBuf = int64(cfg.SendBufferBytes)
	if tw, ok := cfg.Stream.(TryWriter); ok && cfg.InlineBytes > 0 && cfg.InlineBudget > 0 {
		c.try, c.inlineBytes, c.inlineBudget = tw, cfg.InlineBytes, int64(cfg.InlineBudget)
		c.inlineCredit.Store(c.inlineBudget)
	}
	c.in.init(cfg.RecvBufferBytes)
	c.out.pool = bytePool(&chunkPools, cfg.ChunkBytes)
	c.drainFn, c.writableFn = c.drain, c.onWritable
	return nil
}

// SetHandler installs h (on the worker, or before the Conn is shared).
func (c *Conn) SetHandler(h transport.Handler) {
	c.h = h
	_, ok := h.(transport.WritableHandler)
	c.writable.Store(ok)
}

func (c *Conn) Kind() transport.Kind  { return transport.Stream }
func (c *Conn) MaxDatagram() int      { return 0 }
func (c *Conn) Owner() *driver.Worker { return c.mb.Owner() }
func (c *Conn) Load() uint64          { return c.load.Load() }
func (c *Conn) Buffered() int         { return int(max(c.pending.Load()-c.sendBuf, 0)) }

// Write implements transport.Conn.
func (c *Conn) Write(b []byte) error { return c.write([][]byte{b}) }

// Writev implements transport.Conn.
func (c *Conn) Writev(bufs [][]byte) error { return c.write(bufs) }

// Post implements transport.Conn.
func (c *Conn) Post(fn func()) error {
	if err := c.mb.Post(fn); err != nil {
		return fmt.Errorf("%s: post to %v: %w (%w)", c.name, c.self, transport.ErrClosed, err)
	}
	return nil
}

func (c *Conn) closedErr(op string) error {
	return fmt.Errorf("%s: %s on %v: %w", c.name, op, c.self, transport.ErrClosed)
}

// postIf hands fn to the mailbox if needed; that fails only once the
// connection finished or its worker stopped, when nothing is left to do.
func (c *Conn) postIf(fn func(), needed bool) {
	if needed {
		_ = c.mb.Post(fn)
	}
}

// write hands bufs to the stream inline if it can (inline.go), or queues
// them for the writer goroutine (on the worker).
func (c *Conn) write(bufs [][]byte) error {
	if c.finished {
		return c.closedErr("write")
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	if c.try != nil && c.tryInline(bufs, n) {
		c.count(n)
		return nil
	}
	// Counted before the writer can see the bytes, so that pending never
	// dips below what the stream has yet to take.
	queued := c.pending.Add(int64(n))
	start, ok := c.out.push(bufs)
	if !ok {
		c.pending.Add(-int64(n))
		return c.closedErr("write")
	}
	if start {
		go c.writeLoop()
	}
	c.count(n)
	if queued > c.sendBuf && c.writable.Load() {
		c.arm()
	}
	return nil
}

func (c *Conn) count(n int) {
	c.load.Add(uint64(n))
	c.w.Load().CountIO(0, n)
}

// Preface queues b to be written first, before the reader or any Write
// starts: a transport's own opening bytes. They count in Buffered until
// the stream takes them, not in Load or the worker's counters.
func (c *Conn) Preface(b []byte) {
	c.pending.Add(int64(len(b)))
	if start, _ := c.out.push([][]byte{b}); start {
		go c.writeLoop()
	}
}

// Backpressure without a lock per Write: the worker adds to pending, the
// writer subtracts what the stream took. When a Write leaves Buffered() >
// 0, the worker sets armed, then re-reads pending; the writer subtracts,
// then reads armed. One of the two sees the other's write, so the
// OnWritable owed is never lost; a spurious one is caught by onWritable's
// re-check.

// arm runs on the worker after a Write left Buffered() > 0.
func (c *Conn) arm() {
	c.armed.Store(true)
	if c.Buffered() == 0 && c.armed.CompareAndSwap(true, false) {
		_ = c.mb.Post(c.writableFn) // it drained meanwhile
	}
}

// sent records that the stream took n bytes (writer goroutine).
func (c *Conn) sent(n int) {
	if c.pending.Add(-int64(n)) <= c.sendBuf && c.armed.Load() && c.armed.CompareAndSwap(true, false) {
		_ = c.mb.Post(c.writableFn)
	}
}

func (c *Conn) onWritable() {
	if c.finished {
		return
	}
	if c.Buffered() > 0 {
		c.arm()
		return
	}
	if wh, ok := c.h.(transport.WritableHandler); ok {
		wh.OnWritable(c.self)
	}
}

// drain hands what the reader queued to the handler (a mailbox task).
func (c *Conn) drain() {
	buf, ended, end := c.in.take()
	if len(buf) > 0 && !c.finished {
		c.load.Add(uint64(len(buf)))
		c.w.Load().CountIO(len(buf), 0)
		if c.h != nil {
			c.h.OnData(c.self, buf)
		}
	}
	c.in.done(buf)
	if ended {
		c.finish(end)
	}
}

// finish ends c on the worker: OnClose runs once, nothing after it. After
// a local Close the error is nil, whatever ended the connection.
func (c *Conn) finish(err error) {
	if c.finished {
		return
	}
	c.abandon()
	c.out.stop()
	if c.localClose.Load() {
		err = nil
	}
	if c.h != nil {
		c.h.OnClose(c.self, err)
	}
}

// abandon marks c finished on the worker: the inbox drops everything, the
// mailbox takes no more tasks, the worker forgets c.
func (c *Conn) abandon() {
	c.finished = true
	c.in.kill()
	c.mb.Close()
	c.w.Load().Untrack(c.self)
}

// Accept is the first task of an accepted connection, on its worker: it
// asks accept for a handler. It reports whether accept refused (returned
// nil): the connection is then finished without a word to any handler,
// and the transport ends its stream as a refusal. A connection that
// finished before (a reset) is not offered to accept.
func (c *Conn) Accept(accept transport.AcceptFunc) (refused bool) {
	if c.finished {
		return false
	}
	h := accept(c.self)
	if h == nil {
		c.abandon()
		return true
	}
	c.SetHandler(h)
	return false
}

// Close implements transport.Conn: Writes fail from now on; the writer
// flushes what was written, Fin ends the write side, and then OnClose(nil)
// runs after what was received so far. The transport's Stream.Closing
// bounds the flush.
func (c *Conn) Close() error {
	if c.localClose.Swap(true) {
		return nil
	}
	c.st.Closing()
	if c.out.close() {
		go c.writeLoop()
	}
	return nil
}

// Kill resets the connection (any goroutine): what is queued either way
// is lost, OnClose gets an error wrapping transport.ErrReset (nil after a
// Close), and Stream.Abort resets the stream, so the peer's does too.
func (c *Conn) Kill(why string) {
	c.postIf(c.drainFn, c.in.end(fmt.Errorf("%s: %s: %w", c.name, why, transport.ErrReset), true))
	c.out.stop()
	c.st.Abort(why)
}

// EndInput queues the end of the connection after what the reader queued
// (any goroutine): OnClose(err) runs after it, unless the connection ended
// before. Transports call it from Stream.ReadEnded.
func (c *Conn) EndInput(err error) {
	c.postIf(c.drainFn, c.in.end(err, false))
}

// StopOutput drops what is queued for the writer, which stops at its next
// batch. It reports whether output was stopped already.
func (c *Conn) StopOutput() bool { return c.out.stop() }

// WaitWriter waits until no writer goroutine runs (after StopOutput, none
// starts again).
func (c *Conn) WaitWriter() { c.out.writers.Wait() }

// Detach freezes the mailbox from inside one of its own tasks, so that no
// drain of it is left queued or running on the old worker when done runs:
// done is handed to the worker as a new task, which runs after the task
// that froze the mailbox has returned. The reader and writer goroutines
// keep going: they only touch the inbox and outbox, and post to the
// mailbox, which holds their tasks until Attach. The move fails if the
// connection closed or moved (a concurrent move) since Detach was called.
func (c *Conn) Detach(done func(error)) {
	src := c.Owner()
	err := c.mb.Post(func() {
		if c.finished || c.w.Load() != src {
			done(fmt.Errorf("%s: detach %v: %w", c.name, c.self, driver.ErrNotOwner))
			return
		}
		c.mb.Freeze()
		if err := src.Execute(func() { done(nil) }); err != nil {
			c.mb.Thaw(src)
			done(err)
		}
	})
	if err != nil {
		done(fmt.Errorf("%s: detach %v: %w (%w)", c.name, c.self, driver.ErrNotOwner, transport.ErrClosed))
	}
}

// Attach implements driver.Movable.
func (c *Conn) Attach(w *driver.Worker) {
	c.w.Store(w)
	c.mb.Thaw(w)
}
