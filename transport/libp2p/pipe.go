package libp2p

import (
	"errors"
	"io"
	"sync"
	"time"
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

// push queues b, the reader's buffer, waiting while the inbox is full.
// An empty inbox takes b itself, and the reader gets the inbox's empty
// buffer or the spare one (or nil) to read into next; otherwise b is
// copied and stays the reader's.
// It returns the reader's next buffer and whether a drain must be posted.
func (in *inbox) push(b []byte) (next []byte, post bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for !in.dead && !in.ended && len(in.buf) >= in.limit {
		in.room.Wait()
	}
	if in.dead || in.ended {
		return b, false
	}
	if len(in.buf) == 0 {
		next = in.buf // empty, perhaps with room
		if cap(next) == 0 {
			next, in.spare = in.spare, nil
		}
		in.buf = b
	} else {
		in.buf = append(in.buf, b...)
		next = b
	}
	post = !in.posted
	in.posted = true
	return next[:0], post
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
	in.room.Broadcast()
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

// chunkSize is the capacity of an outbox chunk: one chunk is one stream
// Write, which yamux sends as one frame (at most 64 KiB with its 12-byte
// header) that Noise seals as one message (at most 65535 bytes with its
// 16-byte tag): one encryption and one system call per chunk.
const chunkSize = 65535 - 16 - 12

// chunkPool holds the outbox chunks of every connection: an idle
// connection keeps none.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, 0, chunkSize)
	return &b
}}

func putChunk(c *[]byte) {
	*c = (*c)[:0]
	chunkPool.Put(c)
}

// outbox holds what Write accepted and the writer goroutine has not taken,
// in chunks: a Write copies its bytes once, into the last chunk and new
// ones, and the writer writes each chunk as it is. The writer runs only
// while there is something to write: an idle connection costs no
// goroutine for it.
type outbox struct {
	mu      sync.Mutex
	chunks  []*[]byte // in order; the last one may have room
	spare   []*[]byte // an empty list with capacity, for the next batch
	running bool      // a writer goroutine exists
	closing bool      // Close: flush, then close the write side
	dead    bool      // stop without flushing
	writers sync.WaitGroup
}

// push appends bufs and returns their length and whether a writer must
// be started, or false once the outbox is closing or dead.
func (o *outbox) push(bufs [][]byte) (n int, start, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing || o.dead {
		return 0, false, false
	}
	for _, b := range bufs {
		n += len(b)
		for len(b) > 0 {
			tail := o.tail()
			k := copy((*tail)[len(*tail):cap(*tail)], b)
			*tail = (*tail)[:len(*tail)+k]
			b = b[k:]
		}
	}
	return n, n > 0 && o.startLocked(), true
}

// tail returns the last chunk if it has room, else a new last chunk.
func (o *outbox) tail() *[]byte {
	if k := len(o.chunks); k > 0 {
		if c := o.chunks[k-1]; len(*c) < cap(*c) {
			return c
		}
	}
	c := chunkPool.Get().(*[]byte)
	o.chunks = append(o.chunks, c)
	return c
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

// take returns the next batch of chunks and whether the write side
// closes after it; false when the writer must exit (nothing to write, or
// dead). The writer owns the batch until it hands it to done.
func (o *outbox) take() (batch []*[]byte, fin, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dead || len(o.chunks) == 0 && !o.closing {
		o.running = false
		return nil, false, false
	}
	batch = o.chunks
	o.chunks, o.spare = o.spare[:0], nil
	return batch, o.closing, true
}

// done returns a batch's chunks to the pool and keeps its list for reuse.
func (o *outbox) done(batch []*[]byte) {
	for i, c := range batch {
		putChunk(c)
		batch[i] = nil
	}
	o.mu.Lock()
	if o.spare == nil && !o.dead {
		o.spare = batch[:0]
	}
	o.mu.Unlock()
}

// close makes the writer flush and close the write side; it reports
// whether a writer must be started for that.
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
// It reports whether the outbox was stopped already.
func (o *outbox) stop() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	was := o.dead
	for _, c := range o.chunks {
		putChunk(c)
	}
	o.dead, o.chunks, o.spare = true, nil, nil
	return was
}

// writeLoop is a writer goroutine: it writes batches until the outbox
// is empty, then closes the write side after a Close.
func (c *conn) writeLoop() {
	defer c.out.writers.Done()
	for {
		batch, fin, ok := c.out.take()
		if !ok {
			return
		}
		err := c.writeBatch(batch)
		c.out.done(batch)
		if err != nil {
			c.writeFailed(err)
			return
		}
		if fin {
			c.flushed()
			return
		}
	}
}

// writeBatch writes each chunk of batch to the stream.
func (c *conn) writeBatch(batch []*[]byte) error {
	for _, b := range batch {
		_, err := c.st.Write(*b)
		c.sent(len(*b))
		if err != nil {
			return err
		}
	}
	return nil
}

// flushed runs on the writer once everything written before Close went
// into the stream: close the write side (the peer reads EOF after the
// last byte), bound the wait for the peer's own close, and let OnClose(nil)
// run after what was received so far.
func (c *conn) flushed() {
	if err := c.st.CloseWrite(); err != nil {
		c.writeFailed(err)
		return
	}
	_ = c.st.SetReadDeadline(time.Now().Add(c.t.cfg.CloseTimeout))
	c.postIf(c.drainFn, c.in.end(nil, false))
}

// writeFailed: the stream refused a write (it was reset, the connection
// died, or a Close timed out flushing). The connection cannot carry on:
// reset it; the reader reports the end. After a stop (the peer closed, or
// a kill) the failure is expected and there is nothing to do.
func (c *conn) writeFailed(err error) {
	if c.out.stop() {
		return
	}
	c.postIf(c.drainFn, c.in.end(closeError(err), false))
	_ = c.st.Reset()
}

// readLoop is the reader: it feeds the inbox until the stream ends, then
// releases the stream. On an accepted stream it runs on the host's stream
// handler goroutine, on a dialed one on its own.
func (c *conn) readLoop() {
	size := minReadBuf
	var buf []byte
	for {
		if cap(buf) < size {
			buf = make([]byte, 0, size)
		}
		n, err := c.st.Read(buf[:cap(buf)])
		if n > 0 {
			if n == cap(buf) && size < maxReadBuf {
				size *= 2
			}
			var post bool
			buf, post = c.in.push(buf[:n])
			c.postIf(c.drainFn, post)
		}
		if err != nil {
			c.readEnded(err)
			return
		}
	}
}

// readEnded finishes the stream as the close protocol (doc.go) says, and
// waits for the writer, so that no goroutine of c is left when it returns.
func (c *conn) readEnded(err error) {
	switch {
	case errors.Is(err, io.EOF):
		// The peer closed its side: everything it sent is here. Whatever
		// this side still had to write is dropped; its own close (if it
		// has not closed yet) goes out at once.
		c.postIf(c.drainFn, c.in.end(closeError(err), false))
		c.out.stop()
		_ = c.st.Close()
	default:
		// A reset, the connection's end, or (after our Close) the peer
		// not closing its side within CloseTimeout.
		c.postIf(c.drainFn, c.in.end(closeError(err), false))
		c.out.stop()
		_ = c.st.Reset()
	}
	c.out.writers.Wait()
}
