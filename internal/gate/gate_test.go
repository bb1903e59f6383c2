package gate

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStates walks a zero Gate through Enter, Stop and Close.
func TestStates(t *testing.T) {
	var g Gate
	if g.Closed() {
		t.Fatal("a zero Gate is closed")
	}
	if !g.Enter() {
		t.Fatal("Enter refused on an open Gate")
	}
	g.Exit()
	if !g.Stop() {
		t.Fatal("the first Stop reports false")
	}
	if g.Stop() {
		t.Fatal("a second Stop reports true")
	}
	if !g.Closed() {
		t.Fatal("Closed is false after Stop")
	}
	if g.Enter() {
		t.Fatal("Enter admitted after Stop")
	}
	if g.Close() {
		t.Fatal("Close after Stop reports true")
	}
}

func TestCloseReportsFirst(t *testing.T) {
	var g Gate
	if !g.Close() {
		t.Fatal("the first Close reports false")
	}
	if g.Close() || g.Stop() {
		t.Fatal("Close or Stop after Close reports true")
	}
	if g.Enter() {
		t.Fatal("Enter admitted after Close")
	}
}

func TestExitWithoutEnterPanics(t *testing.T) {
	var g Gate
	defer func() {
		if recover() == nil {
			t.Fatal("Exit without Enter did not panic")
		}
	}()
	g.Exit()
}

// TestCloseWaits: Close (and every concurrent Close) returns only after
// the last running callback exits, and refuses new ones meanwhile.
func TestCloseWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g Gate
		if !g.Enter() || !g.Enter() {
			t.Fatal("Enter refused on an open Gate")
		}
		const closers = 3
		var firsts, returned atomic.Int32
		for range closers {
			go func() {
				if g.Close() {
					firsts.Add(1)
				}
				returned.Add(1)
			}()
		}
		synctest.Wait()
		if n := returned.Load(); n != 0 {
			t.Fatalf("%d Close calls returned with two callbacks running", n)
		}
		if g.Enter() {
			t.Fatal("Enter admitted while Close waits")
		}
		g.Exit()
		synctest.Wait()
		if n := returned.Load(); n != 0 {
			t.Fatalf("%d Close calls returned with a callback running", n)
		}
		g.Exit()
		synctest.Wait()
		if n := returned.Load(); n != closers {
			t.Fatalf("%d of %d Close calls returned after the last Exit", n, closers)
		}
		if n := firsts.Load(); n != 1 {
			t.Fatalf("%d Close calls report they closed the Gate, want 1", n)
		}
	})
}

// TestRace runs callbacks on many goroutines and closes the Gate among
// them: when Close returns, no callback runs, and none starts after.
func TestRace(t *testing.T) {
	const (
		workers   = 16
		maxRounds = 1_000_000 // per worker: Enter must refuse long before
		warmup    = 2_000     // callbacks run before Close
	)
	var (
		g                        Gate
		inside, entered, refused atomic.Int64
		closed, late             atomic.Bool
		wg                       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for range maxRounds {
				if !g.Enter() {
					refused.Add(1)
					return
				}
				if closed.Load() {
					late.Store(true)
				}
				inside.Add(1)
				entered.Add(1)
				runtime.Gosched()
				inside.Add(-1)
				g.Exit()
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); entered.Load() < warmup && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	g.Close()
	closed.Store(true)
	if n := inside.Load(); n != 0 {
		t.Errorf("%d callbacks running after Close returned", n)
	}
	wg.Wait()
	switch {
	case late.Load():
		t.Error("a callback started after Close returned")
	case refused.Load() != workers:
		t.Errorf("%d of %d workers were refused; the others ran %d rounds", refused.Load(), workers, maxRounds)
	case entered.Load() < warmup:
		t.Errorf("only %d callbacks ran before Close, want %d", entered.Load(), warmup)
	}
}
