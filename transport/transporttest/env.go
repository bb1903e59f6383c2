package transporttest

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// waitTimeout bounds every wait of the suite: a transport that gets stuck
// fails the subtest with a message instead of hanging it.
const waitTimeout = 30 * time.Second

// maxRecorded caps the errors a subtest collects from callbacks.
const maxRecorded = 20

// env is one subtest's world: its Case, its driver and what must be torn
// down at the end.
type env struct {
	t    *testing.T
	c    Case
	tr   transport.Transport
	d    *driver.Driver
	leak []goleak.Option
	// gids maps each worker to the goroutine running its loop; written
	// before any connection exists, read-only after.
	gids map[*driver.Worker]uint64

	stop chan struct{}  // closed at teardown: helper goroutines return
	bg   sync.WaitGroup // helper goroutines

	mu        sync.Mutex
	errs      []string // from callbacks and helper goroutines
	dropped   int      // errors beyond maxRecorded
	listeners []*listener
	closed    bool // the driver is closed
}

// newEnv starts the subtest's driver. The goroutines alive before it
// (including whatever newCase started) are exempt from the leak check.
func newEnv(t *testing.T, c Case) *env {
	t.Helper()
	e := &env{t: t, c: c, tr: c.Transport, stop: make(chan struct{})}
	e.leak = append([]goleak.Option{goleak.IgnoreCurrent()}, leakIgnores...)
	d, err := driver.New(driver.Config{Workers: c.Workers})
	if err != nil {
		t.Fatalf("transporttest: driver.New: %v", err)
	}
	e.d = d
	ok := false
	defer func() {
		if !ok { // failed before teardown was deferred
			e.closeDriver()
		}
	}()
	e.gids = make(map[*driver.Worker]uint64)
	for _, w := range d.Workers() {
		ch := make(chan uint64, 1)
		if err := w.Execute(func() { ch <- goid() }); err != nil {
			t.Fatalf("transporttest: worker %d: Execute: %v", w.ID(), err)
		}
		e.gids[w] = recv(e, ch, fmt.Sprintf("worker %d to run a task", w.ID()))
	}
	t.Logf("transport %s (%s), %d workers", c.Name, c.Transport.Kind(), c.Workers)
	ok = true
	return e
}

// teardown stops helpers, closes listeners and the driver, then checks for
// leaked goroutines (unless the subtest failed already: a failed subtest
// often leaves waiters behind, and the leak report would bury the cause).
func (e *env) teardown() {
	e.flush()
	close(e.stop)
	e.bg.Wait()
	e.mu.Lock()
	lns := e.listeners
	e.mu.Unlock()
	for _, ln := range lns {
		ln.close(e)
	}
	e.closeDriver()
	if e.t.Failed() {
		e.t.Log("transporttest: goroutine leak check skipped: the subtest failed already")
		return
	}
	goleak.VerifyNone(e.t, e.leak...)
}

// closeDriver closes the driver (once), which closes every connection
// still attached; after it no callback runs any more.
func (e *env) closeDriver() {
	e.t.Helper()
	e.mu.Lock()
	done := e.closed
	e.closed = true
	e.mu.Unlock()
	if done {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.d.Close(ctx); err != nil {
		e.t.Errorf("driver.Close: %v", err)
	}
	e.flush()
}

// errorf records a failure seen off the test goroutine (a callback, a
// helper goroutine); the test goroutine reports it with flush. Callbacks
// never block on it.
func (e *env) errorf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.errs) >= maxRecorded {
		e.dropped++
		return
	}
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// failed reports whether failures were recorded and not yet flushed.
func (e *env) failed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.errs) > 0
}

// flush reports the recorded failures on the test goroutine.
func (e *env) flush() {
	e.t.Helper()
	e.mu.Lock()
	errs, dropped := e.errs, e.dropped
	e.errs, e.dropped = nil, 0
	e.mu.Unlock()
	for _, s := range errs {
		e.t.Error(s)
	}
	if dropped > 0 {
		e.t.Errorf("... and %d more errors like these", dropped)
	}
}

// fatalf reports recorded failures, then fails the subtest now.
func (e *env) fatalf(format string, args ...any) {
	e.t.Helper()
	e.flush()
	e.t.Fatalf(format, args...)
}

// goid returns the current goroutine's id, parsed from its stack header
// ("goroutine 42 [running]:"). The suite uses it to check that callbacks
// run on their connection's owner worker.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// checkOn records an error unless the caller runs on c's owner worker.
// where names the callback.
func (e *env) checkOn(c transport.Conn, where string) {
	w := c.Owner()
	if w == nil {
		e.errorf("%s: Conn.Owner() is nil", where)
		return
	}
	want, ok := e.gids[w]
	if !ok {
		e.errorf("%s: Conn.Owner() is worker %d, not a worker of the subtest's driver", where, w.ID())
		return
	}
	if got := goid(); got != want {
		e.errorf("%s ran on goroutine %d, not on its connection's owner (worker %d, goroutine %d)",
			where, got, w.ID(), want)
	}
}

// isWorker reports whether w is one of the driver's workers.
func (e *env) isWorker(w *driver.Worker) bool {
	_, ok := e.gids[w]
	return ok
}

// recv waits for a value on ch, or fails the subtest naming what it waited
// for.
func recv[T any](e *env, ch <-chan T, what string) T {
	e.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		e.fatalf("timed out after %v waiting for %s", waitTimeout, what)
		panic("unreachable")
	}
}

// eventually polls cond until it holds, or fails the subtest.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			e.fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		<-tick.C
	}
}

// onWorker runs fn on c's worker with Post and waits for it.
func (e *env) onWorker(c transport.Conn, what string, fn func()) {
	e.t.Helper()
	done := make(chan struct{})
	if err := c.Post(func() { fn(); close(done) }); err != nil {
		e.fatalf("Post (%s): %v", what, err)
	}
	recv(e, done, "a task posted to the connection to run ("+what+")")
}

// dial dials addr with h, the connection owned by w, and fails the subtest
// if that does not work.
func (e *env) dial(addr ma.Multiaddr, w *driver.Worker, h transport.Handler) transport.Conn {
	e.t.Helper()
	ctx, cancel := dialCtx()
	defer cancel()
	c, err := e.tr.Dial(ctx, addr, w, h)
	if err != nil {
		e.fatalf("Dial %s: %v", addr, err)
	}
	if c == nil {
		e.fatalf("Dial %s returned a nil Conn and no error", addr)
	}
	return c
}

// dialCtx returns the context for one Dial.
func dialCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitTimeout)
}

// worker returns the driver's i-th worker, modulo their number.
func (e *env) worker(i int) *driver.Worker {
	ws := e.d.Workers()
	return ws[i%len(ws)]
}

// conns returns how many connections the driver's workers track.
func (e *env) conns() int {
	n := 0
	for _, s := range e.d.Stats() {
		n += s.Conns
	}
	return n
}

// goHelper runs fn on a goroutine that teardown waits for; fn returns
// when e.stop closes.
func (e *env) goHelper(fn func()) {
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		fn()
	}()
}

// poster posts task to c every interval until c closes, done closes or
// the subtest ends. It is the suite's fallback for a writable notice that
// comes a tick late.
func (e *env) poster(c transport.Conn, done <-chan struct{}, interval time.Duration, task func()) {
	e.goHelper(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-done:
				return
			case <-tick.C:
				if c.Post(task) != nil {
					return
				}
			}
		}
	})
}

// listener is a Listener the teardown closes if the test did not.
type listener struct {
	transport.Listener
	once sync.Once
	err  error
}

// listen listens at a fresh ListenAddr.
func (e *env) listen(accept transport.AcceptFunc) *listener {
	e.t.Helper()
	addr := e.c.ListenAddr()
	ln, err := e.tr.Listen(addr, e.d, accept)
	if err != nil {
		e.fatalf("Listen %s: %v", addr, err)
	}
	l := &listener{Listener: ln}
	e.mu.Lock()
	e.listeners = append(e.listeners, l)
	e.mu.Unlock()
	if ln.Addr() == nil {
		e.fatalf("Listener.Addr() is nil")
	}
	if !e.tr.Handles(ln.Addr()) {
		e.t.Errorf("Handles(%s) = false for the listener's own address", ln.Addr())
	}
	return l
}

// close closes l once, reporting an error.
func (l *listener) close(e *env) {
	e.t.Helper()
	l.once.Do(func() { l.err = l.Listener.Close() })
	if l.err != nil {
		e.t.Errorf("Listener.Close: %v", l.err)
		l.err = nil
	}
}
