package quic

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	quicgo "github.com/quic-go/quic-go"
)

// Read buffer sizes: a reader starts small (idle connections are cheap)
// and doubles its buffer whenever a read fills it.
const (
	minReadBuf = 2 << 10
	maxReadBuf = 64 << 10
)

// inbox holds what the reader goroutine read and the handler has not seen.
type inbox struct {
	mu     sync.Mutex
	room   sync.Cond // signalled when buf is taken or the inbox dies
	limit  int
	buf    []byte
	spare  []byte
	posted bool  // a drain is in the mailbox
	ended  bool  // the stream ended: finish after buf
	err    error // with this error
	dead   bool  // finished: drop everything
}

func (in *inbox) init(limit int) {
	in.limit = limit
	in.room.L = &in.mu
}

// push appends b, waiting while the inbox is full. It reports whether a
// drain must be posted.
func (in *inbox) push(b []byte) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for !in.dead && !in.ended && len(in.buf) >= in.limit {
		in.room.Wait()
	}
	if in.dead || in.ended {
		return false
	}
	in.buf = append(in.buf, b...)
	post := !in.posted
	in.posted = true
	return post
}

// end queues the end of the stream: after what is queued, or instead of
// it (reset). Only the first end counts, unless a reset overrides a
// graceful one. It reports whether a drain must be posted.
func (in *inbox) end(err error, reset bool) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dead || in.ended && !reset {
		return false
	}
	if reset {
		in.buf = in.buf[:0]
	}
	in.ended, in.err = true, err
	in.room.Broadcast() // a reader waiting for room must see the end
	post := !in.posted
	in.posted = true
	return post
}

// take returns what is queued and whether the stream ended (on the
// worker).
func (in *inbox) take() (buf []byte, ended bool, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	buf, ended, err = in.buf, in.ended, in.err
	in.buf, in.spare = in.spare[:0], nil
	in.posted = false
	in.room.Broadcast()
	return buf, ended, err
}

// recycle keeps buf for the next drain if it is not oversized.
func (in *inbox) recycle(buf []byte) {
	if cap(buf) > 2*in.limit+maxReadBuf {
		return
	}
	in.mu.Lock()
	if in.spare == nil && !in.dead {
		in.spare = buf[:0]
	}
	in.mu.Unlock()
}

// kill drops everything, now and later, and frees the reader.
func (in *inbox) kill() {
	in.mu.Lock()
	in.dead = true
	in.buf, in.spare = nil, nil
	in.room.Broadcast()
	in.mu.Unlock()
}

// chunkSize is the size of the outbox's chunks: what the writer hands to
// quic-go in one Stream.Write, like a bufio.Writer's buffer.
const chunkSize = 64 << 10

// chunks recycles outbox chunks across connections.
var chunks = sync.Pool{New: func() any {
	b := make([]byte, 0, chunkSize)
	return &b
}}

// outbox holds what Write accepted and the writer goroutine has not taken,
// copied into pooled chunks: each byte is copied once, whatever the sizes
// of the writes, and nothing regrows. The writer runs only while there is
// something to write: an idle connection costs no goroutine for it.
type outbox struct {
	mu      sync.Mutex
	queue   []*[]byte
	spare   []*[]byte
	running bool // a writer goroutine exists
	closing bool // Close: flush, then FIN
	dead    bool // stop without flushing
	writers sync.WaitGroup
}

// push copies bufs into the queue and reports whether a writer must be
// started, or false once the outbox is closing or dead.
func (o *outbox) push(bufs [][]byte) (start, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing || o.dead {
		return false, false
	}
	for _, b := range bufs {
		o.appendLocked(b)
	}
	return len(o.queue) > 0 && o.startLocked(), true
}

// appendLocked copies b to the tail of the queue.
func (o *outbox) appendLocked(b []byte) {
	for len(b) > 0 {
		if n := len(o.queue); n > 0 {
			last := o.queue[n-1]
			if room := cap(*last) - len(*last); room > 0 {
				k := min(room, len(b))
				*last = append(*last, b[:k]...)
				b = b[k:]
				continue
			}
		}
		c := chunks.Get().(*[]byte)
		*c = (*c)[:0]
		o.queue = append(o.queue, c)
	}
}

// startLocked reports whether a writer must be started, counting it.
func (o *outbox) startLocked() bool {
	if o.running || o.dead {
		return false
	}
	o.running = true
	o.writers.Add(1)
	return true
}

// take returns the queued chunks and whether FIN follows them; false when
// the writer must exit (nothing to write, or dead).
func (o *outbox) take() (batch []*[]byte, fin, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dead || len(o.queue) == 0 && !o.closing {
		o.running = false
		return nil, false, false
	}
	batch = o.queue
	o.queue, o.spare = o.spare[:0], nil
	return batch, o.closing, true
}

// recycle returns a written batch's list for reuse (its chunks went back
// to the pool).
func (o *outbox) recycle(batch []*[]byte) {
	clear(batch)
	o.mu.Lock()
	if o.spare == nil && !o.dead {
		o.spare = batch[:0]
	}
	o.mu.Unlock()
}

// close makes the writer flush and send FIN; it reports whether a writer
// must be started for that.
func (o *outbox) close() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing || o.dead {
		return false
	}
	o.closing = true
	return o.startLocked()
}

// stop makes the writer stop at its next batch and drops what is queued.
func (o *outbox) stop() {
	o.mu.Lock()
	o.dead = true
	for _, c := range o.queue {
		chunks.Put(c)
	}
	o.queue, o.spare = nil, nil
	o.mu.Unlock()
}

// postIf hands fn to the mailbox if needed; that fails only once the
// connection finished or its worker stopped, when nothing is left to do.
func (c *conn) postIf(fn func(), needed bool) {
	if needed {
		_ = c.postTask(fn)
	}
}

// writeLoop is a writer goroutine: it writes chunks until the outbox is
// empty, then FIN after a Close.
func (c *conn) writeLoop() {
	defer c.out.writers.Done()
	for {
		batch, fin, ok := c.out.take()
		if !ok {
			return
		}
		if err := c.writeBatch(batch); err != nil {
			c.writeFailed(err)
			return
		}
		if fin {
			c.flushed()
			return
		}
	}
}

// writeBatch hands the chunks to quic-go, one Stream.Write each.
func (c *conn) writeBatch(batch []*[]byte) error {
	defer c.out.recycle(batch)
	for i, ch := range batch {
		ioRelease()
		_, err := c.st.Write(*ch)
		c.sent(len(*ch))
		chunks.Put(ch)
		if err != nil {
			for _, rest := range batch[i+1:] {
				chunks.Put(rest)
			}
			return err
		}
	}
	return nil
}

// flushed runs on the writer once everything written before Close was
// handed to quic-go: send FIN, bound the wait for the peer's answer, and
// let OnClose(nil) run after what was received so far.
func (c *conn) flushed() {
	ioRelease()
	_ = c.st.Close()
	_ = c.st.SetReadDeadline(time.Now().Add(c.t.cfg.IdleTimeout))
	c.postIf(c.drainFn, c.in.end(nil, false))
}

// Nudging. A closing side flushes, sends FIN and waits for the peer to
// answer (its CONNECTION_CLOSE, or its FIN): until then quic-go must keep
// the connection to retransmit what the peer may lack. If the peer's
// CONNECTION_CLOSE is lost, and everything this side sent was already
// acknowledged, nothing more would ever be sent either way and the wait
// would last IdleTimeout; if the peer vanished (killed, its
// CONNECTION_CLOSE lost), the flush itself waits for credit that never
// comes. So from Close on, the closing side sends an empty DATAGRAM
// frame now and then (nudgeFirst, doubling): a peer that is still open
// acknowledges and ignores it; a peer that closed answers with its
// CONNECTION_CLOSE again (quic-go does so for 3 PTOs after closing), and
// after that its transport answers with a stateless reset (the reset key
// is derived from the identity key: see resetKey). If the peer's socket is
// gone too, a refusal probe (sockets.go) hears the ICMP port unreachable
// and ends the wait.
const nudgeFirst = 20 * time.Millisecond

// nudger sends the nudges of one connection.
type nudger struct {
	mu        sync.Mutex
	timer     *time.Timer
	next      time.Duration
	stopped   bool
	stopProbe func()
}

// start begins nudging qc; gone is called if the peer's socket is gone.
func (n *nudger) start(qc *quicgo.Conn, gone func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped || n.timer != nil {
		return
	}
	n.next = nudgeFirst
	n.timer = time.AfterFunc(n.next, func() { n.fire(qc) })
	if ua, ok := qc.RemoteAddr().(*net.UDPAddr); ok {
		n.stopProbe = probeRefusal(ua, nudgeFirst, gone)
	}
}

func (n *nudger) fire(qc *quicgo.Conn) {
	_ = qc.SendDatagram(nil)
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.stopped {
		n.next *= 2
		n.timer.Reset(n.next)
	}
}

// stop ends the nudges and the probe, and waits for the probe.
func (n *nudger) stop() {
	n.mu.Lock()
	n.stopped = true
	if n.timer != nil {
		n.timer.Stop()
	}
	stopProbe := n.stopProbe
	n.mu.Unlock()
	if stopProbe != nil {
		stopProbe()
	}
}

// writeFailed: the stream refused a write (the connection died, the peer
// stopped reading, or a Close timed out flushing). The connection cannot
// carry on: reset it; the reader reports the end.
func (c *conn) writeFailed(err error) {
	c.out.stop()
	c.postIf(c.drainFn, c.in.end(closeError(err), false))
	_ = c.qc.CloseWithError(codeReset, "write failed")
}

// readLoop is the reader goroutine. It also tears the connection down:
// the stream's read side is the last to learn that the connection ended.
func (c *conn) readLoop() {
	buf := make([]byte, minReadBuf)
	for {
		n, err := c.st.Read(buf)
		if n > 0 {
			ioAcquire()
			c.postIf(c.drainFn, c.in.push(buf[:n]))
			if n == len(buf) && len(buf) < maxReadBuf {
				buf = make([]byte, 2*len(buf))
			}
		}
		if err != nil {
			c.readEnded(err)
			return
		}
	}
}

// readEnded closes the QUIC connection as the close protocol says, waits
// for the writer and releases the sockets.
func (c *conn) readEnded(err error) {
	switch {
	case isDeadline(err):
		// Our FIN went out IdleTimeout ago and the peer, still acknowledging
		// packets, never answered.
		_ = c.qc.CloseWithError(codeReset, "close: no answer from the peer")
	case errors.Is(err, io.EOF):
		// The peer sent FIN: it closed, and everything it sent is here.
		c.postIf(c.drainFn, c.in.end(closeError(err), false))
		_ = c.qc.CloseWithError(codeClosed, "")
	default:
		c.postIf(c.drainFn, c.in.end(closeError(err), false))
		_ = c.qc.CloseWithError(codeReset, "")
	}
	c.nudge.stop()
	c.out.stop()
	c.out.writers.Wait()
	c.release()
}
