package goconn

// Inline writes. A Write goes through the writer goroutine: the worker
// copies it into the outbox and wakes the writer, which hands it to the
// stream. For a request or a reply, one small Write at a time, that hop
// is much of the latency. So when the stream is a TryWriter, a small Write
// that finds the outbox idle (no writer, nothing queued, not closing) goes
// to the stream at once, on the worker, under the outbox's lock: nothing
// written before it is still on its way, and no writer or Close can start
// in between, so the order of the bytes and of Fin is kept.
//
// A TryWriter queues what it takes until its sender gets to it (quic-go
// joins it into one frame, copying what was there). To keep that queue
// short, inline writes spend a budget that only the writer renews, after
// a blocking Write returned: by then the stream had taken everything
// written before. A Write beyond the budget goes through the writer, as
// does one the stream cannot take now (flow control) or one that fails
// (the writer meets the failure and ends the connection as usual).

// tryInline writes bufs, n bytes in all, straight to the stream if it can,
// and reports whether it did (on the worker).
func (c *Conn) tryInline(bufs [][]byte, n int) bool {
	if n == 0 || n > c.inlineBytes || c.inlineCredit.Load() < int64(n) {
		return false
	}
	b := bufs[0]
	if len(bufs) > 1 {
		c.scratch = c.scratch[:0]
		for _, p := range bufs {
			c.scratch = append(c.scratch, p...)
		}
		b = c.scratch
	}
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	if !c.out.idleLocked() {
		return false
	}
	ioRelease()
	if !c.try.TryWrite(b) {
		return false
	}
	c.inlineCredit.Add(-int64(n))
	return true
}
