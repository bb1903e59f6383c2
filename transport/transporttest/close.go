package transporttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport"
)

// dialRefusedWithin is how fast a dial to an address where nothing
// listens must fail.
const dialRefusedWithin = 2 * time.Second

// pair is a connection with both ends and their handlers.
type pair struct {
	dc transport.Conn
	dp *peer
	a  accepted
}

// connect dials a fresh listener (which does not echo) and waits until the
// acceptor got a first message.
func (e *env) connect() pair {
	e.t.Helper()
	acc := newAcceptor(e, false)
	ln := e.listen(acc.accept)
	dp := newPeer(e, "dialer", false)
	dc := e.dial(ln.Addr(), e.worker(0), dp)
	hello := []byte("hello")
	e.write(dc, "dialer", hello)
	a := acc.next()
	if e.tr.Kind() == transport.Datagram {
		a.p.waitPacket(hello)
	} else {
		a.p.waitBytes(hello)
	}
	a.p.reset()
	return pair{dc, dp, a}
}

// closeSides returns (closer, its peer, other, its peer).
func (pr pair) closeSides(dialerCloses bool) (transport.Conn, *peer, transport.Conn, *peer) {
	if dialerCloses {
		return pr.dc, pr.dp, pr.a.c, pr.a.p
	}
	return pr.a.c, pr.a.p, pr.dc, pr.dp
}

// writeAndClose writes b on c, closes it and writes again, all in one task
// on c's worker; the Write after Close must fail with ErrClosed.
func (e *env) writeAndClose(c transport.Conn, side string, b []byte) {
	e.t.Helper()
	var writeErr, closeErr, afterErr error
	e.onWorker(c, "Write, Close, Write", func() {
		writeErr = c.Write(b)
		closeErr = c.Close()
		afterErr = c.Write([]byte("after Close"))
	})
	if writeErr != nil {
		e.t.Errorf("%s: Write before Close: %v", side, writeErr)
	}
	if closeErr != nil {
		e.t.Errorf("%s: Close: %v", side, closeErr)
	}
	if !errors.Is(afterErr, transport.ErrClosed) {
		e.t.Errorf("%s: Write after Close returned %v; want an error wrapping ErrClosed", side, afterErr)
	}
}

// checkClosed checks a connection whose OnClose ran: Writes inside OnClose
// and Posts after it fail with ErrClosed, and Close stays harmless.
func (e *env) checkClosed(c transport.Conn, p *peer) {
	e.t.Helper()
	p.mu.Lock()
	wa := p.writeAfter
	p.mu.Unlock()
	if !errors.Is(wa, transport.ErrClosed) {
		e.t.Errorf("%s: Write inside OnClose returned %v; want an error wrapping ErrClosed", p.name, wa)
	}
	if err := c.Post(func() { e.errorf("%s: a task posted after OnClose ran", p.name) }); !errors.Is(err, transport.ErrClosed) {
		e.t.Errorf("%s: Post after OnClose returned %v; want an error wrapping ErrClosed", p.name, err)
	}
	_ = c.Close() // idempotent: OnClose must not run again (checked at the end)
}

// checkOnce checks, once the driver is closed, that every peer saw exactly
// one OnClose and nothing after it.
func (e *env) checkOnce(peers ...*peer) {
	e.t.Helper()
	e.closeDriver()
	for _, p := range peers {
		closes, late, _ := p.closeCount()
		if closes != 1 {
			e.t.Errorf("%s: OnClose ran %d times; want exactly once", p.name, closes)
		}
		if late > 0 {
			e.t.Errorf("%s: %d callbacks after OnClose", p.name, late)
		}
	}
}

// testStreamClose closes each side in turn: the closer's OnClose gets nil,
// the other's io.EOF after every byte written before the Close.
func testStreamClose(e *env) {
	var all []*peer
	for _, dialerCloses := range []bool{true, false} {
		pr := e.connect()
		closer, cp, other, op := pr.closeSides(dialerCloses)
		cp.name, op.name = "closing "+cp.name, "peer "+op.name
		// Big enough to still be buffered when Close is called: Close
		// must flush it before the EOF.
		payload := randBytes(7, 4<<20)
		e.writeAndClose(closer, cp.name, payload)
		if err := cp.waitClosed(); err != nil {
			e.t.Errorf("%s: OnClose(%v) after a local Close; want nil", cp.name, err)
		}
		err := op.waitClosed()
		if !isEOF(err) {
			e.t.Errorf("%s: OnClose(%v) after the peer closed; want an error wrapping io.EOF", op.name, err)
		}
		op.mu.Lock()
		got := op.data
		op.mu.Unlock()
		if err := sameBytes(got, payload); err != nil {
			e.t.Errorf("%s: the bytes written before Close, by the time of OnClose: %v", op.name, err)
		}
		e.checkClosed(closer, cp)
		e.checkClosed(other, op)
		all = append(all, cp, op)
	}
	e.checkOnce(all...)
}

// testDatagramClose closes each side in turn: the closer's OnClose gets
// nil; the peer may not learn of it (if it does, its OnClose gets io.EOF).
func testDatagramClose(e *env) {
	var all []*peer
	for _, dialerCloses := range []bool{true, false} {
		pr := e.connect()
		closer, cp, other, op := pr.closeSides(dialerCloses)
		cp.name, op.name = "closing "+cp.name, "peer "+op.name
		last := []byte("the last packet before Close")
		e.writeAndClose(closer, cp.name, last)
		if err := cp.waitClosed(); err != nil {
			e.t.Errorf("%s: OnClose(%v) after a local Close; want nil", cp.name, err)
		}
		op.waitPacket(last) // Close flushes what was written
		_ = other.Close()
		if err := op.waitClosed(); err != nil && !isEOF(err) {
			e.t.Errorf("%s: OnClose(%v); want nil (own Close) or io.EOF (peer closed)", op.name, err)
		}
		e.checkClosed(closer, cp)
		e.checkClosed(other, op)
		all = append(all, cp, op)
	}
	e.checkOnce(all...)
}

// foreignAddrs are addresses of various transports; a transport must
// refuse, with ErrUnsupportedAddr, those it does not handle.
var foreignAddrs = []string{
	"/memory/1",
	"/ip4/127.0.0.1/tcp/1",
	"/ip4/127.0.0.1/udp/1",
	"/ip4/127.0.0.1/udp/1/quic-v1",
	"/dns4/localhost/tcp/1/ws",
}

// checkDialError checks that err is a *DialError wrapping want.
func (e *env) checkDialError(what string, err, want error) {
	e.t.Helper()
	if err == nil {
		e.t.Errorf("%s: Dial succeeded; want an error wrapping %v", what, want)
		return
	}
	if !errors.Is(err, want) {
		e.t.Errorf("%s: Dial: %v; want an error wrapping %v", what, err, want)
	}
	var de *transport.DialError
	if !errors.As(err, &de) {
		e.t.Errorf("%s: Dial: %v (%T); want a *transport.DialError", what, err, err)
	} else if de.Addr == nil {
		e.t.Errorf("%s: DialError.Addr is nil", what)
	}
}

// testDialFails: dials to a closed address, with a dead context and to an
// address of another transport fail at once with the documented errors.
func testDialFails(e *env) {
	refuses := e.tr.Kind() == transport.Stream || e.c.DatagramDialRefuses
	addr := e.c.ClosedAddr()
	start := time.Now()
	ctx, cancel := dialCtx()
	c, err := e.tr.Dial(ctx, addr, e.worker(0), newPeer(e, "dialer", false))
	cancel()
	took := time.Since(start)
	switch {
	case err == nil && !refuses:
		_ = c.Close() // a datagram dial may succeed where nothing listens
	default:
		e.checkDialError("dial to ClosedAddr "+addr.String(), err, transport.ErrRefused)
		if err == nil {
			_ = c.Close()
		}
	}
	if refuses && took > dialRefusedWithin {
		e.t.Errorf("dial to ClosedAddr took %v; want it to fail within %v", took, dialRefusedWithin)
	}

	ln := e.listen(newAcceptor(e, true).accept)
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.tr.Dial(dead, ln.Addr(), e.worker(0), newPeer(e, "dialer", false))
	e.checkDialError("dial with a cancelled context", err, context.Canceled)
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = e.tr.Dial(expired, ln.Addr(), e.worker(0), newPeer(e, "dialer", false))
	e.checkDialError("dial with an expired context", err, context.DeadlineExceeded)
	if de := (*transport.DialError)(nil); errors.As(err, &de) && !de.Timeout() {
		e.t.Errorf("dial with an expired context: DialError.Timeout() = false")
	}
	e.checkForeign()
	e.eventually("the driver's Stats to report 0 connections after failed dials", func() bool {
		return e.conns() == 0
	})
}

// checkForeign dials and listens at the first address of another
// transport.
func (e *env) checkForeign() {
	e.t.Helper()
	for _, s := range foreignAddrs {
		addr, err := ma.NewMultiaddr(s)
		if err != nil {
			e.t.Fatalf("transporttest: bad foreign address %s: %v", s, err)
		}
		if e.tr.Handles(addr) {
			continue
		}
		ctx, cancel := dialCtx()
		_, err = e.tr.Dial(ctx, addr, e.worker(0), newPeer(e, "dialer", false))
		cancel()
		e.checkDialError("dial to "+s+" (Handles reports false)", err, transport.ErrUnsupportedAddr)
		ln, err := e.tr.Listen(addr, e.d, newAcceptor(e, false).accept)
		if err == nil {
			_ = ln.Close()
			e.t.Errorf("Listen %s (Handles reports false) succeeded; want an error wrapping ErrUnsupportedAddr", s)
		} else if !errors.Is(err, transport.ErrUnsupportedAddr) {
			e.t.Errorf("Listen %s (Handles reports false): %v; want an error wrapping ErrUnsupportedAddr", s, err)
		}
		return
	}
	e.t.Logf("transport handles every foreign address the suite knows; unsupported-address check skipped")
}

// testListenerClose closes a listener while dials keep coming: no accept
// callback runs after Close returns, new dials fail, and the connections
// accepted before keep working.
func testListenerClose(e *env) {
	acc := newAcceptor(e, true)
	ln := e.listen(acc.accept)
	type old struct {
		c transport.Conn
		p *peer
	}
	var olds []old
	for i := range 3 {
		p := newPeer(e, fmt.Sprintf("dialer %d", i), false)
		c := e.dial(ln.Addr(), e.worker(i), p)
		e.roundTrip(c, p, fmt.Appendf(nil, "before Close %d", i))
		olds = append(olds, old{c, p})
	}
	before := acc.count.Load()
	stop := e.dialStorm(ln.Addr())
	e.eventually("connections dialled during the storm to be accepted", func() bool {
		return acc.count.Load() >= before+10
	})
	ln.close(e)
	acc.after.Store(true)
	n := acc.count.Load()
	stop()

	ctx, cancel := dialCtx()
	c, err := e.tr.Dial(ctx, ln.Addr(), e.worker(0), newPeer(e, "late dialer", false))
	cancel()
	switch {
	case e.tr.Kind() == transport.Stream || e.c.DatagramDialRefuses:
		e.checkDialError("dial after Listener.Close", err, transport.ErrRefused)
	case err == nil:
		e.write(c, "late dialer", []byte("anyone there?"))
	}
	for i, o := range olds {
		e.roundTrip(o.c, o.p, fmt.Appendf(nil, "after Close %d", i))
	}
	if got := acc.count.Load(); got != n {
		e.t.Errorf("%d accept callbacks after Listener.Close returned", got-n)
	}
}

// dialStorm dials addr from 4 goroutines, over and over, until the
// returned stop is called (stop waits for them). The dials may fail.
func (e *env) dialStorm(addr ma.Multiaddr) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				c, err := e.tr.Dial(ctx, addr, e.worker(g), newPeer(e, "storm dialer", false))
				cancel()
				if err == nil {
					_ = c.Post(func() { _ = c.Write([]byte("storm")) })
				}
			}
		})
	}
	return func() { close(done); wg.Wait() }
}
