package endpointtest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
)

// converse runs two flows of n messages at once between a and b: the
// dialer side a sends ab and receives ba with its Handler (set up by the
// caller) or Recv; same for b. recvA/recvB say which side receives with
// Recv. It waits for both flows to complete.
func (e *env) converse(a, b *endpoint.Endpoint, ab, ba *flow, n uint64, recvA, recvB bool) {
	e.t.Helper()
	ab.setTarget(n)
	ba.setTarget(n)
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
	if recvA {
		e.goBG(func() { ba.recvLoop(e, a) })
	}
	if recvB {
		e.goBG(func() { ab.recvLoop(e, b) })
	}
	status := func() string { return ab.status() + "; " + ba.status() }
	e.waitProgress(func() uint64 { return ab.recvd.Load() + ba.recvd.Load() }, status, "both flows to arrive", ab.done, ba.done)
}

// testRecvAndHandler: one side receives with Config.Handler (on the
// worker, copying what it keeps), the other with Recv; both directions
// work at once.
func testRecvAndHandler(e *env) {
	const n = 2000
	ab := newFlow("dialer→listener (Recv)", 11, 64<<10)
	ba := newFlow("listener→dialer (Handler)", 12, 64<<10)
	var mu sync.Mutex
	var kept [][]byte // what the Handler keeps must be a copy
	dcfg := e.config(1)
	dcfg.Handler = func(ep *endpoint.Endpoint, msg []byte) {
		ba.receive(e, msg)
		if len(kept) < 16 {
			mu.Lock()
			kept = append(kept, bytes.Clone(msg))
			mu.Unlock()
		}
	}
	a, b := e.pair(dcfg, e.config(2))
	e.converse(a, b, ab, ba, n, false, true)
	mu.Lock()
	for i, m := range kept {
		want := buildMsg(nil, ba.seed, uint64(i), len(m)-seqLen)
		if !bytes.Equal(m, want) {
			e.t.Errorf("message %d copied in the Handler changed after the Handler returned", i)
		}
	}
	mu.Unlock()
	e.noProblems(a, "dialer")
	e.noProblems(b, "listener")
	e.closeBoth(a, b, "after the exchange")
	e.checkTotals(a, b, n, ab, ba)
}

// testPeerIDMismatch: a dial to <addr>/p2p/<someone else> fails with
// ErrPeerMismatch and the listener never accepts anything from it; a dial
// naming the right peer works.
func testPeerIDMismatch(e *env) {
	var mu sync.Mutex
	var accepted []identity.PeerID
	acceptedCh := make(chan struct{}, 8)
	ln := e.listen(e.d, e.config(1), func(ep *endpoint.Endpoint) {
		mu.Lock()
		accepted = append(accepted, ep.Peer())
		mu.Unlock()
		select {
		case acceptedCh <- struct{}{}:
		default:
		}
	})
	wrong := withPeer(e, ln.Addr(), peerOf(e.t, 9))
	start := time.Now()
	ep, err := e.dial(e.d, wrong, e.config(2))
	switch {
	case err == nil:
		e.t.Errorf("Dial %s reached peer %s; want ErrPeerMismatch", wrong, ep.Peer())
	case !errors.Is(err, endpoint.ErrPeerMismatch):
		e.t.Errorf("Dial %s: %v; want an error matching endpoint.ErrPeerMismatch", wrong, err)
	default:
		e.t.Logf("dial to the wrong peer failed in %v: %v", time.Since(start).Round(time.Millisecond), err)
	}

	right := withPeer(e, ln.Addr(), peerOf(e.t, 1))
	good := e.mustDial(e.d, right, e.config(3))
	if good.Peer() != peerOf(e.t, 1) {
		e.t.Errorf("Dial %s: Peer() is %s; want %s", right, good.Peer(), peerOf(e.t, 1))
	}
	e.wait(acceptedCh, "the listener to accept the dial that named it")
	mu.Lock()
	got := slices.Clone(accepted)
	mu.Unlock()
	if len(got) != 1 || got[0] != peerOf(e.t, 3) {
		e.t.Errorf("the listener accepted %v; want only the good dialer %s (never the mismatched one %s)", got, peerOf(e.t, 3), peerOf(e.t, 2))
	}
	if err := good.Send(e.ctx, []byte("hello")); err != nil {
		e.t.Errorf("Send on the good endpoint: %v", err)
	}
	e.closeWait(good, "the good dialer")
}

// withPeer returns addr/p2p/<id>.
func withPeer(e *env, addr ma.Multiaddr, id identity.PeerID) ma.Multiaddr {
	e.t.Helper()
	p2p, err := ma.NewMultiaddr("/p2p/" + id.String())
	if err != nil {
		e.t.Fatalf("endpointtest: /p2p/%s: %v", id, err)
	}
	return ma.Join(addr, p2p)
}

// testInsecurePlaintext: both sides in plaintext mode talk; a dial where
// only one side asks for it fails, whichever side it is, and the listener
// accepts nothing from it.
func testInsecurePlaintext(e *env) {
	plain := func(n byte) endpoint.Config {
		c := e.config(n)
		c.InsecurePlaintext = true
		c.HandshakeTimeout = 5 * time.Second
		return c
	}
	a, b := e.pair(plain(1), plain(2))
	ab := newFlow("dialer→listener", 21, 4<<10)
	ba := newFlow("listener→dialer", 22, 4<<10)
	e.converse(a, b, ab, ba, 500, true, true)
	e.noProblems(a, "plaintext dialer")
	e.noProblems(b, "plaintext listener")
	e.closeBoth(a, b, "plaintext pair")

	for _, c := range []struct {
		name         string
		dial, listen endpoint.Config
	}{
		{"only the dialer asks for plaintext", plain(3), e.config(4)},
		{"only the listener asks for plaintext", e.config(5), plain(6)},
	} {
		accepted := make(chan *endpoint.Endpoint, 1)
		ln := e.listen(e.d, c.listen, func(ep *endpoint.Endpoint) {
			select {
			case accepted <- ep:
			default:
			}
		})
		start := time.Now()
		ep, err := e.dial(e.d, ln.Addr(), c.dial)
		if err == nil {
			e.t.Errorf("%s: Dial succeeded (peer %s); want a failed handshake", c.name, ep.Peer())
			continue
		}
		e.t.Logf("%s: Dial failed after %v: %v", c.name, time.Since(start).Round(time.Millisecond), err)
		_ = ln.Close()
		select {
		case ep := <-accepted:
			e.t.Errorf("%s: the listener accepted an endpoint from %s", c.name, ep.Peer())
		default:
		}
	}
}

// testLargeMessages: messages of exactly MaxMessageBytes arrive intact;
// one byte more fails at once with ErrTooLarge, whichever way it is sent;
// the peer's smaller limit applies to what we send it.
func testLargeMessages(e *env) {
	const maxMsg = 1 << 20
	large := func(n byte) endpoint.Config {
		c := e.config(n)
		c.MaxMessageBytes = maxMsg
		return c
	}
	a, b := e.pair(large(1), large(2))
	count := 4
	if short() || e.datagram() {
		count = 2
	}
	e.t.Logf("%d messages of %d bytes each way", count, maxMsg)
	e.largeRoundTrip(a, b, "dialer→listener", count, maxMsg)
	e.largeRoundTrip(b, a, "listener→dialer", count, maxMsg)

	tooBig := make([]byte, maxMsg+1)
	for _, s := range []struct {
		name string
		send func() error
	}{
		{"Send", func() error { return a.Send(e.ctx, tooBig) }},
		{"TrySend", func() error { return a.TrySend(tooBig) }},
		{"SendBatch", func() error { _, err := a.SendBatch(e.ctx, [][]byte{{1}, tooBig}); return err }},
	} {
		start := time.Now()
		err := s.send()
		var tl *endpoint.TooLargeError
		switch {
		case !errors.Is(err, endpoint.ErrTooLarge):
			e.t.Errorf("%s of %d bytes (MaxMessageBytes %d): %v; want ErrTooLarge", s.name, len(tooBig), maxMsg, err)
		case !errors.As(err, &tl) || tl.Size != maxMsg+1 || tl.Limit != maxMsg:
			e.t.Errorf("%s of %d bytes: %v; want a *TooLargeError{Size: %d, Limit: %d}", s.name, len(tooBig), err, maxMsg+1, maxMsg)
		case time.Since(start) > time.Second:
			e.t.Errorf("%s of %d bytes took %v to fail; want at once", s.name, len(tooBig), time.Since(start))
		}
	}
	e.noProblems(a, "dialer")
	e.noProblems(b, "listener")
	e.closeBoth(a, b, "after the large messages")
	e.peerLimit(maxMsg)
}

// largeRoundTrip sends count messages of size bytes from src and checks
// dst receives them intact.
func (e *env) largeRoundTrip(src, dst *endpoint.Endpoint, what string, count, size int) {
	e.t.Helper()
	errc := make(chan error, 1)
	go func() {
		for i := range count {
			msg := buildMsg(nil, 31, uint64(i), size-seqLen)
			if err := src.Send(e.ctx, msg); err != nil {
				errc <- fmt.Errorf("%s: Send of message %d (%d bytes): %w", what, i, size, err)
				return
			}
		}
		errc <- nil
	}()
	for i := range count {
		ctx, cancel := e.timeout()
		msg, err := dst.Recv(ctx)
		cancel()
		if err != nil {
			e.t.Fatalf("%s: Recv of message %d (%d bytes): %v", what, i, size, err)
		}
		if want := buildMsg(nil, 31, uint64(i), size-seqLen); !bytes.Equal(msg, want) {
			e.t.Fatalf("%s: message %d is %d bytes and differs from the %d bytes sent", what, i, len(msg), len(want))
		}
	}
	if err := <-errc; err != nil {
		e.t.Fatal(err)
	}
}

// peerLimit checks that the smaller of the two sides' MaxMessageBytes
// bounds what the larger side may send.
func (e *env) peerLimit(maxMsg int) {
	e.t.Helper()
	small := e.config(4)
	small.MaxMessageBytes = maxMsg / 2
	big := e.config(3)
	big.MaxMessageBytes = maxMsg
	a, b := e.pair(big, small)
	err := a.Send(e.ctx, make([]byte, maxMsg/2+1))
	if !errors.Is(err, endpoint.ErrTooLarge) {
		e.t.Errorf("Send of %d bytes to a peer whose MaxMessageBytes is %d: %v; want ErrTooLarge", maxMsg/2+1, maxMsg/2, err)
	}
	msg := buildMsg(nil, 32, 0, maxMsg/2-seqLen)
	if err := a.Send(e.ctx, msg); err != nil {
		e.t.Errorf("Send of %d bytes (the peer's limit): %v", len(msg), err)
	}
	ctx, cancel := e.timeout()
	defer cancel()
	got, err := b.Recv(ctx)
	if err != nil || !bytes.Equal(got, msg) {
		e.t.Errorf("Recv of a message at the peer's limit: %d bytes, %v; want the %d bytes sent", len(got), err, len(msg))
	}
	e.closeBoth(a, b, "peer limit pair")
}

// testCompression: with compression on both sides, compressible messages
// arrive intact and take fewer bytes on the wire than their payload;
// incompressible ones still arrive.
func testCompression(e *env) {
	comp := func(n byte) endpoint.Config {
		c := e.config(n)
		c.Compression = true
		return c
	}
	a, b := e.pair(comp(1), comp(2))
	const n, size = 1000, 4 << 10
	var payload uint64
	for i := range n {
		payload += uint64(len(compressible(i, size)))
	}
	errc := make(chan error, 1)
	go func() {
		for i := range n {
			if err := a.Send(e.ctx, compressible(i, size)); err != nil {
				errc <- fmt.Errorf("Send of compressible message %d: %w", i, err)
				return
			}
		}
		errc <- nil
	}()
	for i := range n {
		ctx, cancel := e.timeout()
		msg, err := b.Recv(ctx)
		cancel()
		if err != nil {
			e.t.Fatalf("Recv of compressible message %d: %v", i, err)
		}
		if !bytes.Equal(msg, compressible(i, size)) {
			e.t.Fatalf("compressible message %d arrived altered (%d bytes)", i, len(msg))
		}
	}
	if err := <-errc; err != nil {
		e.t.Fatal(err)
	}
	// BytesSent moves after the write returns: wait for the acknowledgement.
	e.waitUntil(func() string { return fmt.Sprintf("%+v", a.Stats()) }, func() bool { return a.Stats().MsgsSent == n },
		"the compressible messages are acknowledged")
	s := a.Stats()
	e.t.Logf("%d compressible messages: %d payload bytes, %d bytes on the wire (%.1f%%)", n, payload, s.BytesSent, 100*float64(s.BytesSent)/float64(payload))
	if s.BytesSent >= payload {
		e.t.Errorf("with compression on both sides, %d payload bytes took %d bytes on the wire; want fewer", payload, s.BytesSent)
	}
	ab := newFlow("incompressible dialer→listener", 41, 64<<10)
	ba := newFlow("incompressible listener→dialer", 42, 64<<10)
	e.converse(a, b, ab, ba, 500, true, true)
	e.noProblems(a, "dialer")
	e.noProblems(b, "listener")
	e.closeBoth(a, b, "compressed pair")
}

// compressible returns message i: its number and text that repeats.
func compressible(i, size int) []byte {
	line := fmt.Sprintf("message %08d: the quick brown fox jumps over the lazy dog; ", i)
	return bytes.Repeat([]byte(line), size/len(line)+1)[:size]
}
