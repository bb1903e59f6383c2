package endpointtest

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/weftnet/weft/endpoint"
)

// stallTimeout is how long the headline test waits without any message
// arriving before it declares the endpoints stuck.
const stallTimeout = 30 * time.Second

// largeMessage is the largest payload of the headline test's messages.
const largeMessage = 256 << 10

// testExactlyOnce is the headline test: both sides send n messages at
// once while a helper kills the connection under the endpoints about every
// 10,000 messages delivered; every message must arrive exactly once, in
// order, intact, and both sides must close cleanly with nothing
// undelivered. The dialer receives with a Handler, the listener with Recv.
func testExactlyOnce(e *env) {
	n := uint64(headlineMessages(e.t, &e.c))
	every := min(10_000, max(1, 2*n/8)) // at least about 8 kills
	ab := newFlow("dialer→listener", 1, largeMessage)
	ba := newFlow("listener→dialer", 2, largeMessage)
	ab.setTarget(n)
	ba.setTarget(n)

	var delivered atomic.Uint64
	kick := make(chan struct{}, 1)
	progress := func() {
		// No kill after the last message: the test is about the transfer;
		// the close that follows is checked on a healthy connection.
		if d := delivered.Add(1); d%every == 0 && d < 2*n {
			select {
			case kick <- struct{}{}:
			default:
			}
		}
	}
	ab.onRecv, ba.onRecv = progress, progress

	dcfg, lcfg := e.config(1), e.config(2)
	dcfg.Handler = ba.handler(e)
	a, b := e.pair(dcfg, lcfg)
	e.t.Logf("%d messages each way, payloads 1 B–1 KiB and 1%% up to %d KiB; a kill every %d messages delivered", n, largeMessage>>10, every)

	start := time.Now()
	for _, s := range []struct {
		f  *flow
		ep *endpoint.Endpoint
	}{{ab, a}, {ba, b}} {
		e.goBG(func() {
			if err := s.f.sendLoop(e.ctx, s.ep, n, nil); err != nil && e.ctx.Err() == nil {
				e.errorf("%v", err)
			}
		})
	}
	e.goBG(func() { ab.recvLoop(e, b) })
	stopKiller := make(chan struct{})
	kills := make(chan int, 1)
	e.goBG(func() { kills <- e.killer(kick, stopKiller) })

	status := func() string {
		return ab.status() + "; " + ba.status() + fmt.Sprintf("; dialer %+v; listener %+v", a.Stats(), b.Stats())
	}
	e.waitProgress(delivered.Load, status, "every message to arrive", ab.done, ba.done)
	elapsed := time.Since(start)
	close(stopKiller)
	killed := <-kills

	e.closeBoth(a, b, "after the transfer")
	e.checkTotals(a, b, n, ab, ba)
	sa, sb := a.Stats(), b.Stats()
	bytes := ab.sentBytes.Load() + ba.sentBytes.Load()
	e.t.Logf("%d messages, %.1f MB in %v: %.0f messages/s, %.1f MB/s; %d kills, resumes %d/%d, retransmits %d/%d, bad records %d/%d, RTT %v/%v (dialer/listener)",
		2*n, float64(bytes)/1e6, elapsed.Round(time.Millisecond), float64(2*n)/elapsed.Seconds(), float64(bytes)/1e6/elapsed.Seconds(),
		killed, sa.Resumes, sb.Resumes, sa.Retransmits, sb.Retransmits, sa.BadRecords, sb.BadRecords, sa.RTT, sb.RTT)
	if killed > 0 && sa.Resumes == 0 {
		e.t.Errorf("%d connections were killed but the dialer reports no resume", killed)
	}
	// Every resume follows a kill: more means links failed by themselves.
	if sa.Resumes > uint64(killed) || sb.Resumes > uint64(killed) {
		e.t.Errorf("resumes %d/%d (dialer/listener) for %d kills: connections failed that nobody killed (run with %s=1 to see why)",
			sa.Resumes, sb.Resumes, killed, envDebug)
	}
	if !e.datagram() && (sa.BadRecords != 0 || sb.BadRecords != 0) {
		e.t.Errorf("bad records %d/%d (dialer/listener) on a stream between well-behaved peers; want 0", sa.BadRecords, sb.BadRecords)
	}
}

// killer kills the latest live connection, alternating between the dialed
// and the accepted end, each time kick fires, until stop closes. It returns
// how many connections it killed.
func (e *env) killer(kick <-chan struct{}, stop <-chan struct{}) int {
	kills := 0
	for {
		select {
		case <-kick:
			if e.killLatest(kills%2 == 1) || e.killLatest(kills%2 == 0) {
				kills++
			}
		case <-stop:
			return kills
		case <-e.ctx.Done():
			return kills
		}
	}
}

// waitProgress waits for every channel of done to close. It fails the
// subtest when progress has not moved for stallTimeout, or at once when a
// helper recorded a failure.
func (e *env) waitProgress(progress func() uint64, status func() string, what string, done ...<-chan struct{}) {
	e.t.Helper()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastMove := progress(), time.Now()
	for _, ch := range done {
		for waiting := true; waiting; {
			select {
			case <-ch:
				waiting = false
			case <-e.failed:
				e.t.Errorf("endpointtest: a failure while waiting for %s (%s)", what, status())
				e.check()
			case <-tick.C:
				if p := progress(); p != last {
					last, lastMove = p, time.Now()
				} else if time.Since(lastMove) > stallTimeout {
					e.flush()
					e.t.Fatalf("endpointtest: no progress for %v while waiting for %s (%s)", stallTimeout, what, status())
				}
			}
		}
	}
}

// checkTotals checks, after both ends of a conversation closed, that each
// delivered and had acknowledged exactly n messages: no duplicates hide
// behind a receiver that stopped looking.
func (e *env) checkTotals(a, b *endpoint.Endpoint, n uint64, ab, ba *flow) {
	e.t.Helper()
	sa, sb := a.Stats(), b.Stats()
	for _, c := range []struct {
		what      string
		got, want uint64
	}{
		{"dialer MsgsSent (acknowledged)", sa.MsgsSent, n},
		{"listener MsgsSent (acknowledged)", sb.MsgsSent, n},
		{"dialer MsgsRecv", sa.MsgsRecv, n},
		{"listener MsgsRecv", sb.MsgsRecv, n},
		{"dialer→listener verified", ab.recvd.Load(), n},
		{"listener→dialer verified", ba.recvd.Load(), n},
	} {
		if c.got != c.want {
			e.t.Errorf("%s = %d; want %d", c.what, c.got, c.want)
		}
	}
	if sa.QueuedBytes != 0 || sb.QueuedBytes != 0 {
		e.t.Errorf("QueuedBytes after close: dialer %d, listener %d; want 0", sa.QueuedBytes, sb.QueuedBytes)
	}
}
