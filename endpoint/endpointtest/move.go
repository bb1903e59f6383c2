package endpointtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/weftnet/weft/endpoint"
)

// moveTimeout bounds one Driver.Move: a move that takes longer is stuck.
const moveTimeout = 10 * time.Second

// testMoveUnderLoad: while a few endpoint pairs stream sequence-checked
// messages both ways, the test moves random endpoints to other workers
// every 10 ms; nothing may be lost, duplicated or reordered.
func testMoveUnderLoad(e *env) {
	const pairs = 3
	period := 5 * time.Second
	if short() {
		period = time.Second
	}
	stop := make(chan struct{})
	var ps []movePair
	var eps []*endpoint.Endpoint
	for i := range pairs {
		p := e.streamingPair(i, stop)
		ps = append(ps, p)
		eps = append(eps, p.a, p.b)
	}

	moves, failed, slowest := e.moveRandomly(eps, period)
	close(stop)
	var done []<-chan struct{}
	var flows []*flow
	for _, p := range ps {
		done = append(done, p.ab.done, p.ba.done)
		flows = append(flows, p.ab, p.ba)
	}
	progress := func() (n uint64) {
		for _, f := range flows {
			n += f.recvd.Load()
		}
		return n
	}
	status := func() string {
		var s []string
		for _, f := range flows {
			s = append(s, f.status())
		}
		return strings.Join(s, "; ")
	}
	e.waitProgress(progress, status, "every flow to arrive after the moves", done...)
	e.t.Logf("%d moves in %v (%d refused, slowest %v), %d messages delivered", moves, period, failed, slowest.Round(time.Microsecond), progress())
	if moves == 0 {
		e.t.Errorf("no move succeeded in %v", period)
	}
	for i, p := range ps {
		e.noProblems(p.a, fmt.Sprintf("pair %d dialer", i))
		e.noProblems(p.b, fmt.Sprintf("pair %d listener", i))
		e.closeBoth(p.a, p.b, fmt.Sprintf("pair %d", i))
		for _, c := range []struct {
			what string
			got  uint64
			f    *flow
		}{{"listener MsgsRecv", p.b.Stats().MsgsRecv, p.ab}, {"dialer MsgsRecv", p.a.Stats().MsgsRecv, p.ba}} {
			if want := c.f.sent.Load(); c.got != want {
				e.t.Errorf("pair %d: %s = %d; want %d (sent)", i, c.what, c.got, want)
			}
		}
	}
}

// movePair is an endpoint pair streaming both ways.
type movePair struct {
	a, b   *endpoint.Endpoint
	ab, ba *flow
}

// streamingPair makes pair i and starts its flows, which send until stop
// closes: the dialer receives with a Handler, the listener with Recv.
func (e *env) streamingPair(i int, stop <-chan struct{}) movePair {
	e.t.Helper()
	p := movePair{
		ab: newFlow(fmt.Sprintf("pair %d dialer→listener", i), uint64(70+2*i), 16<<10),
		ba: newFlow(fmt.Sprintf("pair %d listener→dialer", i), uint64(71+2*i), 16<<10),
	}
	dcfg := e.config(byte(10 + 2*i))
	dcfg.Handler = p.ba.handler(e)
	p.a, p.b = e.pair(dcfg, e.config(byte(11+2*i)))
	for _, s := range []struct {
		f  *flow
		ep *endpoint.Endpoint
	}{{p.ab, p.a}, {p.ba, p.b}} {
		e.goBG(func() {
			if err := s.f.sendLoop(e.ctx, s.ep, 0, stop); err != nil && e.ctx.Err() == nil {
				e.errorf("%v", err)
			}
		})
	}
	e.goBG(func() { p.ab.recvLoop(e, p.b) })
	return p
}

// moveRandomly moves a random endpoint of eps to another random worker
// every 10 ms for period. It returns how many moves succeeded, how many
// the endpoint or its connection refused (a move may fail, for example
// when a send buffer does not drain in time; it must not hang), and the
// longest a Move took.
func (e *env) moveRandomly(eps []*endpoint.Endpoint, period time.Duration) (moves, failed int, slowest time.Duration) {
	e.t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	workers := e.d.Workers()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(period)
	for time.Now().Before(end) {
		select {
		case <-tick.C:
		case <-e.failed:
			e.t.Errorf("endpointtest: a failure while moving endpoints")
			e.check()
		}
		ep := eps[rng.IntN(len(eps))]
		dst := workers[rng.IntN(len(workers))]
		if dst == ep.Owner() {
			dst = workers[(dst.ID()+1)%len(workers)]
		}
		ctx, cancel := context.WithTimeout(e.ctx, moveTimeout)
		start := time.Now()
		err := e.d.Move(ctx, ep, dst)
		cancel()
		slowest = max(slowest, time.Since(start))
		switch {
		case isTimeout(err):
			e.flush()
			e.t.Fatalf("endpointtest: Driver.Move of the endpoint to %s onto worker %d did not finish in %v", ep.Peer(), dst.ID(), moveTimeout)
		case err != nil:
			if failed < 3 {
				e.t.Logf("move %d refused after %v: %v", moves+failed, time.Since(start).Round(time.Microsecond), err)
			}
			failed++
		default:
			moves++
			if ep.Owner() != dst {
				e.t.Errorf("after a successful Move onto worker %d, the endpoint's Owner() is worker %d", dst.ID(), ep.Owner().ID())
			}
		}
	}
	return moves, failed, slowest
}
