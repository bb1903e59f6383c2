package transporttest

import (
	"errors"
	"fmt"

	"go.uber.org/goleak"

	"github.com/weftnet/weft/transport"
)

// leakIgnores are goroutines the leak check accepts although the subtest
// started them.
var leakIgnores = []goleak.Option{
	// An idle worker of ants' goroutine pool, which gnet uses for
	// EventLoop.Enroll (driver.Worker.EnrollAsync: gnet transports attach
	// a moved socket with it). A worker waits for its next task until it
	// has been idle for the pool's expiry (10 s in gnet's default pool),
	// longer than any subtest should wait. Only idle workers are ignored:
	// one stuck in a task has another function on top of its stack.
	goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
}

// testNoGoroutineLeak leaves connections open, some with data in flight,
// and closes the listener and then the driver: every handler sees one
// OnClose, the driver tracks nothing, and no goroutine is left (every
// subtest checks that last point at its end; here it is the point).
func testNoGoroutineLeak(e *env) {
	acc := newAcceptor(e, true)
	ln := e.listen(acc.accept)
	var peers []*peer
	var conns []transport.Conn
	for i := range 8 {
		p := newPeer(e, fmt.Sprintf("dialer %d", i), false)
		c := e.dial(ln.Addr(), e.worker(i), p)
		e.roundTrip(c, p, fmt.Appendf(nil, "conn %d", i))
		peers = append(peers, p)
		conns = append(conns, c)
	}
	for range conns {
		peers = append(peers, acc.next().p)
	}
	big := randBytes(9, 1<<20)
	if e.tr.Kind() == transport.Datagram {
		big = big[:min(len(big), conns[0].MaxDatagram())]
	}
	for i, c := range conns[:4] { // written, maybe not delivered when the driver closes
		var err error
		e.onWorker(c, "write", func() { err = c.Write(big) })
		if err != nil {
			e.t.Errorf("dialer %d: Write of %d bytes: %v", i, len(big), err)
		}
	}
	ln.close(e)
	e.closeDriver()
	for _, p := range peers {
		closes, late, err := p.closeCount()
		if closes != 1 {
			e.t.Errorf("%s: OnClose ran %d times when the driver closed; want exactly once", p.name, closes)
			continue
		}
		if late > 0 {
			e.t.Errorf("%s: %d callbacks after OnClose", p.name, late)
		}
		if err != nil && !isEOF(err) && !errors.Is(err, transport.ErrReset) {
			e.t.Errorf("%s: OnClose(%v) when the driver closed; want nil, io.EOF or ErrReset", p.name, err)
		}
	}
	if n := e.conns(); n != 0 {
		e.t.Errorf("the driver's Stats report %d connections after Close", n)
	}
	for i, c := range conns {
		if err := c.Post(func() {}); !errors.Is(err, transport.ErrClosed) {
			e.t.Errorf("dialer %d: Post after the driver closed: %v; want an error wrapping ErrClosed", i, err)
		}
	}
}
