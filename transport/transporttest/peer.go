package transporttest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftnet/weft/transport"
)

// peer is a recording Handler: it keeps what arrives (bytes for a Stream,
// packets for a Datagram), optionally echoes it, and records OnClose. Its
// callbacks only lock, append and signal: they never block.
type peer struct {
	e    *env
	name string
	echo bool // write every OnData back

	mu      sync.Mutex
	data    []byte   // Stream: bytes in arrival order
	packets [][]byte // Datagram: packets in arrival order
	closes  int      // OnClose calls
	err     error    // OnClose's error, the first time
	late    int      // callbacks after OnClose
	// writeAfter is what Write returned inside OnClose.
	writeAfter error

	wake   chan struct{} // cap 1: something changed
	closed chan struct{} // closed by the first OnClose
}

func newPeer(e *env, name string, echo bool) *peer {
	return &peer{e: e, name: name, echo: echo, wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (p *peer) OnData(c transport.Conn, b []byte) {
	p.e.checkOn(c, p.name+": OnData")
	if p.echo {
		// A connection being torn down may refuse the echo.
		if err := c.Write(b); err != nil && !errors.Is(err, transport.ErrClosed) && !errors.Is(err, transport.ErrReset) {
			p.e.errorf("%s: echo Write of %d bytes: %v", p.name, len(b), err)
		}
	}
	p.mu.Lock()
	if p.closes > 0 {
		p.late++
	}
	if c.Kind() == transport.Datagram {
		p.packets = append(p.packets, bytes.Clone(b))
	} else {
		p.data = append(p.data, b...)
	}
	p.mu.Unlock()
	p.signal()
}

func (p *peer) OnClose(c transport.Conn, err error) {
	p.e.checkOn(c, p.name+": OnClose")
	p.mu.Lock()
	p.closes++
	first := p.closes == 1
	if first {
		p.err = err
		p.writeAfter = c.Write([]byte("after OnClose"))
	}
	p.mu.Unlock()
	if first {
		close(p.closed)
	}
	p.signal()
}

func (p *peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// waitUntil waits until cond, called with p locked, holds. Only one
// goroutine may wait on a peer at a time.
func (p *peer) waitUntil(what string, cond func(p *peer) bool) {
	p.e.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok := cond(p)
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.wake:
		case <-timer.C:
			p.e.fatalf("%s: timed out after %v waiting for %s", p.name, waitTimeout, what)
		}
	}
}

// waitBytes waits until want has arrived on a Stream connection and
// checks that exactly want arrived.
func (p *peer) waitBytes(want []byte) {
	p.e.t.Helper()
	p.waitUntil(fmt.Sprintf("%d bytes", len(want)), func(p *peer) bool {
		return len(p.data) >= len(want) || p.closes > 0
	})
	p.mu.Lock()
	got := p.data
	p.mu.Unlock()
	if err := sameBytes(got, want); err != nil {
		p.e.fatalf("%s: received bytes: %v", p.name, err)
	}
}

// waitPacket waits until the packet want has arrived on a Datagram
// connection.
func (p *peer) waitPacket(want []byte) {
	p.e.t.Helper()
	p.waitUntil(fmt.Sprintf("a packet of %d bytes", len(want)), func(p *peer) bool {
		for _, pkt := range p.packets {
			if bytes.Equal(pkt, want) {
				return true
			}
		}
		return false
	})
}

// waitClosed waits for OnClose and returns its error.
func (p *peer) waitClosed() error {
	p.e.t.Helper()
	recv(p.e, p.closed, p.name+": OnClose")
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// reset forgets what arrived so far.
func (p *peer) reset() {
	p.mu.Lock()
	p.data, p.packets = nil, nil
	p.mu.Unlock()
}

// closeCount returns how often OnClose ran, how many callbacks came after
// it and the error of the first OnClose.
func (p *peer) closeCount() (closes, late int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closes, p.late, p.err
}

// sameBytes describes how got differs from want, or returns nil.
func sameBytes(got, want []byte) error {
	n := min(len(got), len(want))
	for i := range n {
		if got[i] != want[i] {
			return fmt.Errorf("byte %d is %#02x, want %#02x (%d bytes received, %d expected)",
				i, got[i], want[i], len(got), len(want))
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("%d bytes received, %d expected (the first %d match)", len(got), len(want), n)
	}
	return nil
}

// accepted is a connection a listener accepted, with its handler.
type accepted struct {
	c transport.Conn
	p *peer
}

// acceptor is an AcceptFunc that hands each new connection a fresh peer
// and queues the pair for the test.
type acceptor struct {
	e      *env
	echo   bool
	refuse bool // return nil: refuse every connection
	count  atomic.Int64
	// after is set once Listener.Close returned: an accept then is a bug.
	after atomic.Bool
	conns chan accepted
}

func newAcceptor(e *env, echo bool) *acceptor {
	return &acceptor{e: e, echo: echo, conns: make(chan accepted, 4096)}
}

func (a *acceptor) accept(c transport.Conn) transport.Handler {
	n := a.count.Add(1)
	a.e.checkOn(c, "AcceptFunc")
	if a.after.Load() {
		a.e.errorf("AcceptFunc ran after Listener.Close returned")
	}
	if c.Kind() != a.e.tr.Kind() {
		a.e.errorf("accepted Conn.Kind() = %v, want %v", c.Kind(), a.e.tr.Kind())
	}
	if a.refuse {
		return nil
	}
	p := newPeer(a.e, fmt.Sprintf("acceptor %d", n), a.echo)
	select {
	case a.conns <- accepted{c, p}:
	default:
		a.e.errorf("more than %d connections accepted", cap(a.conns))
	}
	return p
}

// next waits for the next accepted connection.
func (a *acceptor) next() accepted {
	a.e.t.Helper()
	return recv(a.e, a.conns, "the listener to accept a connection")
}

// isEOF reports whether err is what OnClose gets when the peer closed:
// io.EOF wrapped.
func isEOF(err error) bool { return err != nil && errors.Is(err, io.EOF) }
