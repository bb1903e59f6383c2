package udp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/udpwire"
	"github.com/weftnet/weft/transport"
)

// Write implements transport.Conn: b goes out at once as one datagram (a
// DATA, or an INITIAL while a dialer has not heard back). A datagram the
// OS does not take (full socket buffer) is dropped and counted, not
// reported: datagrams may be lost anyway, and Buffered stays 0.
func (c *conn) Write(b []byte) error {
	if err := c.checkWrite(b); err != nil {
		return err
	}
	c.scratch = c.frame(c.scratch[:0], b)
	c.emit(c.scratch)
	c.t.stats.sent.Add(1)
	return nil
}

// Writev implements transport.Conn: one datagram per buffer, handed to the
// OS with one sendmmsg call.
func (c *conn) Writev(bufs [][]byte) error {
	for _, b := range bufs {
		if err := c.checkWrite(b); err != nil {
			return err
		}
	}
	if len(bufs) == 1 || c.rng != nil || c.role == roleAccepted && !c.validated {
		for _, b := range bufs {
			c.scratch = c.frame(c.scratch[:0], b)
			c.emit(c.scratch)
		}
		c.t.stats.sent.Add(uint64(len(bufs)))
		return nil
	}
	c.sendBatch(bufs)
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
func (c *conn) emit(pkt []byte) {
	if c.role == roleAccepted && !c.validated {
		if c.sentBytes+len(pkt) > c.recvBytes {
			c.t.stats.amplification.Add(1)
			return
		}
		c.sentBytes += len(pkt)
	}
	if c.rng == nil {
		c.send(pkt)
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
	c.send(pkt)
	if c.rng.Float64() < f.Duplicate {
		c.send(pkt)
	}
	if held := c.held; held != nil {
		c.held = nil
		c.send(held)
	}
}

// send hands one datagram to the OS.
func (c *conn) send(pkt []byte) {
	if c.fd < 0 {
		return
	}
	if _, err := unix.Write(c.fd, pkt); err != nil {
		c.t.stats.sendError.Add(1)
		return
	}
	c.sent(len(pkt))
}

func (c *conn) sent(bytes int) {
	c.load.Add(uint64(bytes))
	c.Owner().CountIO(0, bytes)
}

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// maxBatch bounds the datagrams of one sendmmsg call (the kernel's UIO_MAXIOV).
const maxBatch = 1024

// sendBatch frames bufs into the scratch buffer and sends them with
// sendmmsg; datagrams the OS refuses are dropped and counted.
func (c *conn) sendBatch(bufs [][]byte) {
	for len(bufs) > maxBatch {
		c.sendBatch(bufs[:maxBatch])
		bufs = bufs[maxBatch:]
	}
	buf := c.scratch[:0]
	ends := make([]int, len(bufs))
	for i, b := range bufs {
		buf = c.frame(buf, b)
		ends[i] = len(buf)
	}
	c.scratch = buf
	iov := make([]unix.Iovec, len(bufs))
	hdrs := make([]mmsghdr, len(bufs))
	start := 0
	for i, end := range ends {
		iov[i].Base = &buf[start]
		iov[i].SetLen(end - start)
		hdrs[i].hdr.Iov = &iov[i]
		hdrs[i].hdr.SetIovlen(1)
		start = end
	}
	done := 0
	for done < len(hdrs) {
		n, err := sendmmsg(c.fd, hdrs[done:])
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENOBUFS) {
				c.t.stats.sendError.Add(uint64(len(hdrs) - done))
				break
			}
			c.t.stats.sendError.Add(1) // this one datagram failed (an ICMP error, say)
			n = 1
		} else {
			prev := 0
			if done > 0 {
				prev = ends[done-1]
			}
			c.sent(ends[done+n-1] - prev)
		}
		done += n
	}
	runtime.KeepAlive(buf)
	runtime.KeepAlive(iov)
}

func sendmmsg(fd int, hdrs []mmsghdr) (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		if n == 0 {
			return 0, unix.EAGAIN
		}
		return int(n), nil
	}
}
