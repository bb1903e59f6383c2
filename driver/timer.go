package driver

import (
	"math"
	"sync"
	"time"

	"github.com/weftnet/weft/internal/wheel"
)

// noTick means "no timer scheduled" in Worker.nextTick.
const noTick = math.MaxUint64

// Timer runs a function on a worker after a delay. It belongs to the worker
// that scheduled it: call Stop and Reset only on that worker.
type Timer struct {
	t  wheel.Timer
	w  *Worker
	fn func()
}

// AfterFunc runs fn on w after at least d (rounded up to the timer
// resolution). Call it only on w.
func (w *Worker) AfterFunc(d time.Duration, fn func()) *Timer {
	t := &Timer{w: w, fn: fn}
	t.Reset(d)
	return t
}

// Reset re-arms t to fire after d, whether or not it was active.
func (t *Timer) Reset(d time.Duration) {
	w := t.w
	deadline := w.d.clock.tickAfter(d)
	w.wheel.Schedule(&t.t, deadline, t.fire)
	w.publishNext()
}

// Stop disarms t and reports whether it was active.
func (t *Timer) Stop() bool { return t.w.wheel.Stop(&t.t) }

func (t *Timer) fire() {
	t.w.timersFired.Add(1)
	t.fn()
}

// publishNext tells the clock when w next needs to run its wheel, if that
// is earlier than what it knows.
func (w *Worker) publishNext() {
	next, ok := w.wheel.Next()
	if !ok {
		return
	}
	for {
		cur := w.nextTick.Load()
		if next >= cur {
			return
		}
		if w.nextTick.CompareAndSwap(cur, next) {
			w.d.clock.poke()
			return
		}
	}
}

// runTimers advances w's wheel to now; the clock schedules it on w.
func (w *Worker) runTimers() {
	w.timerQueued.Store(false)
	w.nextTick.Store(noTick)
	w.wheel.Advance(w.d.clock.now())
	w.publishNext()
}

// clock is the one goroutine per driver that sleeps until the earliest
// timer of any worker and then hands that worker its runTimers task. gnet
// loops block in epoll_wait without a timeout, so something outside them
// must wake them for timers.
type clock struct {
	res      time.Duration
	epoch    time.Time
	wake     chan struct{}
	done     chan struct{}
	stopped  sync.WaitGroup
	stopOnce sync.Once
}

func newClock(res time.Duration) *clock {
	return &clock{res: res, epoch: time.Now(), wake: make(chan struct{}, 1), done: make(chan struct{})}
}

func (c *clock) now() uint64 { return uint64(time.Since(c.epoch) / c.res) }

// tickAfter returns the first tick at or after now+d.
func (c *clock) tickAfter(d time.Duration) uint64 {
	if d < 0 {
		d = 0
	}
	t := time.Since(c.epoch) + d
	return uint64((t + c.res - 1) / c.res)
}

func (c *clock) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *clock) start(workers []*Worker) {
	c.stopped.Add(1)
	go c.run(workers)
}

func (c *clock) stop() {
	c.stopOnce.Do(func() { close(c.done) })
	c.stopped.Wait()
}

func (c *clock) run(workers []*Worker) {
	defer c.stopped.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := c.now()
		earliest := uint64(noTick)
		for _, w := range workers {
			next := w.nextTick.Load()
			if next <= now {
				if !w.timerQueued.Swap(true) {
					if w.Execute(w.runTimers) != nil {
						w.timerQueued.Store(false)
					}
				}
				continue
			}
			earliest = min(earliest, next)
		}
		sleep := time.Hour
		if earliest != noTick {
			sleep = time.Duration(earliest)*c.res - time.Since(c.epoch)
		}
		timer.Reset(max(sleep, 0))
		select {
		case <-c.done:
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}
