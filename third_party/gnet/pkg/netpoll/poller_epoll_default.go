// Copyright (c) 2019 Andy Pan
// Copyright (c) 2017 Joshua J Baker
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//go:build linux && !poll_opt

package netpoll

import (
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/panjf2000/gnet/v2/pkg/queue"
)

// Poller represents a poller which is in charge of monitoring file-descriptors.
type Poller struct {
	fd                          int    // epoll fd
	efd                         int    // eventfd
	efdBuf                      []byte // efd buffer to read an 8-byte integer
	wakeupCall                  int32
	asyncTaskQueue              queue.AsyncTaskQueue // queue with low priority
	urgentAsyncTaskQueue        queue.AsyncTaskQueue // queue with high priority
	highPriorityEventsThreshold int32                // threshold of high-priority events
	file                        *os.File             // weft patch: the epoll fd as a Go file, once registered
	rc                          syscall.RawConn      // weft patch: waits in Go's netpoller
	blocking                    bool                 // weft patch: registration failed; wait in epoll_wait
	urgent                      atomic.Bool          // weft patch: in the urgent set (poller_epoll_urgent.go)
	probe                       probe                // weft patch: wait's poll, allocated once
	probeFn                     func(uintptr) bool   // weft patch: probe.poll, bound once
	parked                      atomic.Bool          // weft patch: wait is in RawConn.Read (see wake)
	closed                      atomic.Bool          // weft patch: Close ran
}

// probe is the non-blocking epoll_wait that wait runs inside RawConn.Read.
// weft patch: a closure made per wait escaped to the heap with its results
// (three allocations per wake-up).
type probe struct {
	wakeupCall *int32 // the poller's: tasks wait, so do not park
	events     []unix.EpollEvent
	n          int
	err        error
}

func (pr *probe) poll(fd uintptr) bool {
	if atomic.LoadInt32(pr.wakeupCall) != 0 {
		pr.n, pr.err = 0, nil
		return true // Polling runs the tasks, then polls
	}
	pr.n, pr.err = unix.EpollWait(int(fd), pr.events, 0)
	return pr.n != 0 || (pr.err != nil && pr.err != unix.EINTR)
}

// wait returns the ready events, waiting for at most msec milliseconds
// (-1: no limit).
//
// weft patch: a blocking epoll_wait keeps the calling goroutine's P for as
// long as it sleeps, and the Go scheduler only takes the P back when sysmon
// notices (20 µs to 10 ms later). With as many event loops as GOMAXPROCS,
// every P can be held by sleeping loops, so any other goroutine that must run
// (a caller waiting on a channel, quic-go's and go-libp2p's goroutines) waits
// for sysmon on every hop. Instead, the epoll fd itself is made non-blocking
// and registered with Go's netpoller: a loop with nothing to do parks like
// any goroutine blocked on a socket and gives its P back at once. Every wait
// first polls with a non-blocking epoll_wait (inside RawConn.Read) and parks
// only if nothing is ready, so msec == 0 (gnet's "poll again at once" after
// a busy round) needs no separate call: that saves one system call per
// wake-up. If the epoll fd cannot be registered, the loop falls back to the
// blocking wait.
//
// Trigger wakes a parked loop without a system call: it sets the epoll
// file's read deadline in the past, which the Go runtime turns straight into
// "this goroutine is runnable" (see wake). wait then returns with n == 0 and
// Polling runs the queued tasks.
func (p *Poller) wait(events []unix.EpollEvent, msec int) (int, error) {
	if p.blocking {
		return unix.EpollWait(p.fd, events, msec)
	}
	if msec == 0 {
		// After a busy round: let goroutines this round made runnable (a
		// Recv caller, say) run first, as gnet's loop does before it
		// sleeps; what they post is then ready when the poll below runs,
		// and the loop need not park and wake again for it. If an
		// urgent loop has events nobody noticed, it runs first.
		//
		// An urgent loop does not yield: Gosched would put it at the back
		// of the global run queue, which a busy P looks at only every 61
		// scheduling rounds. It parks instead, and whatever it readied
		// runs next on its P and wakes it (see wake) onto that P again.
		if !p.urgent.Load() {
			checkUrgent()
			runtime.Gosched()
		}
	}
	pr := &p.probe
	pr.events = events
	p.parked.Store(true) // before the probe looks at wakeupCall: see wake
	rerr := p.rc.Read(p.probeFn)
	p.parked.Store(false)
	n, err := pr.n, pr.err
	pr.events, pr.n, pr.err = nil, 0, nil
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		// Woken by wake: clear the deadline before Polling looks at the
		// task queues, so a wake that lands after this is not lost (the
		// next wait returns at once) and one that landed before has its
		// task in the queues already. No epoll_wait here: the tasks run
		// first, and the wait after them polls (without parking if
		// anything is ready), so I/O that arrived meanwhile is not late
		// by more than the tasks, and a wake costs no system call.
		_ = p.file.SetReadDeadline(time.Time{})
		return 0, nil
	}
	if rerr != nil {
		return 0, rerr
	}
	return n, err
}

// wake makes a loop parked in wait runnable, or the next wait return at
// once. weft patch: with the epoll fd in Go's netpoller this is a deadline
// in the past (no system call; the runtime readies the parked goroutine,
// usually onto the caller's P, so it runs as soon as the caller blocks).
// A loop in a blocking epoll_wait is woken through the eventfd, as stock
// gnet does.
//
// Only a loop in wait needs the deadline: Trigger set wakeupCall before
// calling wake, and wait's probe looks at wakeupCall after marking the loop
// parked, so either the probe sees the task (and does not park) or wake
// sees the mark (and sets the deadline). A running loop (one that yielded
// after a busy round, say) finds the task when it next waits, with no
// deadline to set and clear.
func (p *Poller) wake() error {
	if !p.blocking {
		if !p.parked.Load() && !p.closed.Load() {
			return nil
		}
		// Fails once the poller is closed, as the eventfd write did.
		return p.file.SetReadDeadline(aLongTimeAgo)
	}
	for {
		_, err := unix.Write(p.efd, b)
		if err == unix.EAGAIN {
			_, _ = unix.Read(p.efd, p.efdBuf)
			continue
		}
		return os.NewSyscallError("write", err)
	}
}

// aLongTimeAgo is a read deadline that has always passed.
var aLongTimeAgo = time.Unix(1, 0)

// register hands the epoll fd to Go's netpoller (see wait).
func (p *Poller) register() bool {
	if err := unix.SetNonblock(p.fd, true); err != nil {
		return false
	}
	p.file = os.NewFile(uintptr(p.fd), "epoll")
	rc, err := p.file.SyscallConn()
	if err != nil {
		return false
	}
	// A probe: Read on a file the netpoller does not know fails at once
	// instead of waiting; the probe function reports "done" so it never waits.
	if err := rc.Read(func(uintptr) bool { return true }); err != nil {
		return false
	}
	// A file the netpoller does not know refuses deadlines.
	if err := p.file.SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	p.rc = rc
	p.probe.wakeupCall = &p.wakeupCall
	p.probeFn = p.probe.poll
	return true
}

// OpenPoller instantiates a poller.
func OpenPoller() (poller *Poller, err error) {
	poller = new(Poller)
	if poller.fd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		poller = nil
		err = os.NewSyscallError("epoll_create1", err)
		return
	}
	if poller.efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		_ = poller.Close()
		poller = nil
		err = os.NewSyscallError("eventfd", err)
		return
	}
	poller.efdBuf = make([]byte, 8)
	if err = poller.AddRead(&PollAttachment{FD: poller.efd}, true); err != nil {
		_ = poller.Close()
		poller = nil
		return
	}
	poller.asyncTaskQueue = queue.NewLockFreeQueue()
	poller.urgentAsyncTaskQueue = queue.NewLockFreeQueue()
	poller.highPriorityEventsThreshold = MaxPollEventsCap
	// weft patch: registered here, before any Trigger can run, so the
	// fields wake reads never change afterwards.
	if !poller.register() {
		poller.blocking = true
		if poller.file != nil {
			// Keep the fd usable for the blocking wait; Close closes it.
			_ = unix.SetNonblock(poller.fd, false)
		}
	}
	return
}

// Close closes the poller.
func (p *Poller) Close() error {
	p.closed.Store(true) // weft patch: see wake
	p.forgetUrgent()     // weft patch
	_ = unix.Close(p.efd)
	if p.file != nil {
		return p.file.Close()
	}
	return os.NewSyscallError("close", unix.Close(p.fd))
}

// Make the endianness of bytes compatible with more linux OSs under different processor-architectures,
// according to http://man7.org/linux/man-pages/man2/eventfd.2.html.
var (
	u uint64 = 1
	b        = (*(*[8]byte)(unsafe.Pointer(&u)))[:]
)

// Trigger enqueues task and wakes up the poller to process pending tasks.
// By default, any incoming task will enqueued into urgentAsyncTaskQueue
// before the threshold of high-priority events is reached. When it happens,
// any asks other than high-priority tasks will be shunted to asyncTaskQueue.
//
// Note that asyncTaskQueue is a queue of low-priority whose size may grow large and tasks in it may backlog.
func (p *Poller) Trigger(priority queue.EventPriority, fn queue.Func, param any) (err error) {
	task := queue.GetTask()
	task.Exec, task.Param = fn, param
	if priority > queue.HighPriority && p.urgentAsyncTaskQueue.Length() >= p.highPriorityEventsThreshold {
		p.asyncTaskQueue.Enqueue(task)
	} else {
		// There might be some low-priority tasks overflowing into urgentAsyncTaskQueue in a flash,
		// but that's tolerable because it ought to be a rare case.
		p.urgentAsyncTaskQueue.Enqueue(task)
	}
	if atomic.CompareAndSwapInt32(&p.wakeupCall, 0, 1) {
		err = p.wake() // weft patch: see wake
	}
	return err
}

// Polling blocks the current goroutine, monitoring the registered file descriptors and waiting for network I/O.
// When I/O occurs on any of the file descriptors, the provided callback function is invoked.
func (p *Poller) Polling(callback PollEventHandler) error {
	el := newEventList(InitPollEventsCap)
	var doChores bool

	msec := -1
	for {
		n, err := p.wait(el.events, msec)
		if n < 0 && err == unix.EINTR {
			n, err = 0, nil
		}
		// weft patch: a wake through the read deadline (see wake) returns
		// no event for the eventfd; wakeupCall says that tasks wait.
		doChores = atomic.LoadInt32(&p.wakeupCall) != 0
		if n == 0 && !doChores {
			msec = -1
			runtime.Gosched()
			continue
		} else if err != nil {
			logging.Errorf("error occurs in epoll: %v", os.NewSyscallError("epoll_wait", err))
			return err
		}
		msec = 0

		for i := 0; i < n; i++ {
			ev := &el.events[i]
			if fd := int(ev.Fd); fd == p.efd { // poller is awakened to run tasks in queues.
				doChores = true
			} else {
				err = callback(fd, ev.Events, 0)
				if errors.Is(err, errorx.ErrAcceptSocket) || errors.Is(err, errorx.ErrEngineShutdown) {
					return err
				}
			}
		}

		if doChores {
			doChores = false
			task := p.urgentAsyncTaskQueue.Dequeue()
			for ; task != nil; task = p.urgentAsyncTaskQueue.Dequeue() {
				err = task.Exec(task.Param)
				if errors.Is(err, errorx.ErrEngineShutdown) {
					return err
				}
				queue.PutTask(task)
			}
			for i := 0; i < MaxAsyncTasksAtOneTime; i++ {
				if task = p.asyncTaskQueue.Dequeue(); task == nil {
					break
				}
				err = task.Exec(task.Param)
				if errors.Is(err, errorx.ErrEngineShutdown) {
					return err
				}
				queue.PutTask(task)
			}
			atomic.StoreInt32(&p.wakeupCall, 0)
			if (!p.asyncTaskQueue.IsEmpty() || !p.urgentAsyncTaskQueue.IsEmpty()) && atomic.CompareAndSwapInt32(&p.wakeupCall, 0, 1) {
				if err = p.wake(); err != nil {
					logging.Errorf("failed to notify next round of event-loop for leftover tasks, %v", err)
				}
			}
		}

		if n == el.size {
			el.expand()
		} else if n < el.size>>1 {
			el.shrink()
		}
	}
}

// AddReadWrite registers the given file descriptor with readable and writable events to the poller.
func (p *Poller) AddReadWrite(pa *PollAttachment, edgeTriggered bool) error {
	var ev uint32 = ReadWriteEvents
	if edgeTriggered {
		ev |= unix.EPOLLET | unix.EPOLLRDHUP
	}
	return os.NewSyscallError("epoll_ctl add",
		unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, pa.FD, &unix.EpollEvent{Fd: int32(pa.FD), Events: ev}))
}

// AddRead registers the given file descriptor with readable event to the poller.
func (p *Poller) AddRead(pa *PollAttachment, edgeTriggered bool) error {
	var ev uint32 = ReadEvents
	if edgeTriggered {
		ev |= unix.EPOLLET | unix.EPOLLRDHUP
	}
	return os.NewSyscallError("epoll_ctl add",
		unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, pa.FD, &unix.EpollEvent{Fd: int32(pa.FD), Events: ev}))
}

// AddWrite registers the given file descriptor with writable event to the poller.
func (p *Poller) AddWrite(pa *PollAttachment, edgeTriggered bool) error {
	var ev uint32 = WriteEvents
	if edgeTriggered {
		ev |= unix.EPOLLET | unix.EPOLLRDHUP
	}
	return os.NewSyscallError("epoll_ctl add",
		unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, pa.FD, &unix.EpollEvent{Fd: int32(pa.FD), Events: ev}))
}

// ModRead modifies the given file descriptor with readable event in the poller.
func (p *Poller) ModRead(pa *PollAttachment, edgeTriggered bool) error {
	var ev uint32 = ReadEvents
	if edgeTriggered {
		ev |= unix.EPOLLET | unix.EPOLLRDHUP
	}
	return os.NewSyscallError("epoll_ctl mod",
		unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, pa.FD, &unix.EpollEvent{Fd: int32(pa.FD), Events: ev}))
}

// ModReadWrite modifies the given file descriptor with readable and writable events in the poller.
func (p *Poller) ModReadWrite(pa *PollAttachment, edgeTriggered bool) error {
	var ev uint32 = ReadWriteEvents
	if edgeTriggered {
		ev |= unix.EPOLLET | unix.EPOLLRDHUP
	}
	return os.NewSyscallError("epoll_ctl mod",
		unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, pa.FD, &unix.EpollEvent{Fd: int32(pa.FD), Events: ev}))
}

// Delete removes the given file descriptor from the poller.
func (p *Poller) Delete(fd int) error {
	return os.NewSyscallError("epoll_ctl del", unix.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, fd, nil))
}
