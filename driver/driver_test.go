package driver

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func newTestDriver(t *testing.T, workers int) *Driver {
	t.Helper()
	d, err := New(Config{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{{Workers: -1}, {Workers: 5000}, {TimerResolution: time.Microsecond}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error naming the field", cfg)
		}
	}
}

func TestExecuteRunsEveryTask(t *testing.T) {
	d := newTestDriver(t, 2)
	w := d.Workers()[1]
	const n = 10000
	var got []int // touched only on w
	done := make(chan struct{})
	for i := range n {
		if err := w.Execute(func() {
			got = append(got, i)
			if i == n-1 {
				close(done)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	for len(got) < n { // done may close before tasks spilled to gnet's second queue run
		ch := make(chan struct{})
		_ = w.Execute(func() { close(ch) })
		<-ch
	}
	seen := make([]bool, n)
	for _, v := range got {
		if seen[v] {
			t.Fatalf("task %d ran twice", v)
		}
		seen[v] = true
	}
	if s := w.Stats(); s.Tasks < n || s.QueueDepth != 0 {
		t.Fatalf("stats = %+v, want ≥%d tasks and an empty queue", s, n)
	}
}

func TestTimersFireInDeadlineOrder(t *testing.T) {
	d := newTestDriver(t, 1)
	w := d.Workers()[0]
	var order []int
	done := make(chan struct{})
	start := time.Now()
	_ = w.Execute(func() {
		for i, ms := range []int{30, 10, 20} {
			w.AfterFunc(time.Duration(ms)*time.Millisecond, func() {
				order = append(order, i)
				if len(order) == 3 {
					close(done)
				}
			})
		}
		stopped := w.AfterFunc(5*time.Millisecond, func() { t.Error("stopped timer fired") })
		if !stopped.Stop() {
			t.Error("Stop of an armed timer returned false")
		}
	})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("timers did not fire")
	}
	if order[0] != 1 || order[1] != 2 || order[2] != 0 {
		t.Fatalf("fire order %v, want [1 2 0]", order)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("a timer fired before its deadline")
	}
}

// fakeMovable is a Movable whose tasks go through a Mailbox; it records
// the worker every task ran on.
type fakeMovable struct {
	mb     *Mailbox
	owner  atomic.Pointer[Worker]
	load   atomic.Uint64
	closed atomic.Bool
}

func (f *fakeMovable) Owner() *Worker { return f.owner.Load() }
func (f *fakeMovable) Detach(done func(error)) {
	f.mb.Freeze()
	go done(nil) // done may come from any goroutine
}
func (f *fakeMovable) Attach(w *Worker) { f.owner.Store(w); f.mb.Thaw(w) }
func (f *fakeMovable) Load() uint64     { return f.load.Load() }
func (f *fakeMovable) Close() error {
	f.closed.Store(true)
	f.Owner().Untrack(f)
	return nil
}

func TestMailboxFollowsMovesInOrder(t *testing.T) {
	d := newTestDriver(t, 3)
	f := &fakeMovable{mb: NewMailbox(d.Workers()[0])}
	f.owner.Store(d.Workers()[0])
	d.Workers()[0].Track(f)

	const n = 20000
	var seq int // touched only by f's tasks
	var bad atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			if err := f.mb.Post(func() {
				if seq != i {
					bad.Add(1)
				}
				seq++
			}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	moves := 0
	for i := 0; i < 200; i++ {
		if err := d.Move(context.Background(), f, d.Workers()[i%3]); err != nil {
			t.Fatal(err)
		}
		moves++
	}
	wg.Wait()
	done := make(chan int)
	_ = f.mb.Post(func() { done <- seq })
	if got := <-done; got != n || bad.Load() != 0 {
		t.Fatalf("ran %d tasks, %d out of order; want %d in order", got, bad.Load(), n)
	}
	if s := d.Stats(); s[0].Conns+s[1].Conns+s[2].Conns != 1 {
		t.Fatalf("tracked conns = %+v, want exactly one", s)
	}
}

func TestMailboxTimerFollowsMove(t *testing.T) {
	d := newTestDriver(t, 2)
	w0, w1 := d.Workers()[0], d.Workers()[1]
	f := &fakeMovable{mb: NewMailbox(w0)}
	f.owner.Store(w0)
	fired := make(chan *Worker, 1)
	armed := make(chan struct{})
	_ = f.mb.Post(func() {
		f.mb.AfterFunc(50*time.Millisecond, func() { fired <- f.Owner() })
		close(armed)
	})
	<-armed
	if err := d.Move(context.Background(), f, w1); err != nil {
		t.Fatal(err)
	}
	select {
	case w := <-fired:
		if w != w1 {
			t.Fatalf("timer ran for owner %d, want 1", w.ID())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("timer did not fire after the move")
	}
}

func TestRebalanceMovesFromBusyToIdle(t *testing.T) {
	d := newTestDriver(t, 2)
	w0 := d.Workers()[0]
	var fs []*fakeMovable
	for range 4 {
		f := &fakeMovable{mb: NewMailbox(w0)}
		f.owner.Store(w0)
		w0.Track(f)
		fs = append(fs, f)
	}
	d.Rebalance(0) // take the baseline
	for _, f := range fs {
		f.load.Add(1000)
	}
	if n := d.Rebalance(10); n == 0 {
		t.Fatal("Rebalance moved nothing off a worker holding all the load")
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.Workers()[1].Stats().Conns == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no movable arrived on the idle worker")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCloseClosesTrackedAndStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
	d, err := New(Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMovable{mb: NewMailbox(d.Workers()[1])}
	f.owner.Store(d.Workers()[1])
	d.Workers()[1].Track(f)
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !f.closed.Load() {
		t.Fatal("Close did not close the tracked movable")
	}
	if err := d.Workers()[0].Execute(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Execute after Close = %v, want ErrClosed", err)
	}
	if err := f.mb.Post(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Post to a mailbox on a closed driver = %v, want ErrClosed", err)
	}
}

// TestExecuteWakesParkedWorker hands a worker one task at a time from
// several goroutines, each waiting for its task to run before the next:
// the worker parks between most of them, so a wake-up lost in the race
// between a loop going to sleep and a task arriving hangs a goroutine.
func TestExecuteWakesParkedWorker(t *testing.T) {
	d := newTestDriver(t, 2)
	rounds := 20000
	if testing.Short() {
		rounds = 3000
	}
	errs := make(chan error, 2)
	for i := range 2 { // one per worker: each parks between its tasks
		w := d.Workers()[i]
		go func() {
			ran := make(chan struct{}, 1)
			task := func() { ran <- struct{}{} }
			for r := range rounds {
				if err := w.Execute(task); err != nil {
					errs <- err
					return
				}
				select {
				case <-ran:
				case <-time.After(5 * time.Second):
					errs <- fmt.Errorf("goroutine %d, round %d: the task did not run in 5s (a lost wake-up)", i, r)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
