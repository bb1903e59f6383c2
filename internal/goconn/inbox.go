package goconn

import "sync"

// inbox holds what the reader goroutine read and the handler has not seen,
// in one buffer, so that a drain is one OnData call. When the worker keeps
// up, the inbox is empty at each read and takes the reader's buffer as it
// is: nothing is copied. When the worker lags, reads are appended, and so
// copied, on the reader goroutine, off the busy worker: one OnData for
// many reads saves the handler work per call (an endpoint may acknowledge
// after each), which costs more than the copy. Appends that outgrow the
// reader's buffer go to a joining buffer of limit plus one read, which
// never regrows; every buffer goes back to its pool after the drain.
type inbox struct {
	mu       sync.Mutex
	room     sync.Cond // signalled when buf is taken or the inbox ends
	limit    int
	joinSize int        // capacity of a joining buffer: limit + maxReadBuf
	join     *sync.Pool // of joining buffers
	buf      []byte     // queued: a reader's buffer or a joining one
	posted   bool       // a drain is in the mailbox
	ended    bool       // the stream ended: finish after buf
	err      error      // with this error
	dead     bool       // finished: drop everything
}

func (in *inbox) init(limit int) {
	in.limit = limit
	in.joinSize = limit + maxReadBuf
	in.join = bytePool(&joinPools, in.joinSize)
	in.room.L = &in.mu
}

// push queues b, a read into the reader's buffer, waiting while the inbox
// holds limit bytes or more. It returns the buffer the reader reads into
// next, empty (nil: the reader gets one of its size), and whether a drain
// must be posted. Once the inbox ended or died, b is dropped.
func (in *inbox) push(b []byte) (next []byte, post bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for !in.dead && !in.ended && len(in.buf) >= in.limit {
		in.room.Wait()
	}
	if in.dead || in.ended {
		return b[:0], false
	}
	switch {
	case len(in.buf) == 0:
		in.buf, next = b, nil // the reader's buffer itself
	case cap(in.buf)-len(in.buf) >= len(b):
		in.buf, next = append(in.buf, b...), b[:0]
	default:
		j := in.join.Get().(*[]byte)
		joined := append(append((*j)[:0], in.buf...), b...)
		in.recycle(in.buf)
		in.buf, next = joined, b[:0]
	}
	post = !in.posted
	in.posted = true
	return next, post
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
		in.recycle(in.buf)
		in.buf = nil
	}
	in.ended, in.err = true, err
	in.room.Broadcast() // a reader waiting for room must see the end
	post := !in.posted
	in.posted = true
	return post
}

// take returns what is queued and whether the stream ended (on the
// worker). The worker owns buf until it hands it to done.
func (in *inbox) take() (buf []byte, ended bool, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	buf, ended, err = in.buf, in.ended, in.err
	in.buf = nil
	in.posted = false
	in.room.Broadcast()
	return buf, ended, err
}

// done recycles the buffer of a take.
func (in *inbox) done(buf []byte) { in.recycle(buf) }

// recycle puts buf back in the pool it came from, if any.
func (in *inbox) recycle(buf []byte) {
	if cap(buf) == in.joinSize {
		buf = buf[:0]
		in.join.Put(&buf)
		return
	}
	putReadBuf(buf)
}

// kill drops everything, now and later, and frees the reader.
func (in *inbox) kill() {
	in.mu.Lock()
	in.dead = true
	in.recycle(in.buf)
	in.buf = nil
	in.room.Broadcast()
	in.mu.Unlock()
}
