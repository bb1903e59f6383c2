package transporttest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport"
)

// write posts a Write of b to c's worker without waiting for it; a failed
// Write is recorded.
func (e *env) write(c transport.Conn, what string, b []byte) {
	e.t.Helper()
	b = bytes.Clone(b)
	if err := c.Post(func() {
		if err := c.Write(b); err != nil {
			e.errorf("%s: Write of %d bytes: %v", what, len(b), err)
		}
	}); err != nil {
		e.fatalf("%s: Post: %v", what, err)
	}
}

// roundTrip writes msg on c and waits for it to come back to p, c's
// handler, from an echoing peer. Nothing else may be in flight on c.
func (e *env) roundTrip(c transport.Conn, p *peer, msg []byte) {
	e.t.Helper()
	p.reset()
	e.write(c, p.name, msg)
	if c.Kind() == transport.Datagram {
		p.waitPacket(msg)
	} else {
		p.waitBytes(msg)
	}
}

// randBytes returns n bytes from a PRNG seeded with seed.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8(seedOf(seed)).Read(b)
	return b
}

// seedOf expands a small seed into a ChaCha8 key.
func seedOf(seed uint64) (s [32]byte) {
	for i := range 4 {
		x := seed*0x9e3779b97f4a7c15 + uint64(i)*0xbf58476d1ce4e5b9
		for j := range 8 {
			s[i*8+j] = byte(x >> (8 * j))
		}
	}
	return s
}

// protocols returns the protocol codes of addr: two addresses "of the same
// transport" have the same codes.
func protocols(addr ma.Multiaddr) []int {
	var codes []int
	for _, p := range addr.Protocols() {
		codes = append(codes, p.Code)
	}
	return codes
}

// checkAddrs checks a connection's addresses: present, of this transport,
// and of the same shape as want (nil: no shape check).
func (e *env) checkAddrs(side string, c transport.Conn, local, remote ma.Multiaddr) {
	e.t.Helper()
	for _, a := range []struct {
		name      string
		got, like ma.Multiaddr
	}{{"LocalAddr", c.LocalAddr(), local}, {"RemoteAddr", c.RemoteAddr(), remote}} {
		if a.got == nil {
			e.t.Errorf("%s: %s() is nil", side, a.name)
			continue
		}
		if !e.tr.Handles(a.got) {
			e.t.Errorf("%s: %s() = %s, which the transport does not handle", side, a.name, a.got)
		}
		if a.like != nil && !slices.Equal(protocols(a.got), protocols(a.like)) {
			e.t.Errorf("%s: %s() = %s; want an address of the same transport as %s", side, a.name, a.got, a.like)
		}
	}
}

// testConnect dials a listener and checks both ends of the connection,
// then a listener whose AcceptFunc refuses.
func testConnect(e *env) {
	acc := newAcceptor(e, true)
	ln := e.listen(acc.accept)
	w := e.worker(len(e.d.Workers()) - 1)
	p := newPeer(e, "dialer", false)
	c := e.dial(ln.Addr(), w, p)
	hello := []byte("hello")
	e.write(c, "dialer", hello) // a Datagram listener may accept on the first packet
	a := acc.next()

	if c.Kind() != e.tr.Kind() {
		e.t.Errorf("dialer: Conn.Kind() = %v, want %v", c.Kind(), e.tr.Kind())
	}
	if c.Owner() != w {
		e.t.Errorf("dialer: Conn.Owner() is not the worker passed to Dial")
	}
	if !e.isWorker(a.c.Owner()) {
		e.t.Errorf("acceptor: Conn.Owner() is not a worker of the driver passed to Listen")
	}
	for _, s := range []struct {
		name string
		c    transport.Conn
	}{{"dialer", c}, {"acceptor", a.c}} {
		m, stream := s.c.MaxDatagram(), e.tr.Kind() == transport.Stream
		if stream && m != 0 {
			e.t.Errorf("%s: MaxDatagram() = %d on a Stream connection; want 0", s.name, m)
		} else if !stream && m <= 0 {
			e.t.Errorf("%s: MaxDatagram() = %d on a Datagram connection; want > 0", s.name, m)
		}
	}
	if c.RemoteAddr() != nil && !c.RemoteAddr().Equal(ln.Addr()) {
		e.t.Errorf("dialer: RemoteAddr() = %s; want the dialled address %s", c.RemoteAddr(), ln.Addr())
	}
	e.checkAddrs("dialer", c, nil, ln.Addr())
	e.checkAddrs("acceptor", a.c, ln.Addr(), c.LocalAddr())

	if e.tr.Kind() == transport.Datagram {
		p.waitPacket(hello) // the echo
	} else {
		p.waitBytes(hello)
	}
	e.onWorker(c, "check the worker", func() { e.checkOn(c, "a task posted with Conn.Post") })
	e.roundTrip(c, p, []byte("ping"))
	if e.tr.Kind() == transport.Stream {
		testAcceptRefuses(e)
	}
}

// testAcceptRefuses: a connection whose AcceptFunc returns nil is closed,
// and nothing is delivered on it.
func testAcceptRefuses(e *env) {
	e.t.Helper()
	acc := newAcceptor(e, false)
	acc.refuse = true
	ln := e.listen(acc.accept)
	p := newPeer(e, "refused dialer", false)
	ctx, cancel := dialCtx()
	defer cancel()
	c, err := e.tr.Dial(ctx, ln.Addr(), e.worker(0), p)
	if err != nil {
		return // refusing before the dial completes is fine too
	}
	e.eventually("the AcceptFunc to be called", func() bool { return acc.count.Load() > 0 })
	if err := p.waitClosed(); !isEOF(err) && !errors.Is(err, transport.ErrReset) {
		e.t.Errorf("dialer of a refused connection: OnClose(%v); want an error wrapping io.EOF or ErrReset", err)
	}
	p.mu.Lock()
	n := len(p.data)
	p.mu.Unlock()
	if n > 0 {
		e.t.Errorf("dialer of a refused connection received %d bytes", n)
	}
	_ = c.Close()
}

// testStreamEcho writes messages of many sizes, with Write and Writev,
// and checks that they come back intact and in order.
func testStreamEcho(e *env) {
	acc := newAcceptor(e, true)
	ln := e.listen(acc.accept)
	p := newPeer(e, "dialer", false)
	c := e.dial(ln.Addr(), e.worker(0), p)

	sizes := []int{1, 2, 3, 100, 1000, 1460, 4096, 10000, 65535, 65536, 65537, 300_000, 1 << 20}
	var want []byte
	scratch := make([]byte, 1<<20)
	for i, n := range sizes {
		msg := randBytes(uint64(i), n)
		want = append(want, msg...)
		vec := i%3 == 2
		if err := c.Post(func() {
			// Write may keep no reference to its argument: the suite
			// overwrites it as soon as Write returns.
			buf := scratch[:n]
			copy(buf, msg)
			var err error
			if vec {
				err = c.Writev([][]byte{buf[:n/3], buf[n/3 : n/2], buf[n/2:]})
			} else {
				err = c.Write(buf)
			}
			clear(buf)
			if err != nil {
				e.errorf("message %d: Write(v) of %d bytes: %v", i, n, err)
			}
		}); err != nil {
			e.fatalf("Post: %v", err)
		}
	}
	acc.next()
	p.waitBytes(want)
}

// testManyConns opens 1,000 connections from 16 goroutines, echoes a
// unique message on each, closes them all and waits for the driver to
// track none. Under the race detector, for every transport, it opens 250:
// a handshake that costs a millisecond (TLS, QUIC) costs tens there, and
// 1,000 of them on two cores outlast the wait limits.
func testManyConns(e *env) {
	n, dialers := 1000, 16
	if raceEnabled {
		n = 250
	}
	acc := newAcceptor(e, true)
	ln := e.listen(acc.accept)
	conns := make([]transport.Conn, n)
	peers := make([]*peer, n)
	msgs := make([][]byte, n)
	for i := range n {
		msgs[i] = fmt.Appendf(nil, "conn %04d %x", i, randBytes(uint64(i), 8+i%200))
		peers[i] = newPeer(e, fmt.Sprintf("dialer %d", i), false)
	}
	errs := make(chan error, dialers)
	for g := range dialers {
		go func() { errs <- e.dialShare(ln.Addr(), g, dialers, conns, peers, msgs) }()
	}
	for range dialers {
		if err := recv(e, errs, "a dialling goroutine to finish"); err != nil {
			e.fatalf("%v", err)
		}
	}
	for i := range n {
		if e.tr.Kind() == transport.Datagram {
			peers[i].waitPacket(msgs[i])
		} else {
			peers[i].waitBytes(msgs[i])
		}
	}
	acceptedConns := make([]accepted, n)
	for i := range n {
		acceptedConns[i] = acc.next()
	}
	for _, c := range conns {
		if err := c.Close(); err != nil {
			e.t.Errorf("Close: %v", err)
		}
	}
	for _, p := range peers {
		if err := p.waitClosed(); err != nil {
			e.t.Errorf("%s: OnClose(%v) after a local Close; want nil", p.name, err)
		}
	}
	for _, a := range acceptedConns {
		if e.tr.Kind() == transport.Datagram {
			_ = a.c.Close() // the peer of a datagram association may not learn of the close
		}
		if err := a.p.waitClosed(); err != nil && !isEOF(err) {
			e.t.Errorf("%s: OnClose(%v) after the peer closed; want io.EOF", a.p.name, err)
		}
	}
	e.eventually("the driver's Stats to report 0 connections", func() bool { return e.conns() == 0 })
}

// dialShare dials the connections i ≡ g (mod step) and writes each one's
// message.
func (e *env) dialShare(addr ma.Multiaddr, g, step int, conns []transport.Conn, peers []*peer, msgs [][]byte) error {
	for i := g; i < len(conns); i += step {
		ctx, cancel := dialCtx()
		c, err := e.tr.Dial(ctx, addr, e.worker(i), peers[i])
		cancel()
		if err != nil {
			return fmt.Errorf("dial %d of %d: %w", i, len(conns), err)
		}
		conns[i] = c
		msg := msgs[i]
		if err := c.Post(func() {
			if err := c.Write(msg); err != nil {
				e.errorf("conn %d: Write: %v", i, err)
			}
		}); err != nil {
			return fmt.Errorf("conn %d: Post: %w", i, err)
		}
	}
	return nil
}
