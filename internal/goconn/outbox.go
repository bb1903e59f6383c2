package goconn

import "sync"

// outbox holds what Write accepted and the writer goroutine has not taken,
// copied into pooled chunks: each byte is copied once, whatever the sizes
// of the writes, and nothing regrows. The writer runs only while there is
// something to write: an idle connection costs no goroutine for it.
type outbox struct {
	pool    *sync.Pool
	mu      sync.Mutex
	queue   []*[]byte // in order; the last one may have room
	spare   []*[]byte // an empty list for the next take
	running bool      // a writer goroutine exists
	closing bool      // Close: flush, then Fin
	dead    bool      // stop without flushing
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
		c := o.pool.Get().(*[]byte)
		*c = (*c)[:0]
		o.queue = append(o.queue, c)
	}
}

// idleLocked reports whether nothing is queued or being written and the
// outbox is open: a write may then go to the stream ahead of nothing.
func (o *outbox) idleLocked() bool {
	return !o.running && len(o.queue) == 0 && !o.closing && !o.dead
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

// take returns the queued chunks and whether Fin follows them; false when
// the writer must exit (nothing to write, or dead). The writer owns the
// chunks, and puts each back once written.
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

// recycle keeps a written batch's list for reuse (its chunks went back to
// the pool).
func (o *outbox) recycle(batch []*[]byte) {
	clear(batch)
	o.mu.Lock()
	if o.spare == nil && !o.dead && cap(batch) <= 1024 {
		o.spare = batch[:0]
	}
	o.mu.Unlock()
}

// close makes the writer flush and Fin; it reports whether a writer must
// be started for that.
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
	for _, c := range o.queue {
		o.pool.Put(c)
	}
	o.dead, o.queue, o.spare = true, nil, nil
	return was
}
