package udp

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sending in batches. Writev frames its datagrams back to back in the
// connection's txBatch, and flushTx hands them to the OS with
// sendmmsg(2): one system call for the lot. While the connection delivers
// what it received (deferTx), what its handler writes, with Write or
// Writev, waits there until the datagrams of that read are handled, so
// that the replies to a batch (acknowledgements, say) go out in one call
// too.
//
// Where the kernel segments UDP (GSO, Linux 4.18 and later), each run of
// equal-size datagrams (the last of a run may be shorter) goes as one
// message with a UDP_SEGMENT control message: the kernel builds one
// buffer for the run and cuts it into datagrams only where it must (in
// the device, or at the socket of a receiver on this host), so the stack
// is crossed once per run, not once per datagram. The datagrams on the
// wire are the same either way. If the kernel refuses a segmented message
// (a route whose MTU is below the datagram size, a device without
// checksum offload), the connection sends the rest one message per
// datagram, and stops segmenting.

// GSO bounds: the kernel's UDP_MAX_SEGMENTS (64; newer kernels allow
// more), and what one IPv4 or IPv6 packet carries, with room to spare.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
)

// txBatch holds the datagrams waiting for flushTx, framed back to back in
// buf, and the messages flushTx makes of them. It is the connection's and
// is reused, so a steady sender allocates nothing.
//
// txFlushBytes bounds buf: a batch that reaches it goes out at once (a
// congestion window of megabytes, say), so that a connection keeps no
// more than that, and the kernel gets no more in one call.
type txBatch struct {
	buf  []byte
	ends []int // ends[i]: where datagram i ends in buf
	// The messages: one iovec and header each; first[k] is the index of
	// message k's first datagram, seg[k] its segment size (0: one datagram).
	iov   []unix.Iovec
	hdrs  []mmsghdr
	first []int
	seg   []int
	cmsg  []byte
}

const txFlushBytes = 512 << 10

func (t *txBatch) reset() { t.buf, t.ends = t.buf[:0], t.ends[:0] }

func (t *txBatch) push(pkt []byte) {
	t.buf = append(t.buf, pkt...)
	t.ends = append(t.ends, len(t.buf))
}

// start returns where datagram i begins in buf.
func (t *txBatch) start(i int) int {
	if i == 0 {
		return 0
	}
	return t.ends[i-1]
}

// messages makes the messages of datagrams from on: with gso, one per
// run (runLen), else one per datagram.
func (t *txBatch) messages(from int, gso bool) {
	t.iov, t.first, t.seg, t.cmsg = t.iov[:0], t.first[:0], t.seg[:0], t.cmsg[:0]
	for i := from; i < len(t.ends); {
		n := 1
		if gso {
			n = t.runLen(i)
		}
		start, end := t.start(i), t.ends[i+n-1]
		t.iov = append(t.iov, unix.Iovec{Base: &t.buf[start]})
		t.iov[len(t.iov)-1].SetLen(end - start)
		t.first = append(t.first, i)
		seg := 0
		if n > 1 {
			seg = t.ends[i] - start
			t.cmsg = appendSegment(t.cmsg, seg)
		}
		t.seg = append(t.seg, seg)
		i += n
	}
	if cap(t.hdrs) < len(t.iov) {
		t.hdrs = make([]mmsghdr, len(t.iov))
	}
	t.hdrs = t.hdrs[:len(t.iov)]
	cm := 0
	for k := range t.hdrs {
		t.hdrs[k] = mmsghdr{}
		h := &t.hdrs[k].hdr
		h.Iov = &t.iov[k]
		h.SetIovlen(1)
		if t.seg[k] > 0 {
			h.Control = &t.cmsg[cm]
			h.SetControllen(segmentSpace)
			cm += segmentSpace
		}
	}
}

// runLen returns how many datagrams from i on make one segmented
// message: the following ones of the same size as i, and then at most
// one shorter, within the GSO bounds.
func (t *txBatch) runLen(i int) int {
	start := t.start(i)
	size := t.ends[i] - start
	j := i + 1
	for j < len(t.ends) && j-i < gsoMaxSegments && t.ends[j]-start <= gsoMaxBytes {
		s := t.ends[j] - t.ends[j-1]
		if s > size {
			break
		}
		j++
		if s < size {
			break
		}
	}
	return j - i
}

// datagrams returns how many datagrams message k carries.
func (t *txBatch) datagrams(k int) int {
	if k+1 < len(t.first) {
		return t.first[k+1] - t.first[k]
	}
	return len(t.ends) - t.first[k]
}

// bytes returns the bytes of message k.
func (t *txBatch) bytes(k int) int {
	return t.ends[t.first[k]+t.datagrams(k)-1] - t.start(t.first[k])
}

// segmentSpace is the room of one UDP_SEGMENT control message.
var segmentSpace = unix.CmsgSpace(2)

// appendSegment appends a UDP_SEGMENT control message of segment size
// seg to b.
func appendSegment(b []byte, seg int) []byte {
	off := len(b)
	b = append(b, make([]byte, segmentSpace)...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[off]))
	h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&b[off+unix.CmsgLen(0)])) = uint16(seg)
	return b
}

// flushTx sends what c.tx holds and empties it; datagrams the OS refuses
// are dropped and counted.
func (c *conn) flushTx() {
	t := &c.tx
	defer t.reset()
	if c.fd < 0 || len(t.ends) == 0 {
		return
	}
	t.messages(0, c.gso)
	raceReleaseIO()
	for done := 0; done < len(t.hdrs); {
		n, err := sendmmsg(c.fd, t.hdrs[done:])
		switch {
		case err == nil:
			for k := done; k < done+n; k++ {
				c.sent(t.bytes(k))
			}
			done += n
		case t.seg[done] > 0 && (err == unix.EIO || err == unix.EINVAL || err == unix.EMSGSIZE):
			c.gso = false // segmenting refused: resend the rest whole
			c.t.cfg.Logger.Debug("udp: GSO refused; sending datagrams one by one", "remote", c.remoteAP, "err", err)
			t.messages(t.first[done], false)
			done = 0
		case err == unix.EAGAIN || err == unix.ENOBUFS:
			c.t.stats.sendError.Add(uint64(len(t.ends) - t.first[done]))
			done = len(t.hdrs)
		default: // this message failed (an ICMP error, say)
			c.t.stats.sendError.Add(uint64(t.datagrams(done)))
			c.refused(err, "sendmmsg")
			done++
		}
	}
	runtime.KeepAlive(t)
}

// sendmmsg sends the messages of hdrs, as many as the OS takes.
func sendmmsg(fd int, hdrs []mmsghdr) (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
		runtime.KeepAlive(hdrs)
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

// gsoSupported reports whether the kernel segments UDP datagrams for
// socket fd (it knows UDP_SEGMENT).
func gsoSupported(fd int) bool {
	_, err := unix.GetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	return err == nil
}
