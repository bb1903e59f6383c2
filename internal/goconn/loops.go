package goconn

// writeLoop is a writer goroutine: it writes chunks until the outbox is
// empty, then Fin after a Close.
func (c *Conn) writeLoop() {
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
		if c.try != nil {
			// The stream took everything before this batch, inline writes
			// included: they may start afresh.
			c.inlineCredit.Store(c.inlineBudget)
		}
		if fin {
			c.flushed()
			return
		}
	}
}

// writeBatch hands the chunks to the stream, one Write each, and each
// chunk back to the pool once written.
func (c *Conn) writeBatch(batch []*[]byte) error {
	defer c.out.recycle(batch)
	for i, ch := range batch {
		ioRelease()
		_, err := c.st.Write(*ch)
		c.sent(len(*ch))
		c.out.pool.Put(ch)
		if err != nil {
			for _, rest := range batch[i+1:] {
				c.out.pool.Put(rest)
			}
			return err
		}
	}
	return nil
}

// flushed runs on the writer once everything written before Close went
// into the stream: Fin, then OnClose(nil) is due after what was received
// so far.
func (c *Conn) flushed() {
	ioRelease()
	if err := c.st.Fin(); err != nil {
		c.writeFailed(err)
		return
	}
	c.EndInput(nil)
}

// writeFailed: the stream refused a write (it was reset, the connection
// died, or a Close timed out flushing). The connection cannot carry on:
// abort it; the reader reports the end. After StopOutput (the connection
// ended, or a kill) the failure is expected and there is nothing to do.
func (c *Conn) writeFailed(err error) {
	if c.out.stop() {
		return
	}
	c.EndInput(c.st.CloseError(err))
	c.st.Abort("write failed")
}

// ReadLoop is the reader: it feeds the inbox until Read fails, then calls
// Stream.ReadEnded, so no goroutine of c is left when it returns. The
// transport runs it on a goroutine of its own, or one it was handed (a
// stream handler's).
func (c *Conn) ReadLoop() {
	size := minReadBuf
	var buf []byte
	for {
		if cap(buf) < size {
			putReadBuf(buf)
			buf = getReadBuf(size)
		}
		n, err := c.st.Read(buf[:cap(buf)])
		if n > 0 {
			ioAcquire()
			if n == cap(buf) && size < maxReadBuf {
				size *= 2
			}
			var post bool
			buf, post = c.in.push(buf[:n])
			c.postIf(c.drainFn, post)
		}
		if err != nil {
			putReadBuf(buf)
			c.st.ReadEnded(err)
			return
		}
	}
}
