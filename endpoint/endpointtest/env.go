package endpointtest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
)

// waitTimeout bounds every wait of the suite that is not a stall watchdog:
// an endpoint that gets stuck fails the subtest with a message instead of
// hanging it.
const waitTimeout = 30 * time.Second

// maxRecorded caps the failures a subtest collects from callbacks.
const maxRecorded = 20

// leakIgnores are goroutines the leak check accepts although the subtest
// started them: idle workers of ants' pool, which gnet uses to enroll a
// moved socket, wait for their next task for the pool's expiry (10 s).
var leakIgnores = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
}

// env is one subtest's world: its Case, its drivers, its listeners and
// endpoints, and what must be torn down at the end.
type env struct {
	t    *testing.T
	c    Case
	rec  *recorder
	d    *driver.Driver // the main driver; more with newDriver
	leak []goleak.Option

	ctx    context.Context // cancelled at teardown
	cancel context.CancelFunc
	bg     sync.WaitGroup // helper goroutines

	mu        sync.Mutex
	errs      []string // failures seen off the test goroutine
	dropped   int
	failed    chan struct{} // closed at the first recorded failure
	anyFailed bool
	drivers   []*driver.Driver
	listeners []*endpoint.Listener
	endpoints []*endpoint.Endpoint
	closes    map[*endpoint.Endpoint]*closeEvent
}

// closeEvent is what OnClose reported for one endpoint.
type closeEvent struct {
	done        chan struct{} // closed after the first OnClose
	calls       int
	err         error
	undelivered int
}

// newEnv starts the subtest's main driver. The goroutines alive before it
// (including whatever newCase started) are exempt from the leak check.
func newEnv(t *testing.T, c Case) *env {
	t.Helper()
	e := &env{t: t, c: c, rec: newRecorder(c.Transport), failed: make(chan struct{}),
		closes: make(map[*endpoint.Endpoint]*closeEvent)}
	e.leak = append([]goleak.Option{goleak.IgnoreCurrent()}, leakIgnores...)
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.d = e.newDriver(c.Workers)
	t.Logf("endpoints over %s (%s), %d workers", c.Name, c.Transport.Kind(), c.Workers)
	return e
}

// newDriver starts a driver that teardown closes.
func (e *env) newDriver(workers int) *driver.Driver {
	e.t.Helper()
	d, err := driver.New(driver.Config{Workers: workers})
	if err != nil {
		e.t.Fatalf("endpointtest: driver.New: %v", err)
	}
	e.mu.Lock()
	e.drivers = append(e.drivers, d)
	e.mu.Unlock()
	return d
}

// teardown stops helpers, closes endpoints, listeners and drivers, reports
// what callbacks recorded, then checks for leaked goroutines (unless the
// subtest failed already: the leak report would bury the cause).
func (e *env) teardown() {
	e.t.Helper()
	e.cancel()
	e.mu.Lock()
	eps, lns, ds := e.endpoints, e.listeners, e.drivers
	e.mu.Unlock()
	for _, ep := range eps {
		_ = ep.Close()
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	for _, d := range ds {
		e.closeDriver(d)
	}
	e.bg.Wait()
	e.flush()
	if e.t.Failed() {
		e.t.Log("endpointtest: goroutine leak check skipped: the subtest failed already")
		return
	}
	goleak.VerifyNone(e.t, e.leak...)
}

// closeDriver closes d, bounded: endpoints still attached close gracefully
// first.
func (e *env) closeDriver(d *driver.Driver) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		e.t.Errorf("endpointtest: driver.Close: %v", err)
	}
}

// goBG runs fn on a helper goroutine that teardown waits for; fn should
// return once e.ctx ends.
func (e *env) goBG(fn func()) {
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		fn()
	}()
}

// errorf records a failure seen off the test goroutine (a callback, a
// helper goroutine). It never blocks; flush reports it.
func (e *env) errorf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.anyFailed {
		e.anyFailed = true
		close(e.failed)
	}
	if len(e.errs) >= maxRecorded {
		e.dropped++
		return
	}
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// flush reports the recorded failures on the test goroutine, and stops the
// subtest if there were any.
func (e *env) flush() {
	e.t.Helper()
	e.mu.Lock()
	errs, dropped := e.errs, e.dropped
	e.errs = nil
	e.mu.Unlock()
	for _, s := range errs {
		e.t.Error(s)
	}
	if dropped > 0 {
		e.t.Errorf("... and %d more failures", dropped)
	}
}

// check flushes recorded failures and stops the subtest if there were any.
func (e *env) check() {
	e.t.Helper()
	e.flush()
	if e.t.Failed() {
		e.t.FailNow()
	}
}

// wait waits for ch to close, failing the subtest after waitTimeout or
// as soon as a helper recorded a failure.
func (e *env) wait(ch <-chan struct{}, format string, args ...any) {
	e.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case <-ch:
	case <-e.failed:
		e.t.Errorf("endpointtest: a failure while waiting for %s", fmt.Sprintf(format, args...))
		e.check()
	case <-timer.C:
		e.flush()
		e.t.Fatalf("endpointtest: timed out after %v waiting for %s", waitTimeout, fmt.Sprintf(format, args...))
	}
}

// waitUntil polls cond every millisecond until it holds, failing the
// subtest after waitTimeout (with the state that status describes) or as
// soon as a helper recorded a failure.
func (e *env) waitUntil(status func() string, cond func() bool, format string, args ...any) {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-e.failed:
			e.t.Errorf("endpointtest: a failure while waiting until %s", fmt.Sprintf(format, args...))
			e.check()
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			e.flush()
			s := ""
			if status != nil {
				s = " (" + status() + ")"
			}
			e.t.Fatalf("endpointtest: timed out after %v waiting until %s%s", waitTimeout, fmt.Sprintf(format, args...), s)
		}
	}
}

// eventually polls cond every millisecond for up to d and reports whether
// it came to hold.
func (e *env) eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// timeout returns a context that ends after waitTimeout or at teardown.
func (e *env) timeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, waitTimeout)
}

// key returns the deterministic identity number n.
func key(t testing.TB, n byte) identity.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = n
	}
	seed[0] = 0xe7 // distinct from other packages' test keys
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatalf("endpointtest: identity.NewKeyFromSeed: %v", err)
	}
	return k
}

// peerOf returns the peer ID of identity number n.
func peerOf(t testing.TB, n byte) identity.PeerID {
	return identity.PeerIDFromPublicKey(key(t, n).Public())
}

// config returns an endpoint configuration for identity number n whose
// OnClose the env records.
func (e *env) config(n byte) endpoint.Config {
	return endpoint.Config{Identity: key(e.t, n), OnClose: e.onClose, Logger: debugLogger(n)}
}

// envDebug, when set, makes endpoints log their diagnostics to stderr.
const envDebug = "WEFT_ENDPOINTTEST_DEBUG"

// debugLogger returns nil (silent) unless envDebug is set.
func debugLogger(n byte) *slog.Logger {
	if os.Getenv(envDebug) == "" {
		return nil
	}
	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h).With("id", n)
}

func (e *env) onClose(ep *endpoint.Endpoint, err error, undelivered int) {
	e.mu.Lock()
	ev := e.closeEventLocked(ep)
	ev.calls++
	if ev.calls == 1 {
		ev.err, ev.undelivered = err, undelivered
		close(ev.done)
	}
	calls := ev.calls
	e.mu.Unlock()
	if calls > 1 {
		e.errorf("OnClose ran %d times for the endpoint to %s (latest err %v); want once", calls, ep.Peer(), err)
	}
}

func (e *env) closeEventLocked(ep *endpoint.Endpoint) *closeEvent {
	ev := e.closes[ep]
	if ev == nil {
		ev = &closeEvent{done: make(chan struct{})}
		e.closes[ep] = ev
	}
	return ev
}

// closed waits for ep's OnClose and returns what it reported.
func (e *env) closed(ep *endpoint.Endpoint, what string) closeEvent {
	e.t.Helper()
	e.mu.Lock()
	ev := e.closeEventLocked(ep)
	e.mu.Unlock()
	e.wait(ev.done, "OnClose of %s", what)
	e.mu.Lock()
	defer e.mu.Unlock()
	return *ev
}

// closeWait closes ep gracefully and checks that it reports a clean end:
// CloseWait and OnClose return nil, with nothing undelivered.
func (e *env) closeWait(ep *endpoint.Endpoint, what string) {
	e.t.Helper()
	ctx, cancel := e.timeout()
	defer cancel()
	if err := ep.CloseWait(ctx); err != nil {
		e.t.Errorf("%s: CloseWait: %v; want nil (stats %+v)", what, err, ep.Stats())
	}
	ev := e.closed(ep, what)
	if ev.err != nil || ev.undelivered != 0 {
		e.t.Errorf("%s: OnClose(err %v, undelivered %d); want (nil, 0)", what, ev.err, ev.undelivered)
	}
}

// closeBoth closes two endpoints at once, as both sides of a conversation
// would, and checks both report a clean end.
func (e *env) closeBoth(a, b *endpoint.Endpoint, what string) {
	e.t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, ep := range []*endpoint.Endpoint{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := e.timeout()
			defer cancel()
			errs[i] = ep.CloseWait(ctx)
		}()
	}
	wg.Wait()
	for i, ep := range []*endpoint.Endpoint{a, b} {
		side := []string{"dialer", "listener"}[i]
		if errs[i] != nil {
			e.t.Errorf("%s: %s side: CloseWait: %v; want nil (stats %+v)", what, side, errs[i], ep.Stats())
		}
		ev := e.closed(ep, fmt.Sprintf("%s, %s side", what, side))
		if ev.err != nil || ev.undelivered != 0 {
			e.t.Errorf("%s: %s side: OnClose(err %v, undelivered %d); want (nil, 0)", what, side, ev.err, ev.undelivered)
		}
	}
}

// listen starts an endpoint listener on d at a fresh address. onAccept nil
// means Accept.
func (e *env) listen(d *driver.Driver, cfg endpoint.Config, onAccept func(*endpoint.Endpoint)) *endpoint.Listener {
	e.t.Helper()
	var wrapped func(*endpoint.Endpoint)
	if onAccept != nil {
		wrapped = func(ep *endpoint.Endpoint) {
			e.track(ep)
			onAccept(ep)
		}
	}
	ln, err := endpoint.Listen(d, e.rec, e.c.ListenAddr(), cfg, wrapped)
	if err != nil {
		e.t.Fatalf("endpointtest: endpoint.Listen: %v", err)
	}
	e.mu.Lock()
	e.listeners = append(e.listeners, ln)
	e.mu.Unlock()
	return ln
}

// dial dials an endpoint on d, bounded by waitTimeout.
func (e *env) dial(d *driver.Driver, addr ma.Multiaddr, cfg endpoint.Config) (*endpoint.Endpoint, error) {
	ctx, cancel := e.timeout()
	defer cancel()
	ep, err := endpoint.Dial(ctx, d, e.rec, addr, cfg)
	if err == nil {
		e.track(ep)
	}
	return ep, err
}

// mustDial is dial that fails the subtest on error.
func (e *env) mustDial(d *driver.Driver, addr ma.Multiaddr, cfg endpoint.Config) *endpoint.Endpoint {
	e.t.Helper()
	ep, err := e.dial(d, addr, cfg)
	if err != nil {
		e.t.Fatalf("endpointtest: Dial %s: %v", addr, err)
	}
	return ep
}

// accept takes the next endpoint from a listener without accept callback.
func (e *env) accept(ln *endpoint.Listener) *endpoint.Endpoint {
	e.t.Helper()
	ctx, cancel := e.timeout()
	defer cancel()
	ep, err := ln.Accept(ctx)
	if err != nil {
		e.t.Fatalf("endpointtest: Accept: %v", err)
	}
	e.track(ep)
	return ep
}

// pair makes a listener with lcfg on the main driver, dials it with dcfg
// and accepts the endpoint: dialer and accepted ends of one session.
func (e *env) pair(dcfg, lcfg endpoint.Config) (dialer, accepted *endpoint.Endpoint) {
	e.t.Helper()
	ln := e.listen(e.d, lcfg, nil)
	dialer = e.mustDial(e.d, ln.Addr(), dcfg)
	accepted = e.accept(ln)
	if want := identity.PeerIDFromPublicKey(dcfg.Identity.Public()); accepted.Peer() != want {
		e.t.Fatalf("accepted endpoint's Peer() is %s; want the dialer %s", accepted.Peer(), want)
	}
	if want := identity.PeerIDFromPublicKey(lcfg.Identity.Public()); dialer.Peer() != want {
		e.t.Fatalf("dialed endpoint's Peer() is %s; want the listener %s", dialer.Peer(), want)
	}
	return dialer, accepted
}

// track makes teardown close ep.
func (e *env) track(ep *endpoint.Endpoint) {
	e.mu.Lock()
	e.endpoints = append(e.endpoints, ep)
	e.mu.Unlock()
}

// killLatest kills the most recent live connection dialed (accepted false)
// or accepted through the recorder, with Case.Kill. It reports whether
// there was one.
func (e *env) killLatest(accepted bool) bool {
	c := e.rec.latest(accepted)
	if c == nil {
		return false
	}
	if err := e.c.Kill(c); err != nil {
		e.errorf("Case.Kill(%v): %v", c.RemoteAddr(), err)
	}
	return true
}

// noProblems checks that an endpoint that should have had a quiet life
// resumed nothing and rejected nothing (duplicate datagrams count as bad
// records, so that check is for stream transports).
func (e *env) noProblems(ep *endpoint.Endpoint, what string) {
	e.t.Helper()
	s := ep.Stats()
	if s.Resumes != 0 {
		e.t.Errorf("%s: %d resumes on a connection nobody killed; want 0 (stats %+v)", what, s.Resumes, s)
	}
	if !e.datagram() && s.BadRecords != 0 {
		e.t.Errorf("%s: %d bad records from a well-behaved peer; want 0 (stats %+v)", what, s.BadRecords, s)
	}
	if err := ep.Err(); err != nil {
		e.t.Errorf("%s: endpoint ended: %v", what, err)
	}
}

// isTimeout reports whether err says that a context ended.
func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
