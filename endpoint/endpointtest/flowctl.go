package endpointtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/weftnet/weft/endpoint"
)

// blockedWait is how long a Send must stay blocked for the suite to call
// it blocked.
const blockedWait = 50 * time.Millisecond

// testSlowReceiver: a receiver that stops reading makes the sender block
// once queued plus unacknowledged bytes reach SendBufferBytes, and the
// receiver never holds more than its RecvWindowBytes; when it reads again
// everything arrives. Run with equal limits on both sides, then with a
// receiver whose window is smaller than the sender's buffer (the sender
// must honour the window the receiver announces, not its own).
func testSlowReceiver(e *env) {
	small := func(n byte) endpoint.Config {
		c := e.config(n)
		c.MaxMessageBytes = 64 << 10
		c.SendBufferBytes = 1 << 20
		c.RecvWindowBytes = 1 << 20
		return c
	}
	e.slowReceiver("equal 1 MiB limits", small(1), small(2), 51)
	sender := e.config(3)
	sender.MaxMessageBytes = 64 << 10 // default 8 MiB buffer and window
	e.slowReceiver("receiver window 1 MiB, sender buffer 8 MiB", sender, small(4), 52)
}

// slowReceiver runs one scenario: scfg dials and sends 1000-byte messages,
// rcfg listens and receives with Recv.
func (e *env) slowReceiver(name string, scfg, rcfg endpoint.Config, seed uint64) {
	e.t.Helper()
	sb, window := scfg.SendBufferBytes, rcfg.RecvWindowBytes
	if sb == 0 {
		sb = 8 << 20 // the default
	}
	snd, rcv := e.pair(scfg, rcfg)
	msg := func(i uint64) []byte { return buildMsg(nil, seed, i, slowPayload) }
	status := func() string { return fmt.Sprintf("sender %+v; receiver %+v", snd.Stats(), rcv.Stats()) }

	limit := uint64(4 * (sb + window) / slowLogBytes)
	sent := e.fillUntilBlocked(name, snd, msg, 0, sb, limit)
	e.waitUntil(status, func() bool {
		s, r := snd.Stats(), rcv.Stats()
		return s.MsgsSent == r.MsgsRecv && (r.MsgsRecv+1)*slowLogBytes > uint64(window)
	}, "%s: the receiver's window is full and it has acknowledged all it took", name)
	sent = e.fillUntilBlocked(name, snd, msg, sent, sb, limit) // acknowledgements late for the first fill made room
	e.checkBlocked(name, snd, rcv, msg(sent), sb, window)
	e.t.Logf("%s: Send blocked after %d messages: sender queues %d bytes (limit %d), receiver holds %d unread messages (window %d bytes)",
		name, sent, snd.Stats().QueuedBytes, sb, rcv.Stats().MsgsRecv, window)

	// Read again: everything arrives, including more sent meanwhile.
	total := sent + 2000
	e.goBG(func() {
		for i := sent; i < total; i++ {
			if err := snd.Send(e.ctx, msg(i)); err != nil {
				if e.ctx.Err() == nil {
					e.errorf("%s: Send of message %d after the receiver resumed: %v", name, i, err)
				}
				return
			}
		}
	})
	for i := range total {
		ctx, cancel := e.timeout()
		m, err := rcv.Recv(ctx)
		cancel()
		if err != nil {
			e.t.Fatalf("%s: Recv of message %d of %d: %v (%s)", name, i, total, err, status())
		}
		if want := msg(i); !bytes.Equal(m, want) {
			e.t.Fatalf("%s: message %d: got %d bytes (sequence %d), want message %d", name, i, len(m), seqOf(m), i)
		}
	}
	e.noProblems(snd, name+": sender")
	e.noProblems(rcv, name+": receiver")
	e.closeBoth(snd, rcv, name)
}

// The slow receiver's messages: 1000 bytes, 1002 in the send log.
const (
	slowPayload  = 1000 - seqLen
	slowLogBytes = 1000 + 2 // uvarint(1000) is 2 bytes
)

// fillUntilBlocked sends messages until a Send stays blocked for
// blockedWait with the sender's buffer full (a Send that times out on a
// loaded machine before that is retried). It starts with message from and
// returns how many were sent in all. More than limit fails.
func (e *env) fillUntilBlocked(name string, snd *endpoint.Endpoint, msg func(uint64) []byte, from uint64, sb int, limit uint64) uint64 {
	e.t.Helper()
	for sent := from; ; {
		ctx, cancel := context.WithTimeout(e.ctx, blockedWait)
		err := snd.Send(ctx, msg(sent))
		cancel()
		switch {
		case isTimeout(err):
			if snd.Stats().QueuedBytes+slowLogBytes > sb {
				return sent
			}
		case err != nil:
			e.t.Fatalf("%s: Send of message %d: %v", name, sent, err)
		default:
			sent++
		}
		if sent > limit {
			e.t.Fatalf("%s: %d messages of 1000 bytes sent to a receiver that reads nothing, and Send never blocked", name, sent)
		}
	}
}

// checkBlocked checks the blocked state: Send waits, TrySend refuses,
// the sender queues no more than its buffer, the receiver holds no more
// than its window.
func (e *env) checkBlocked(name string, snd, rcv *endpoint.Endpoint, next []byte, sb, window int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, blockedWait)
	err := snd.Send(ctx, next)
	cancel()
	if !isTimeout(err) {
		e.t.Fatalf("%s: Send to a stalled receiver with a full buffer returned %v; want it to block until its context ends", name, err)
	}
	if err := snd.TrySend(next); !errors.Is(err, endpoint.ErrBufferFull) {
		e.t.Fatalf("%s: TrySend with a full buffer: %v; want ErrBufferFull", name, err)
	}
	s, r := snd.Stats(), rcv.Stats()
	if s.QueuedBytes > sb {
		e.t.Errorf("%s: sender's QueuedBytes %d exceeds SendBufferBytes %d", name, s.QueuedBytes, sb)
	}
	if held := r.MsgsRecv * slowLogBytes; held > uint64(window) {
		e.t.Errorf("%s: the receiver holds %d unread messages (%d bytes), more than its RecvWindowBytes %d", name, r.MsgsRecv, held, window)
	}
}

// seqOf returns a message's sequence number, or MaxUint64 if it is too
// short to have one.
func seqOf(m []byte) uint64 {
	if len(m) < seqLen {
		return ^uint64(0)
	}
	return binary.BigEndian.Uint64(m)
}

// testCloseFlushes: Close flushes what was sent and reports a clean end;
// an endpoint whose peer vanishes reports ErrResumeTimeout and how many
// messages the peer never acknowledged.
func testCloseFlushes(e *env) {
	e.closeFlushes()
	e.peerVanishes()
}

// closeFlushes sends k messages and closes at once: all arrive, and the
// receiver can still read them after its endpoint has ended.
func (e *env) closeFlushes() {
	e.t.Helper()
	const k = 1000
	a, b := e.pair(e.config(1), e.config(2))
	f := newFlow("sent before Close", 61, 16<<10) // at most ~2 MiB: fits the receive window
	if err := f.sendLoop(e.ctx, a, k, nil); err != nil {
		e.t.Fatal(err)
	}
	e.closeWait(a, "the sender, closed right after its last Send")
	ev := e.closed(b, "the receiver, whose peer closed")
	if ev.err != nil || ev.undelivered != 0 {
		e.t.Errorf("the receiver's OnClose(err %v, undelivered %d) after its peer closed; want (nil, 0)", ev.err, ev.undelivered)
	}
	for i := range k {
		ctx, cancel := e.timeout()
		m, err := b.Recv(ctx)
		cancel()
		if err != nil {
			e.t.Fatalf("Recv of message %d of %d after the peer closed gracefully: %v; every acknowledged message must stay readable", i, k, err)
		}
		f.receive(e, m)
	}
	e.check()
	ctx, cancel := context.WithTimeout(e.ctx, time.Second)
	defer cancel()
	if m, err := b.Recv(ctx); !errors.Is(err, endpoint.ErrClosed) {
		e.t.Errorf("Recv after the last message of a closed endpoint: %d bytes, %v; want ErrClosed", len(m), err)
	}
}

// peerVanishes kills the connection under a pair and makes the listening
// side disappear for good; the dialer, with a short ResumeTimeout, must end
// with ErrResumeTimeout and report as undelivered exactly the messages the
// peer never acknowledged.
func (e *env) peerVanishes() {
	e.t.Helper()
	const before, after = 100, 50
	d2 := e.newDriver(e.c.Workers)
	var got atomic.Uint64
	bcfg := e.config(4)
	bcfg.Handler = func(*endpoint.Endpoint, []byte) { got.Add(1) }
	ln := e.listen(d2, bcfg, nil)
	acfg := e.config(3)
	acfg.ResumeTimeout = 300 * time.Millisecond
	a := e.mustDial(e.d, ln.Addr(), acfg)
	e.accept(ln)
	sent := 0
	for ; sent < before; sent++ {
		if err := a.Send(e.ctx, []byte{byte(sent)}); err != nil {
			e.t.Fatalf("Send %d: %v", sent, err)
		}
	}
	e.waitUntil(func() string { return fmt.Sprintf("peer got %d; %+v", got.Load(), a.Stats()) },
		func() bool { return got.Load() == before && a.Stats().MsgsSent == before },
		"the peer has received and acknowledged the first %d messages", before)

	// The peer vanishes: no listener to resume with, connection killed,
	// its driver gone.
	_ = ln.Close()
	// Kill both ends: a peer endpoint whose connection still worked would
	// close gracefully when its driver closes, and a clean CLOSE is not a
	// vanishing peer.
	if !e.killLatest(false) {
		e.t.Fatal("no live connection to kill under the endpoint")
	}
	e.killLatest(true) // the peer's end too, where killing one end spared it
	start := time.Now()
	e.closeDriver(d2)
	for ; sent < before+after; sent++ {
		if err := a.Send(e.ctx, []byte{byte(sent)}); err != nil {
			e.t.Logf("Send %d after the peer vanished: %v (the endpoint gave up already)", sent, err)
			break
		}
	}
	ev := e.closed(a, "the endpoint whose peer vanished")
	acked := a.Stats().MsgsSent
	e.t.Logf("peer vanished: OnClose after %v: err %v, %d undelivered; %d sent, %d acknowledged, %d received by the peer",
		time.Since(start).Round(time.Millisecond), ev.err, ev.undelivered, sent, acked, got.Load())
	if !errors.Is(ev.err, endpoint.ErrResumeTimeout) {
		e.t.Errorf("OnClose err %v; want ErrResumeTimeout", ev.err)
	}
	if want := uint64(sent) - acked; uint64(ev.undelivered) != want || ev.undelivered == 0 {
		e.t.Errorf("OnClose reports %d undelivered; want %d (%d sent, %d acknowledged), more than 0", ev.undelivered, want, sent, acked)
	}
	if acked > got.Load() {
		e.t.Errorf("%d messages acknowledged but the peer received only %d", acked, got.Load())
	}
	if !errors.Is(a.Err(), endpoint.ErrResumeTimeout) {
		e.t.Errorf("Err() = %v; want ErrResumeTimeout", a.Err())
	}
	if err := a.Send(e.ctx, []byte{1}); !errors.Is(err, endpoint.ErrClosed) {
		e.t.Errorf("Send after the endpoint ended: %v; want ErrClosed", err)
	}
}
