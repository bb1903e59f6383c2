package driver

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/weftnet/weft/internal/wheel"
)

// Worker is one event loop: a gnet v2 event loop on its own goroutine
// (locked to an OS thread if Config.LockOSThread). Everything attached to a worker (connections, endpoints,
// their timers) runs on that goroutine, one callback at a time, so it needs
// no locks. Other goroutines hand it work with Execute.
type Worker struct {
	id     int
	d      *Driver
	urgent bool // the driver's urgent worker (Driver.Urgent)
	// marked makes the urgent worker's loop urgent (gnet.SetUrgent) when
	// it first gets a connection: until then no other loop pays for
	// looking at it.
	marked sync.Once
	cli    *gnet.Client
	loop   gnet.EventLoop
	closed atomic.Bool
	// enrolls holds a read lock for every enrollment in flight; stop takes
	// the write lock so no enrollment waits on a loop that has exited.
	enrolls sync.RWMutex

	wheel       *wheel.Wheel // touched only on the loop
	nextTick    atomic.Uint64
	timerQueued atomic.Bool

	mu    sync.Mutex
	owned map[Movable]uint64 // movable → load at last Rebalance
	conns atomic.Int64

	runTask      func(any) error // runTaskParam, bound once
	queued       atomic.Int64
	tasks        atomic.Uint64
	events       atomic.Uint64
	timersFired  atomic.Uint64
	bytesRead    atomic.Uint64
	bytesWritten atomic.Uint64
}

// WorkerStats is a snapshot of a worker's counters.
type WorkerStats struct {
	ID           int
	Conns        int    // movables attached now (connections, endpoints)
	BytesRead    uint64 // bytes received by connections on this worker
	BytesWritten uint64 // bytes handed to the OS or peer by connections here
	QueueDepth   int    // tasks handed over by Execute and not yet run
	Tasks        uint64 // tasks run
	Events       uint64 // I/O callbacks (open, traffic, close) run
	TimersFired  uint64
}

// ID returns the worker's index in Driver.Workers, or len(Workers()) for
// the urgent worker.
func (w *Worker) ID() int { return w.id }

// Urgent reports whether w is its driver's urgent worker (Driver.Urgent).
func (w *Worker) Urgent() bool { return w.urgent }

// Driver returns the driver w belongs to.
func (w *Worker) Driver() *Driver { return w.d }

// Stats returns a snapshot of w's counters. Safe from any goroutine.
func (w *Worker) Stats() WorkerStats {
	return WorkerStats{
		ID:           w.id,
		Conns:        int(w.conns.Load()),
		BytesRead:    w.bytesRead.Load(),
		BytesWritten: w.bytesWritten.Load(),
		QueueDepth:   int(w.queued.Load()),
		Tasks:        w.tasks.Load(),
		Events:       w.events.Load(),
		TimersFired:  w.timersFired.Load(),
	}
}

// CountIO adds to w's byte counters. Transports call it on w.
func (w *Worker) CountIO(read, written int) {
	if read > 0 {
		w.bytesRead.Add(uint64(read))
	}
	if written > 0 {
		w.bytesWritten.Add(uint64(written))
	}
}

// Execute runs fn on w's loop. It never blocks and may be called from any
// goroutine, including w itself (fn then runs later, not inline). Tasks
// usually run in the order they were handed over, but not always: when
// more than a thousand wait, gnet spills new ones into a second queue. Use
// a Mailbox when order matters. Execute returns ErrClosed once the worker
// has stopped.
func (w *Worker) Execute(fn func()) error {
	if w.closed.Load() {
		return ErrClosed
	}
	w.queued.Add(1)
	if err := gnet.ExecuteFunc(w.loop, w.runTask, fn); err != nil {
		w.queued.Add(-1)
		return fmt.Errorf("driver: worker %d: %w", w.id, ErrClosed)
	}
	return nil
}

// runTaskParam runs a function handed over by Execute, passed as gnet's
// task parameter to the method value runTask, bound once: Execute makes
// no closure.
func (w *Worker) runTaskParam(fn any) error {
	w.queued.Add(-1)
	w.tasks.Add(1)
	fn.(func())()
	return nil
}

// Track attaches m to w, for Stats, Rebalance and Driver.Close. Transports
// call it when a connection opens on w (and Move calls it after a move).
func (w *Worker) Track(m Movable) {
	if w.urgent {
		w.marked.Do(func() {
			if err := gnet.SetUrgent(w.loop); err != nil {
				w.d.cfg.Logger.Debug("driver: the urgent worker is scheduled like the others", "err", err)
			}
		})
	}
	w.mu.Lock()
	if _, ok := w.owned[m]; !ok {
		w.owned[m] = m.Load()
		w.conns.Add(1)
	}
	w.mu.Unlock()
}

// Untrack detaches m from w. Transports call it when a connection closes.
func (w *Worker) Untrack(m Movable) {
	w.mu.Lock()
	if _, ok := w.owned[m]; ok {
		delete(w.owned, m)
		w.conns.Add(-1)
	}
	w.mu.Unlock()
}

func (w *Worker) closeAll() {
	w.mu.Lock()
	ms := make([]Movable, 0, len(w.owned))
	for m := range w.owned {
		ms = append(ms, m)
	}
	w.mu.Unlock()
	for _, m := range ms {
		_ = m.Close()
	}
}

// GnetHandler receives the events of a gnet connection attached to a worker
// with Enroll. gnet-based transports (tcp, udp) implement it; all three
// methods run on the worker.
type GnetHandler interface {
	OnOpen(w *Worker, c gnet.Conn)
	OnTraffic(c gnet.Conn) gnet.Action
	OnClose(c gnet.Conn, err error)
}

// Enroll hands nc to w's event loop and closes nc (the loop keeps a
// duplicate of its descriptor). h.OnOpen runs on w before Enroll returns.
// Enroll blocks until then: never call it from a worker.
func (w *Worker) Enroll(nc net.Conn, h GnetHandler) error {
	w.enrolls.RLock()
	defer w.enrolls.RUnlock()
	if w.closed.Load() {
		nc.Close()
		return ErrClosed
	}
	if _, err := w.cli.EnrollContext(nc, h); err != nil {
		return fmt.Errorf("driver: worker %d: enroll: %w", w.id, err)
	}
	return nil
}

// EnrollAsync is Enroll for callers on a worker: it returns at once and
// h.OnOpen runs on w later. If the enrollment fails, fail is called (on no
// particular goroutine) with the reason and nc is closed.
func (w *Worker) EnrollAsync(nc net.Conn, h GnetHandler, fail func(error)) {
	w.enrolls.RLock()
	if w.closed.Load() {
		w.enrolls.RUnlock()
		nc.Close()
		fail(fmt.Errorf("driver: worker %d: enroll: %w", w.id, ErrClosed))
		return
	}
	ch, err := w.loop.Enroll(gnet.NewContext(context.Background(), h), nc)
	if err != nil {
		w.enrolls.RUnlock()
		nc.Close()
		fail(fmt.Errorf("driver: worker %d: enroll: %w", w.id, err))
		return
	}
	go func() {
		r := <-ch
		w.enrolls.RUnlock()
		if r.Err != nil {
			fail(fmt.Errorf("driver: worker %d: enroll: %w", w.id, r.Err))
		}
	}()
}

// loopHandler is the gnet event handler of one worker: it dispatches each
// connection's events to the GnetHandler stored in its context.
type loopHandler struct {
	gnet.BuiltinEventEngine
	w *Worker
}

func (h *loopHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	h.w.events.Add(1)
	if gh, ok := c.Context().(GnetHandler); ok {
		gh.OnOpen(h.w, c)
	}
	return nil, gnet.None
}

func (h *loopHandler) OnTraffic(c gnet.Conn) gnet.Action {
	h.w.events.Add(1)
	if gh, ok := c.Context().(GnetHandler); ok {
		return gh.OnTraffic(c)
	}
	_, _ = c.Discard(-1)
	return gnet.None
}

func (h *loopHandler) OnClose(c gnet.Conn, err error) gnet.Action {
	h.w.events.Add(1)
	if gh, ok := c.Context().(GnetHandler); ok {
		gh.OnClose(c, err)
	}
	return gnet.None
}

func startWorker(d *Driver, id int) (*Worker, error) {
	w := &Worker{id: id, d: d, owned: make(map[Movable]uint64)}
	w.runTask = w.runTaskParam
	w.wheel = wheel.New(d.clock.now())
	w.nextTick.Store(noTick)
	cli, err := gnet.NewClient(&loopHandler{w: w},
		gnet.WithNumEventLoop(1),
		gnet.WithLockOSThread(d.cfg.LockOSThread),
		gnet.WithLogger(silentLogger{}),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(256<<10),
	)
	if err != nil {
		return nil, fmt.Errorf("driver: worker %d: %w", id, err)
	}
	if err := cli.Start(); err != nil {
		return nil, fmt.Errorf("driver: worker %d: start: %w", id, err)
	}
	w.cli = cli
	// gnet hands out an EventLoop only through a connection on it. A
	// connected UDP socket that never sends is the cheapest one to hold.
	ctrl, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9})
	if err != nil {
		_ = cli.Stop()
		return nil, fmt.Errorf("driver: worker %d: control socket: %w", id, err)
	}
	gc, err := cli.EnrollContext(ctrl, nil)
	if err != nil {
		_ = cli.Stop()
		return nil, fmt.Errorf("driver: worker %d: control socket: %w", id, err)
	}
	w.loop = gc.EventLoop()
	return w, nil
}

func (w *Worker) stop() {
	if w.closed.Swap(true) || w.cli == nil {
		return
	}
	w.enrolls.Lock() // wait for enrollments in flight
	_ = w.cli.Stop()
	w.enrolls.Unlock()
}

// silentLogger drops gnet's logs; the driver reports through its own
// slog.Logger.
type silentLogger struct{}

func (silentLogger) Debugf(string, ...any) {}
func (silentLogger) Infof(string, ...any)  {}
func (silentLogger) Warnf(string, ...any)  {}
func (silentLogger) Errorf(string, ...any) {}
func (silentLogger) Fatalf(string, ...any) {}
