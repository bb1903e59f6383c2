package udp

import (
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/internal/udpwire"
)

// Receiving in batches. gnet reads one datagram per read(2) and then
// calls OnTraffic; at a few microseconds per system call that, not the
// work on the datagrams, bounds what a connection receives. So OnTraffic,
// once it has handled the datagram gnet read, drains the socket itself:
// recvmmsg(2) on the connection's own descriptor, up to rxBatchMax
// datagrams per call, until the queue is empty or rxBudget datagrams have
// been read in this event, so that one busy connection does not hold up
// the others of its loop.
//
// Reading behind gnet's back is safe because the driver's loops register
// sockets level-triggered (it does not set gnet's EdgeTriggeredIO): what
// is left past the budget, or arrives after the last call, makes epoll
// report the socket again; and the socket is non-blocking (its
// descriptors share O_NONBLOCK), so a read of gnet's that finds the queue
// emptied gets EAGAIN, which gnet ignores.
//
// An error reported on the socket (an ICMP port-unreachable: ECONNREFUSED)
// is consumed by whichever read sees it first, so a drain that gets one
// closes the connection as gnet does when its read gets one, with the
// same report (readError).

// rxBudget bounds the datagrams one event drains beyond the one gnet read.
const rxBudget = 256

// rxBatchMax bounds the datagrams of one recvmmsg call; rxBatchBytes
// bounds the buffer of one call, so big datagrams come fewer at a time.
const (
	rxBatchMax   = 64
	rxBatchBytes = 256 << 10
)

// rxBatch is what one recvmmsg call reads into: a slot of slot bytes per
// datagram. Batches are pooled per Transport (rxPool) and held only
// during a drain, so an idle connection costs nothing.
type rxBatch struct {
	slot int
	buf  []byte
	iov  []unix.Iovec
	hdrs []mmsghdr
}

// rxSlotBytes is the largest datagram a connection accepts with
// MaxDatagramBytes maxDatagram: a padded INITIAL carrying that much. A
// bigger one is truncated (MSG_TRUNC) and dropped.
func rxSlotBytes(maxDatagram int) int { return udpwire.InitialSize(maxDatagram) }

func newRxBatch(slot int) *rxBatch {
	n := max(1, min(rxBatchMax, rxBatchBytes/slot))
	r := &rxBatch{slot: slot, buf: make([]byte, n*slot), iov: make([]unix.Iovec, n), hdrs: make([]mmsghdr, n)}
	for i := range r.hdrs {
		r.iov[i].Base = &r.buf[i*slot]
		r.iov[i].SetLen(slot)
		r.hdrs[i].hdr.Iov = &r.iov[i]
		r.hdrs[i].hdr.SetIovlen(1)
	}
	return r
}

// rxPool keeps the batches of a Transport between drains: at most one
// per worker is in use at a time, since a drain runs on its connection's
// worker and never inside another. Unlike a sync.Pool it keeps them
// across garbage collections, so a busy transport does not allocate.
type rxPool struct {
	slot int
	mu   sync.Mutex
	free []*rxBatch
}

// rxPoolKeep bounds the idle batches a pool keeps.
const rxPoolKeep = 16

func (p *rxPool) get() *rxBatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		rb := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return rb
	}
	return newRxBatch(p.slot)
}

func (p *rxPool) put(rb *rxBatch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < rxPoolKeep {
		p.free = append(p.free, rb)
	}
}

// datagram returns the i-th datagram the last call read, and whether the
// kernel truncated it.
func (r *rxBatch) datagram(i int) (b []byte, truncated bool) {
	h := &r.hdrs[i]
	return r.buf[i*r.slot : i*r.slot+int(min(h.n, uint32(r.slot)))], h.hdr.Flags&unix.MSG_TRUNC != 0
}

// drain reads and handles what waits in c's socket, within rxBudget (on
// the owner, from OnTraffic).
func (c *conn) drain() {
	rb := c.t.rx.get()
	defer c.t.rx.put(rb)
	for left := rxBudget; left > 0 && c.state == stateOpen && c.fd >= 0; {
		want := min(left, len(rb.hdrs))
		n, err := recvmmsg(c.fd, rb.hdrs[:want])
		if err != nil {
			if err != unix.EAGAIN {
				c.closeNow(readError(os.NewSyscallError("recvmmsg", err)))
			}
			return
		}
		raceAcquireIO()
		for i := 0; i < n && c.state == stateOpen; i++ {
			b, truncated := rb.datagram(i)
			if truncated {
				c.t.stats.tooLarge.Add(1)
				continue
			}
			c.onDatagram(b)
		}
		c.flushTx() // the replies to this batch
		if n < want {
			return // the queue is empty, or nearly: epoll tells if not
		}
		left -= n
	}
}

// recvmmsg reads up to len(hdrs) datagrams without blocking. It returns
// EAGAIN when there are none.
func recvmmsg(fd int, hdrs []mmsghdr) (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])),
			uintptr(len(hdrs)), unix.MSG_DONTWAIT, 0, 0)
		runtime.KeepAlive(hdrs)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
}
