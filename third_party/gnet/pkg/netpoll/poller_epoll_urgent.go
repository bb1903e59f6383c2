// weft patch: urgent pollers. Not part of gnet v2.10.0; see PATCHED.md.

//go:build linux && !poll_opt

package netpoll

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Urgent pollers answer one question the Go scheduler leaves open. A loop
// parked in Go's netpoller (see Poller.wait) becomes runnable only when some
// thread polls the netpoller, and a Go P polls it only when it has nothing
// else to run, or sysmon does every 10 ms. On a machine whose every P is kept
// busy (a bulk transfer encrypting on all cores), a loop whose socket became
// readable can wait milliseconds before anyone notices: fine for the bulk
// transfer, not for a heartbeat or a vote.
//
// An urgent poller's epoll fd also sits in one process-wide epoll set. Every
// other loop, between busy rounds and at most once per urgentCheckEvery
// process-wide, asks that set without blocking whether an urgent poller has
// events; if so it wakes that poller through its read deadline, which puts
// the urgent loop's goroutine next in line on the asking loop's P, and then
// yields to it (the Gosched in wait). The urgent loop thus runs within about
// one busy round of its data arriving, whatever else keeps the Ps busy.

// urgentCheckEvery bounds how often busy loops, together, look at the urgent
// set: one non-blocking epoll_wait per interval at most, so the cost stays
// under a few percent of one core however many loops are busy.
const urgentCheckEvery = 30 * time.Microsecond

var urgent struct {
	count     atomic.Int32 // urgent pollers open; 0: nobody checks
	lastCheck atomic.Int64 // ns since urgentEpoch of the last check

	mu      sync.Mutex
	fd      int // the epoll set of urgent pollers' epoll fds (-1 until needed; then never changes)
	pollers map[int32]*Poller
}

var urgentEpoch = time.Now()

func init() { urgent.fd = -1 }

// SetUrgent makes p urgent (see above). It may be called from any
// goroutine, once p is open; calling it again does nothing.
func (p *Poller) SetUrgent() error {
	if p.blocking {
		// A loop in a blocking epoll_wait is woken by the kernel itself.
		return nil
	}
	urgent.mu.Lock()
	defer urgent.mu.Unlock()
	if p.urgent.Load() {
		return nil
	}
	if urgent.fd < 0 {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return os.NewSyscallError("epoll_create1", err)
		}
		urgent.fd, urgent.pollers = fd, make(map[int32]*Poller)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.fd)}
	if err := unix.EpollCtl(urgent.fd, unix.EPOLL_CTL_ADD, p.fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl add", err)
	}
	urgent.pollers[int32(p.fd)] = p
	p.urgent.Store(true)
	urgent.count.Add(1)
	return nil
}

// forgetUrgent takes p out of the urgent set; Close calls it.
func (p *Poller) forgetUrgent() {
	if !p.urgent.Load() {
		return
	}
	urgent.mu.Lock()
	defer urgent.mu.Unlock()
	if !p.urgent.Swap(false) {
		return
	}
	_ = unix.EpollCtl(urgent.fd, unix.EPOLL_CTL_DEL, p.fd, nil)
	delete(urgent.pollers, int32(p.fd))
	urgent.count.Add(-1)
}

// checkUrgent runs on a non-urgent loop after a busy round: if urgent
// pollers exist and nobody looked during the last urgentCheckEvery, it
// wakes every urgent poller that has events, so that the Gosched that
// follows runs them.
func checkUrgent() {
	if urgent.count.Load() == 0 {
		return
	}
	now := int64(time.Since(urgentEpoch))
	last := urgent.lastCheck.Load()
	if now-last < int64(urgentCheckEvery) || !urgent.lastCheck.CompareAndSwap(last, now) {
		return
	}
	var evs [8]unix.EpollEvent
	// urgent.fd is set once, before the first count.Add: the count seen
	// above orders this read after it, no lock needed.
	n, err := unix.EpollWait(urgent.fd, evs[:], 0)
	if err != nil || n <= 0 {
		return
	}
	var ready [len(evs)]*Poller
	urgent.mu.Lock()
	for i, ev := range evs[:n] {
		ready[i] = urgent.pollers[ev.Fd]
	}
	urgent.mu.Unlock()
	for _, q := range ready[:n] {
		if q != nil {
			_ = q.file.SetReadDeadline(aLongTimeAgo) // fails only once q closed
		}
	}
}
