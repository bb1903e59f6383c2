package mem

import (
	"fmt"
	"sync"
	"sync/atomic"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// The delivery path, for one direction of a connection:
//
//	Write (sender's worker)
//	 ├─ stream, instant link: append to the sender's outbox; the first
//	 │  write of a burst posts a flush task to the sender's own mailbox,
//	 │  which hands the outbox to the receiver's inbox (swapping buffers
//	 │  when the inbox is empty) once the current task is done
//	 ├─ datagram, instant link: append the packet to the receiver's inbox
//	 └─ delayed: copy into the scheduler's heap; the scheduler goroutine
//	    appends it to the receiver's inbox when due
//	inbox: if no drain is pending, post one to the receiver's mailbox
//	drain (receiver's worker): OnData with everything appended so far
//
// So a burst of stream writes costs one copy per write, and one lock and
// at most one mailbox task for the whole burst on each side. The mailbox
// runs the drain wherever the receiver lives now, in order, across moves.

// minSpare is the largest inbox buffer always kept for reuse after a
// drain; larger ones are kept up to what flow control bounds the inbox to
// (spareLimit), so a sender running at its send buffer does not regrow a
// buffer on every drain.
const minSpare = 1 << 20

// conn is one end of a connection: a stream pair, or a datagram
// association between a dialer and a listener.
type conn struct {
	n                 *Network
	kind              transport.Kind
	localID, remoteID uint64
	local, remote     ma.Multiaddr
	host, remoteHost  hostKey
	ownsID            bool  // localID was allocated for it (dialer side)
	out               *link // direction towards the peer
	maxDatagram       int
	sendBuf           int64
	mb                *driver.Mailbox
	peer              atomic.Pointer[conn] // set once; nil until a datagram association is accepted

	// Owned by the worker (mailbox tasks and handler callbacks).
	w        *driver.Worker
	h        transport.Handler
	finished bool
	lastAt   int64  // due time of the latest delayed outbound item
	sent     int64  // stream bytes written
	seen     int64  // a past value of consumed: sent-seen bounds what is in flight
	outbox   []byte // instant stream writes of the current task, not yet handed over
	flushing bool   // a flush task is in the mailbox

	closeReq atomic.Bool // Close was called: Write fails
	killed   atomic.Bool // reset: outbound items still in flight are void
	writable atomic.Bool // h is a WritableHandler
	pending  atomic.Int64
	load     atomic.Uint64

	// Flow control, written by the peer's side: on their own cache line,
	// away from what the writer touches on every Write.
	_        [64]byte
	consumed atomic.Int64 // stream bytes of sent that left the network
	armed    atomic.Bool  // a Write left Buffered() > 0: wake the writer
	limit    atomic.Int64 // consumed at which Buffered() is 0 again
	_        [64]byte

	in inbox

	drainFn, closeFn, writableFn, flushFn func()
}

// inbox holds what arrived for a connection and its handler has not seen.
type inbox struct {
	mu              sync.Mutex
	buf, spare      []byte
	ends, spareEnds []int // datagram boundaries in buf
	posted          bool  // a drain is in the mailbox
	end             error // the close to report after buf
	dead            bool  // finished: drop everything
}

func (n *Network) newConn(kind transport.Kind, localID uint64, host hostKey, remoteID uint64, remoteHost hostKey, w *driver.Worker, out *link) *conn {
	c := &conn{
		n: n, kind: kind, localID: localID, remoteID: remoteID,
		local: memAddr(localID), remote: memAddr(remoteID),
		host: host, remoteHost: remoteHost, out: out, w: w,
		mb: driver.NewMailbox(w),
	}
	out.mu.Lock()
	c.maxDatagram, c.sendBuf = out.cfg.MaxDatagram, int64(out.cfg.SendBuffer)
	out.mu.Unlock()
	c.drainFn, c.closeFn, c.writableFn, c.flushFn = c.drain, c.closeLocal, c.onWritable, c.flush
	return c
}

func (c *conn) setHandler(h transport.Handler) {
	c.h = h
	_, ok := h.(transport.WritableHandler)
	c.writable.Store(ok)
}

func (c *conn) Kind() transport.Kind     { return c.kind }
func (c *conn) LocalAddr() ma.Multiaddr  { return c.local }
func (c *conn) RemoteAddr() ma.Multiaddr { return c.remote }
func (c *conn) Owner() *driver.Worker    { return c.mb.Owner() }
func (c *conn) Load() uint64             { return c.load.Load() }
func (c *conn) String() string           { return fmt.Sprintf("mem %s %s->%s", c.kind, c.local, c.remote) }
func (c *conn) MaxDatagram() int {
	if c.kind == transport.Datagram {
		return c.maxDatagram
	}
	return 0
}

// Buffered returns the bytes in flight beyond the send buffer. It reads
// the shared counter only when the last value seen says it may be above 0.
func (c *conn) Buffered() int {
	if c.sent-c.seen <= c.sendBuf {
		return 0
	}
	c.seen = c.consumed.Load()
	return int(max(c.sent-c.seen-c.sendBuf, 0))
}

func (c *conn) Post(fn func()) error {
	if err := c.mb.Post(fn); err != nil {
		return fmt.Errorf("mem: post to %v: %w (%w)", c, transport.ErrClosed, err)
	}
	return nil
}

// post hands an internal task to the mailbox; it fails only once the
// connection finished or its worker stopped, when there is nothing to do.
func (c *conn) post(fn func()) {
	if err := c.mb.Post(fn); err != nil && !c.in.isDead() {
		c.n.cfg.Logger.Debug("mem: post failed", "conn", c.String(), "err", err)
	}
}

func (c *conn) Write(b []byte) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if c.kind == transport.Datagram {
		if len(b) > c.maxDatagram {
			return fmt.Errorf("mem: write of %d bytes on %v, limit %d: %w", len(b), c, c.maxDatagram, transport.ErrTooLarge)
		}
		c.sendPacket(b)
		return nil
	}
	c.sendStream(b)
	return nil
}

func (c *conn) Writev(bufs [][]byte) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if c.kind == transport.Datagram {
		for _, b := range bufs {
			if len(b) > c.maxDatagram {
				return fmt.Errorf("mem: write of %d bytes on %v, limit %d: %w", len(b), c, c.maxDatagram, transport.ErrTooLarge)
			}
		}
		for _, b := range bufs {
			c.sendPacket(b)
		}
		return nil
	}
	for _, b := range bufs {
		c.sendStream(b)
	}
	return nil
}

func (c *conn) checkOpen() error {
	if c.finished || c.closeReq.Load() {
		return fmt.Errorf("mem: write on %v: %w", c, transport.ErrClosed)
	}
	return nil
}

func (c *conn) countWrite(n int) {
	c.load.Add(uint64(n))
	c.w.CountIO(0, n)
}

// sendStream sends one write of a stream (on the worker). On an instant
// link the write joins the outbox, which a flush task posted to c's own
// mailbox hands over when the current task is done: one lock and one
// wake-up of the receiver per burst of writes, not per write.
func (c *conn) sendStream(b []byte) {
	if len(b) == 0 {
		return
	}
	if c.sent += int64(len(b)); c.sent-c.seen > c.sendBuf {
		c.arm()
	}
	if c.out.fastStream.Load() && c.pending.Load() == 0 {
		c.outbox = append(c.outbox, b...)
		if !c.flushing {
			c.flushing = true
			c.post(c.flushFn)
		}
		return
	}
	c.flushOut() // what was written before goes first
	c.countWrite(len(b))
	p := c.peer.Load()
	now := c.n.sched.now()
	at, ok := c.out.planStream(now, c.lastAt, len(b), c.localID, c.remoteID)
	if !ok {
		c.n.stats.cut.Add(1)
		c.consume(len(b))
		return
	}
	c.lastAt = at
	if at <= now && c.pending.Load() == 0 {
		p.pushStream(b, c)
		return
	}
	c.schedule(item{at: at, from: c, data: append([]byte(nil), b...)}, len(b))
}

// sendPacket sends one datagram (on the worker).
func (c *conn) sendPacket(b []byte) {
	c.countWrite(len(b))
	st := &c.n.stats
	st.datagrams.Add(1)
	if c.killed.Load() {
		return
	}
	if c.out.fastDatagram.Load() {
		c.n.deliverPacket(c, b)
		return
	}
	now := c.n.sched.now()
	p := c.out.planDatagram(now, len(b), c.localID, c.remoteID)
	switch {
	case p.cut:
		st.cut.Add(1)
	case p.lost:
		st.lost.Add(1)
	}
	if p.dup {
		st.duplicated.Add(1)
	}
	st.reordered.Add(uint64(p.reorder))
	for _, at := range p.at[:p.n] {
		if at <= now {
			c.n.deliverPacket(c, b)
			continue
		}
		c.lastAt = max(c.lastAt, at)
		c.schedule(item{at: at, from: c, data: append([]byte(nil), b...)}, 0)
	}
}

// schedule queues a delayed item; if the network is closed the bytes are
// lost, as everything in flight then.
func (c *conn) schedule(it item, size int) {
	c.pending.Add(1)
	if !c.n.sched.push(it) {
		c.pending.Add(-1)
		if size > 0 {
			c.consume(size)
		}
	}
}

// deliverItem runs on the scheduler when it is due.
func deliverItem(it *item) {
	c := it.from
	defer c.pending.Add(-1) // after the hand-over: a later instant write must queue behind it
	switch {
	case c.killed.Load():
	case it.fin:
		if p := c.peer.Load(); p != nil {
			p.pushEnd(eofError(c), false)
		}
	case c.kind == transport.Datagram:
		c.n.deliverPacket(c, it.data)
	default:
		c.peer.Load().pushStream(it.data, c)
	}
}

func (c *conn) flush() {
	c.flushing = false
	if !c.finished {
		c.flushOut()
	}
}

// flushOut hands the outbox to the peer (on the worker).
func (c *conn) flushOut() {
	if len(c.outbox) == 0 {
		return
	}
	c.countWrite(len(c.outbox))
	c.outbox = c.peer.Load().pushOutbox(c.outbox, c)
	if cap(c.outbox) > c.spareLimit() {
		c.outbox = nil
	}
}

// pushOutbox appends a sender's outbox to the inbox, or if the inbox is
// empty swaps the two buffers. It returns the sender's next outbox.
func (c *conn) pushOutbox(b []byte, from *conn) []byte {
	c.in.mu.Lock()
	if c.in.dead || c.in.end != nil {
		c.in.mu.Unlock()
		from.consume(len(b))
		return b[:0]
	}
	next := b[:0]
	if len(c.in.buf) == 0 {
		next, c.in.buf = c.in.buf, b
	} else {
		c.in.buf = append(c.in.buf, b...)
	}
	post := !c.in.posted
	c.in.posted = true
	c.in.mu.Unlock()
	if post {
		c.post(c.drainFn)
	}
	return next
}

// pushStream appends stream bytes from the peer (any goroutine).
func (c *conn) pushStream(b []byte, from *conn) {
	c.in.mu.Lock()
	if c.in.dead || c.in.end != nil {
		c.in.mu.Unlock()
		from.consume(len(b))
		return
	}
	c.in.buf = append(c.in.buf, b...)
	post := !c.in.posted
	c.in.posted = true
	c.in.mu.Unlock()
	if post {
		c.post(c.drainFn)
	}
}

// pushPacket appends one datagram (any goroutine); false if dropped.
func (c *conn) pushPacket(b []byte) bool {
	c.in.mu.Lock()
	if c.in.dead || c.in.end != nil {
		c.in.mu.Unlock()
		return false
	}
	if len(c.in.buf)+len(b) > c.n.cfg.RecvBuffer {
		c.in.mu.Unlock()
		c.n.stats.overflow.Add(1)
		return false
	}
	c.in.buf = append(c.in.buf, b...)
	c.in.ends = append(c.in.ends, len(c.in.buf))
	post := !c.in.posted
	c.in.posted = true
	c.in.mu.Unlock()
	if post {
		c.post(c.drainFn)
	}
	return true
}

// pushEnd queues the end of the connection: after the bytes already
// queued (a peer's close), or instead of them (reset).
func (c *conn) pushEnd(err error, reset bool) {
	c.in.mu.Lock()
	if c.in.dead || c.in.end != nil && !reset {
		c.in.mu.Unlock()
		return
	}
	if reset {
		c.in.buf, c.in.ends = c.in.buf[:0], c.in.ends[:0]
	}
	c.in.end = err
	post := !c.in.posted
	c.in.posted = true
	c.in.mu.Unlock()
	if post {
		c.post(c.drainFn)
	}
}

func (in *inbox) isDead() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.dead
}

// drain hands everything queued to the handler (a mailbox task).
func (c *conn) drain() {
	in := &c.in
	in.mu.Lock()
	buf, ends, end := in.buf, in.ends, in.end
	in.buf, in.ends = in.spare[:0], in.spareEnds[:0]
	in.spare, in.spareEnds = nil, nil
	in.posted = false
	in.mu.Unlock()
	if len(buf) > 0 || len(ends) > 0 {
		c.deliver(buf, ends)
	}
	if end != nil {
		c.finish(end)
		return
	}
	if cap(buf) <= c.spareLimit() {
		in.mu.Lock()
		if in.spare == nil && !in.dead {
			in.spare, in.spareEnds = buf[:0], ends[:0]
		}
		in.mu.Unlock()
	}
}

// spareLimit bounds the buffers a connection keeps between uses (inbox
// spare, outbox). For a stream it covers what a sender that heeds
// Buffered keeps in flight (its send buffer, plus as much again if it
// writes on until Buffered reaches a bound of that size), with room for
// append's rounding; for datagrams, the receive buffer.
func (c *conn) spareLimit() int {
	if c.kind == transport.Datagram {
		return max(minSpare, c.n.cfg.RecvBuffer)
	}
	sb := c.sendBuf
	if p := c.peer.Load(); p != nil {
		sb = max(sb, p.sendBuf)
	}
	return minSpare + 4*int(sb)
}

func (c *conn) deliver(buf []byte, ends []int) {
	c.load.Add(uint64(len(buf)))
	if !c.finished {
		c.w.CountIO(len(buf), 0)
	}
	if c.kind == transport.Stream {
		if !c.finished && c.h != nil {
			c.h.OnData(c, buf)
		}
		c.peer.Load().consume(len(buf))
		return
	}
	start := 0
	for _, e := range ends {
		if c.finished || c.h == nil {
			return
		}
		c.h.OnData(c, buf[start:e:e])
		start = e
	}
}

// Backpressure without a shared write per Write: the writer counts sent
// bytes alone; the receiving side adds to consumed. When a Write leaves
// more than sendBuf in flight, the writer arms: it publishes the consumed
// value that brings Buffered back to 0 (limit), sets armed, then re-reads
// consumed. The receiving side adds to consumed, then reads armed. One of
// the two sees the other's write, so a wake-up is never missed; a
// spurious one is caught by onWritable's re-check.

// arm runs on the worker when sent-seen > sendBuf. It returns false if
// Buffered() is in fact 0 and nobody else will wake the writer.
func (c *conn) arm() bool {
	c.limit.Store(c.sent - c.sendBuf)
	c.armed.Store(true)
	c.seen = c.consumed.Load()
	if c.sent-c.seen <= c.sendBuf {
		return !c.armed.CompareAndSwap(true, false)
	}
	return true
}

// consume records that k bytes this connection sent left the network
// (any goroutine) and wakes the writer if Buffered() may be back to 0.
func (c *conn) consume(k int) {
	got := c.consumed.Add(int64(k))
	if c.armed.Load() && got >= c.limit.Load() && c.writable.Load() && c.armed.CompareAndSwap(true, false) {
		c.post(c.writableFn)
	}
}

func (c *conn) onWritable() {
	if c.finished || c.Buffered() > 0 && c.arm() {
		return
	}
	if wh, ok := c.h.(transport.WritableHandler); ok {
		wh.OnWritable(c)
	}
}

// Close flushes: the close follows every byte written into the network.
func (c *conn) Close() error {
	if c.closeReq.Swap(true) {
		return nil
	}
	_ = c.mb.Post(c.closeFn) // fails only if already finished
	return nil
}

func (c *conn) closeLocal() {
	if c.finished {
		return
	}
	c.sendFin()
	c.finish(nil)
}

// sendFin tells the peer, after everything in flight, that c closed.
func (c *conn) sendFin() {
	c.flushOut()
	if c.pending.Load() == 0 {
		if p := c.peer.Load(); p != nil {
			p.pushEnd(eofError(c), false)
		}
		return
	}
	c.schedule(item{at: max(c.lastAt, c.n.sched.now()), from: c, fin: true}, 0)
}

// finish ends c (on the worker): OnClose runs once, nothing after it.
func (c *conn) finish(err error) {
	if c.finished {
		return
	}
	c.finished = true
	c.closeReq.Store(true)
	c.in.mu.Lock()
	c.in.dead = true
	c.in.buf, c.in.spare, c.in.ends, c.in.spareEnds = nil, nil, nil, nil
	c.in.mu.Unlock()
	c.mb.Close()
	c.n.forget(c)
	c.w.Untrack(c)
	if c.h != nil {
		c.h.OnClose(c, err)
	}
}

// Detach freezes the mailbox from inside one of its own tasks, so that no
// drain of it is left queued or running on the old worker when done runs:
// done is handed to the worker as a new task, which runs after the drain
// that froze the mailbox has returned. (driver.Mailbox.Thaw does not
// reschedule a drain still queued on the old owner, which would then run
// tasks there.) The task fails the move if the connection closed or moved
// (a concurrent move) since Detach was called.
func (c *conn) Detach(done func(error)) {
	src := c.Owner()
	err := c.mb.Post(func() {
		if c.finished || c.w != src {
			done(fmt.Errorf("mem: detach %v: %w", c, driver.ErrNotOwner))
			return
		}
		c.mb.Freeze()
		if err := src.Execute(func() { done(nil) }); err != nil {
			c.mb.Thaw(src)
			done(err)
		}
	})
	if err != nil {
		done(fmt.Errorf("mem: detach %v: %w (%w)", c, driver.ErrNotOwner, transport.ErrClosed))
	}
}

func (c *conn) Attach(w *driver.Worker) {
	c.w = w
	c.mb.Thaw(w)
}

// runAccept is the first task of an accepted connection.
func (c *conn) runAccept(l *listener) {
	if c.finished {
		return
	}
	if !l.enter() {
		c.refuse(true)
		return
	}
	h := l.accept(c)
	l.exit()
	if h == nil {
		c.refuse(false)
		return
	}
	c.setHandler(h)
}

// refuse ends an accepted connection without telling its (absent)
// handler: the peer sees a close, or a reset if the listener was closed.
func (c *conn) refuse(reset bool) {
	c.closeReq.Store(true)
	if reset {
		c.n.kill(c, fmt.Errorf("mem: %s: listener closed: %w", c.local, transport.ErrReset))
	} else {
		c.sendFin()
	}
	c.finish(nil)
}
