package driver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by the driver. Callers branch on them with errors.Is.
var (
	// ErrClosed is returned by every method of a Driver, Worker or Mailbox
	// that has been closed.
	ErrClosed = errors.New("driver: closed")
	// ErrNotOwner is returned by Move when the thing to move changed owner
	// or was closed before the move started.
	ErrNotOwner = errors.New("driver: not owned by the source worker")
	// ErrMoving is returned by Move for a movable that is already moving.
	ErrMoving = errors.New("driver: already moving")
)

// Config configures a Driver. The zero value is usable: every zero field
// means the default written beside it.
type Config struct {
	// Workers is the number of workers (event loops). Default GOMAXPROCS.
	Workers int
	// TimerResolution is the tick of each worker's timer wheel: timers fire
	// at most one tick late. Default 1ms; at least 100µs.
	TimerResolution time.Duration
	// LockOSThread pins each worker's goroutine to its own OS thread.
	// Default off, measured: gnet's loop calls runtime.Gosched before each
	// blocking wait, and a locked goroutine pays two OS-thread hand-offs per
	// yield. A 64-byte round trip through the Driver took 128 µs (p50)
	// locked against 28 µs unlocked at GOMAXPROCS=2, and 431 µs against
	// 28 µs at GOMAXPROCS=1 (BenchmarkPingPong64B in transport/tcp). Turn
	// it on for thread-affine work (cgo, CPU pinning) that needs it.
	LockOSThread bool
	// Logger receives the driver's rare diagnostics. Default: silent.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Workers < 0 {
		return fmt.Errorf("driver: Config.Workers is %d; it must be 0 (GOMAXPROCS) or more", c.Workers)
	}
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Workers > 1024 {
		return fmt.Errorf("driver: Config.Workers is %d; the limit is 1024", c.Workers)
	}
	if c.TimerResolution == 0 {
		c.TimerResolution = time.Millisecond
	}
	if c.TimerResolution < 100*time.Microsecond {
		return fmt.Errorf("driver: Config.TimerResolution is %v; it must be at least 100µs", c.TimerResolution)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Driver is a pool of workers. Create one with New; every method is safe
// for concurrent use.
type Driver struct {
	cfg     Config
	workers []*Worker
	urgent  *Worker // see Urgent
	clock   *clock
	closed  atomic.Bool
	moves   sync.WaitGroup // moves in flight
	lastRR  atomic.Uint32

	movingMu sync.Mutex
	moving   map[Movable]struct{} // movables with a move in flight
}

// New starts a Driver with cfg.Workers event loops, each on a goroutine
// locked to its OS thread.
func New(cfg Config) (*Driver, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Driver{cfg: cfg, moving: make(map[Movable]struct{})}
	d.clock = newClock(cfg.TimerResolution)
	for i := range cfg.Workers {
		w, err := startWorker(d, i)
		if err != nil {
			d.stopWorkers()
			d.clock.stop()
			return nil, err
		}
		d.workers = append(d.workers, w)
	}
	u, err := startWorker(d, cfg.Workers)
	if err != nil {
		d.stopWorkers()
		d.clock.stop()
		return nil, err
	}
	d.urgent, u.urgent = u, true
	d.clock.start(d.all())
	return d, nil
}

// all returns the workers and the urgent worker.
func (d *Driver) all() []*Worker {
	if d.urgent == nil {
		return d.workers
	}
	return append(slices.Clip(d.workers), d.urgent)
}

// Urgent returns the driver's urgent worker: a worker for latency-critical
// connections (heartbeats, votes, a hub's Control lane) that Pick and
// Rebalance never use, so it carries only what is moved to it. While the
// other workers of the process keep every CPU busy (a bulk transfer), they
// look between busy rounds whether the urgent worker has I/O waiting and
// hand it their CPU; without that, the Go scheduler would notice its ready
// socket only when a CPU runs out of work, up to 10 ms later. (Linux, with
// gnet's default poller; elsewhere the urgent worker is an ordinary one.)
// Its ID is len(Workers()).
func (d *Driver) Urgent() *Worker { return d.urgent }

// Workers returns the driver's workers, indexed by Worker.ID.
func (d *Driver) Workers() []*Worker { return d.workers }

// Pick returns the worker with the fewest attached connections; ties go
// round-robin. Transports call it to place an accepted connection.
func (d *Driver) Pick() *Worker {
	start := int(d.lastRR.Add(1))
	best := d.workers[start%len(d.workers)]
	for i := 1; i < len(d.workers); i++ {
		w := d.workers[(start+i)%len(d.workers)]
		if w.conns.Load() < best.conns.Load() {
			best = w
		}
	}
	return best
}

// Stats returns a snapshot of every worker's counters.
func (d *Driver) Stats() []WorkerStats {
	out := make([]WorkerStats, len(d.workers))
	for i, w := range d.workers {
		out[i] = w.Stats()
	}
	return out
}

// Close stops the driver: it waits for moves in flight, then closes every
// connection still attached (their handlers see the close), then stops the
// event loops. If ctx ends first, the loops are stopped at once and Close
// returns ctx's error. Close is idempotent.
func (d *Driver) Close(ctx context.Context) error {
	if !d.closed.CompareAndSwap(false, true) {
		return nil
	}
	moved := make(chan struct{})
	go func() { d.moves.Wait(); close(moved) }()
	var err error
	select {
	case <-moved:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		err = d.drain(ctx)
	}
	d.clock.stop()
	d.stopWorkers()
	return err
}

// drain asks every worker to close its movables and waits until they are
// gone or ctx ends.
func (d *Driver) drain(ctx context.Context) error {
	for _, w := range d.all() {
		_ = w.Execute(w.closeAll)
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		n := int64(0)
		for _, w := range d.all() {
			n += w.conns.Load()
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("driver: close: %d connections still open: %w", n, ctx.Err())
		case <-tick.C:
		}
	}
}

func (d *Driver) stopWorkers() {
	for _, w := range d.all() {
		w.stop()
	}
}
