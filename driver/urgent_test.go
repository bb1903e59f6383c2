package driver

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestUrgentWorkerIsApart(t *testing.T) {
	d := newTestDriver(t, 2)
	u := d.Urgent()
	if u == nil || !u.Urgent() || u.ID() != len(d.Workers()) {
		t.Fatalf("Urgent() = %v (urgent %v, id %d), want a worker with ID %d", u, u != nil && u.Urgent(), u.ID(), len(d.Workers()))
	}
	for _, w := range d.Workers() {
		if w.Urgent() {
			t.Fatalf("worker %d reports Urgent", w.ID())
		}
	}
	for range 100 {
		if d.Pick() == u {
			t.Fatal("Pick returned the urgent worker")
		}
	}
	if len(d.Stats()) != len(d.Workers()) {
		t.Fatalf("Stats has %d entries, want one per worker (%d)", len(d.Stats()), len(d.Workers()))
	}
}

// The urgent worker runs tasks, timers and moved work like any other, and
// Close closes what it holds.
func TestUrgentWorkerRunsMovedWork(t *testing.T) {
	d, err := New(Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	u, w0 := d.Urgent(), d.Workers()[0]
	f := &fakeMovable{mb: NewMailbox(w0)}
	f.owner.Store(w0)
	w0.Track(f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Move(ctx, f, u); err != nil {
		t.Fatalf("Move to the urgent worker: %v", err)
	}
	if u.Stats().Conns != 1 || w0.Stats().Conns != 0 {
		t.Fatalf("after the move: urgent holds %d, worker 0 holds %d; want 1 and 0", u.Stats().Conns, w0.Stats().Conns)
	}
	fired := make(chan *Worker, 1)
	if err := f.mb.Post(func() {
		f.mb.AfterFunc(2*time.Millisecond, func() { fired <- f.Owner() })
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case w := <-fired:
		if w != u {
			t.Fatalf("timer ran with owner %d, want the urgent worker", w.ID())
		}
	case <-ctx.Done():
		t.Fatal("a timer on the urgent worker never fired")
	}
	if n := d.Rebalance(10); n != 0 {
		t.Fatalf("Rebalance moved %d movables; the urgent worker's are not its to move", n)
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if !f.closed.Load() {
		t.Fatal("Close did not close the movable on the urgent worker")
	}
	if err := u.Execute(func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Execute on the urgent worker after Close = %v, want ErrClosed", err)
	}
}

// Tasks handed to an urgent worker from many goroutines all run while
// other workers spin through busy rounds (the path where they look at the
// urgent worker for it): none is lost to the wake-ups racing.
func TestUrgentWorkerUnderBusyWorkers(t *testing.T) {
	d := newTestDriver(t, runtime.GOMAXPROCS(0))
	u := d.Urgent()
	f := &fakeMovable{mb: NewMailbox(u)}
	f.owner.Store(u)
	u.Track(f) // makes the loop urgent
	stop := make(chan struct{})
	var busy sync.WaitGroup
	for _, w := range d.Workers() {
		busy.Add(1)
		var spin func()
		spin = func() {
			select {
			case <-stop:
				busy.Done()
				return
			default:
			}
			for i := 0; i < 20000; i++ { // a busy round
				_ = i * i
			}
			if w.Execute(spin) != nil {
				busy.Done()
			}
		}
		if err := w.Execute(spin); err != nil {
			t.Fatal(err)
		}
	}
	const n = 20000
	var wg sync.WaitGroup
	var mu sync.Mutex
	ran := 0
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 4 {
				if err := u.Execute(func() { mu.Lock(); ran++; mu.Unlock() }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		r := ran
		mu.Unlock()
		if r == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks ran on the urgent worker", r, n)
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	busy.Wait()
}
