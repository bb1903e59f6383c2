package udp

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/udpwire"
	"github.com/weftnet/weft/transport"
)

// Write implements transport.Conn: b goes out as one datagram (a DATA,
// or an INITIAL while a dialer has not heard back), at once, or, when the
// handler writes while c delivers what it received, with the other
// datagrams written meanwhile once those are handled (see deferTx). A
// datagram the OS does not take (full socket buffer) is dropped and
// counted, not reported: datagrams may be lost anyway, and Buffered stays
// 0.
func (c *conn) Write(b []byte) error {
	if err := c.checkWrite(b); err != nil {
		return err
	}
	c.scratch = c.frame(c.scratch[:0], b)
	c.emit(c.scratch)
	c.t.stats.sent.Add(1)
	return nil
}

// Writev implements transport.Conn: one datagram per buffer, all handed
// to the OS with one sendmmsg call (with what else the handler writes
// meanwhile, as for Write), runs of equal-size datagrams as one message
// each where the kernel segments them (UDP GSO; see tx.go).
func (c *conn) Writev(bufs [][]byte) error {
	for _, b := range bufs {
		if err := c.checkWrite(b); err != nil {
			return err
		}
	}
	if len(bufs) == 1 {
		return c.Write(bufs[0])
	}
	direct := c.rng == nil && (c.role != roleAccepted || c.validated)
	tx := &c.tx
	for _, b := range bufs {
		if direct { // framed in place: nothing to filter
			tx.buf = c.frame(tx.buf, b)
			tx.ends = append(tx.ends, len(tx.buf))
		} else {
			c.scratch = c.frame(c.scratch[:0], b)
			c.pass(c.scratch, true)
		}
		if len(tx.buf) >= txFlushBytes {
			c.flushTx()
		}
	}
	if !c.deferTx {
		c.flushTx()
	}
	c.t.stats.sent.Add(uint64(len(bufs)))
	return nil
}

func (c *conn) checkWrite(b []byte) error {
	if c.closeReq.Load() || c.state == stateClosed || c.fd < 0 {
		return errClosed
	}
	if len(b) > c.t.cfg.MaxDatagramBytes {
		return fmt.Errorf("udp: write of %d bytes, MaxDatagram is %d: %w", len(b), c.t.cfg.MaxDatagramBytes, transport.ErrTooLarge)
	}
	return nil
}

// frame appends the datagram carrying payload b to dst.
func (c *conn) frame(dst, b []byte) []byte {
	typ := udpwire.Data
	if c.role == roleDialer && !c.heard {
		typ = udpwire.Initial
	}
	return udpwire.Append(dst, udpwire.Packet{Type: typ, Payload: b})
}

// emit sends one datagram, within the amplification limit and through the
// test faults.
func (c *conn) emit(pkt []byte) { c.pass(pkt, c.deferTx) }

// pass applies the amplification limit and the test faults to pkt, then
// sends what goes out (0 to 3 datagrams) at once or, if batch, adds it to
// c.tx for flushTx.
func (c *conn) pass(pkt []byte, batch bool) {
	if c.role == roleAccepted && !c.validated {
		if c.sentBytes+len(pkt) > c.recvBytes {
			c.t.stats.amplification.Add(1)
			return
		}
		c.sentBytes += len(pkt)
	}
	if c.rng == nil {
		c.out(pkt, batch)
		return
	}
	f := c.t.cfg.Faults
	switch {
	case c.rng.Float64() < f.Loss:
		c.t.stats.byFaults.Add(1)
		return
	case c.held == nil && c.rng.Float64() < f.Reorder:
		c.held = append([]byte(nil), pkt...)
		return
	}
	c.out(pkt, batch)
	if c.rng.Float64() < f.Duplicate {
		c.out(pkt, batch)
	}
	if held := c.held; held != nil {
		c.held = nil
		c.out(held, batch)
	}
}

func (c *conn) out(pkt []byte, batch bool) {
	if batch {
		c.tx.push(pkt)
		if len(c.tx.buf) >= txFlushBytes {
			c.flushTx()
		}
	} else {
		c.send(pkt)
	}
}

// send hands one datagram to the OS.
func (c *conn) send(pkt []byte) {
	if c.fd < 0 {
		return
	}
	raceReleaseIO()
	if _, err := unix.Write(c.fd, pkt); err != nil {
		c.t.stats.sendError.Add(1)
		c.refused(err, "write")
		return
	}
	c.sent(len(pkt))
}

// refused closes c if err, what a send got, is ECONNREFUSED: an ICMP
// port-unreachable that the send took off the socket, so that no read
// will see it. c closes as if a read had got it, from its mailbox (the
// sender may be a handler, which OnClose must not interrupt).
func (c *conn) refused(err error, call string) {
	if err != unix.ECONNREFUSED {
		return
	}
	report := readError(os.NewSyscallError(call, err))
	_ = c.mb.Post(func() { c.closeNow(report) })
}

func (c *conn) sent(bytes int) {
	c.load.Add(uint64(bytes))
	c.Owner().CountIO(0, bytes)
}

// mmsghdr is struct mmsghdr of sendmmsg(2) and recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}
