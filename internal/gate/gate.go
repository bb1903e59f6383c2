package gate

import "sync"

// Gate counts the callbacks that entered it and refuses new ones once it
// is stopped. The zero value is open. A Gate must not be copied after
// first use. All methods are safe for concurrent use; Close must not be
// called between Enter and Exit on the same goroutine (it would wait for
// itself).
type Gate struct {
	mu      sync.Mutex
	idle    sync.Cond // broadcast when running drops to 0
	closed  bool
	running int
}

// Enter reports whether a callback may run: true until Stop or Close.
// Each true must be matched by one Exit.
func (g *Gate) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.running++
	return true
}

// Exit ends a callback that Enter admitted. An Exit without its Enter is
// a broken invariant and panics.
func (g *Gate) Exit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running == 0 {
		panic("gate: Exit without Enter")
	}
	if g.running--; g.running == 0 {
		g.idle.Broadcast()
	}
}

// Stop refuses new entries without waiting for the running callbacks. It
// reports whether this call closed the gate (false if it was closed
// already).
func (g *Gate) Stop() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	first := !g.closed
	g.closed = true
	return first
}

// Close refuses new entries, then waits until no callback that entered
// is running: when it returns, none runs and none will start. It reports
// whether this call closed the gate (false if Stop or Close did before);
// either way it waits.
func (g *Gate) Close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	first := !g.closed
	g.closed = true
	if g.idle.L == nil { // the zero Gate: set once, before any Wait
		g.idle.L = &g.mu
	}
	for g.running > 0 {
		g.idle.Wait()
	}
	return first
}

// Closed reports whether Stop or Close has been called.
func (g *Gate) Closed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}
