package mem

import (
	"context"
	"errors"
	"fmt"
	"io"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/gate"
	"github.com/weftnet/weft/transport"
)

// memTransport is a Stream or Datagram transport on a Network, for one
// Host (host != 0) or for anonymous addresses.
type memTransport struct {
	n    *Network
	kind transport.Kind
	host uint64
}

func (t *memTransport) Kind() transport.Kind { return t.kind }

func (t *memTransport) Handles(addr ma.Multiaddr) bool {
	_, err := parseAddr(addr)
	return err == nil
}

func (t *memTransport) checkKind() error {
	if t.kind != transport.Stream && t.kind != transport.Datagram {
		return fmt.Errorf("mem: transport kind %v is neither Stream nor Datagram", t.kind)
	}
	return nil
}

// Dial connects to a listener of the same kind. It never waits: the
// connection is up when Dial returns, and a stream's accept callback is
// already queued on the listener's side, ahead of any data. It fails with
// ErrRefused when nobody listens at addr with this kind, or when the two
// hosts are partitioned.
func (t *memTransport) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	fail := func(err error) (transport.Conn, error) {
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	id, err := parseAddr(addr)
	if err != nil {
		return fail(err)
	}
	if err := t.checkKind(); err != nil {
		return fail(err)
	}
	if w == nil || h == nil {
		return fail(errors.New("mem: dial needs a worker and a handler"))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	c, err := t.n.connect(t, id, w, h)
	if err != nil {
		return fail(err)
	}
	return c, nil
}

// connect makes the dialer's end (and a stream's accepted end).
func (n *Network) connect(t *memTransport, id uint64, w *driver.Worker, h transport.Handler) (*conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("mem: network closed: %w", transport.ErrClosed)
	}
	l := n.listeners[id]
	if l == nil || l.kind != t.kind || l.isClosed() {
		return nil, fmt.Errorf("mem: no %s listener at /memory/%d: %w", t.kind, id, transport.ErrRefused)
	}
	localID := n.allocLocked(t.host)
	lk := n.keyLocked(localID)
	if n.cuts[pairKey(lk, l.host)] {
		n.release(localID)
		return nil, fmt.Errorf("mem: /memory/%d and /memory/%d are partitioned: %w", localID, id, transport.ErrRefused)
	}
	a := n.newConn(t.kind, localID, lk, id, l.host, w, n.linkLocked(lk, l.host))
	a.ownsID = true
	a.setHandler(h)
	w.Track(a) // before anything can finish it
	if t.kind == transport.Stream {
		if err := n.acceptLocked(l, a); err != nil {
			w.Untrack(a)
			n.release(localID)
			n.unrefLocked(a.out)
			return nil, fmt.Errorf("mem: /memory/%d cannot accept: %w", id, err)
		}
	}
	n.conns[a] = true
	return a, nil
}

// acceptLocked makes the listener's end of a connection from a and queues
// its accept callback. A datagram association is published as a's peer
// only after that, so that no packet can reach it first; a stream's dialer
// cannot write before Dial returns, and its peer must be set before the
// accept callback can write to it.
func (n *Network) acceptLocked(l *listener, a *conn) error {
	w := l.d.Pick()
	b := n.newConn(l.kind, l.id, l.host, a.localID, a.host, w, n.linkLocked(l.host, a.host))
	b.peer.Store(a)
	if a.kind == transport.Stream {
		a.peer.Store(b)
	}
	w.Track(b)
	if err := b.mb.Post(func() { b.runAccept(l) }); err != nil {
		w.Untrack(b)
		n.unrefLocked(b.out)
		return err
	}
	a.peer.Store(b)
	return nil
}

// deliverPacket hands a datagram from a connection to its peer, making
// the listener's end of the association on its first packet.
func (n *Network) deliverPacket(from *conn, b []byte) {
	to := from.peer.Load()
	if to == nil {
		if to = n.associate(from); to == nil {
			n.stats.unreachable.Add(1)
			return
		}
	}
	if to.pushPacket(b) {
		n.stats.delivered.Add(1)
	}
}

func (n *Network) associate(from *conn) *conn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := from.peer.Load(); p != nil {
		return p
	}
	l := n.listeners[from.remoteID]
	if n.closed || from.killed.Load() || l == nil || l.kind != transport.Datagram || l.isClosed() {
		return nil
	}
	if err := n.acceptLocked(l, from); err != nil {
		return nil
	}
	return from.peer.Load()
}

// Listen accepts connections at addr; /memory/0 picks a free id. Stream
// and datagram listeners share one namespace of ids: an id is held by one
// listener (or one dialer) at a time. A stream connection is accepted when
// it is dialled, a datagram association on its first packet that arrives.
func (t *memTransport) Listen(addr ma.Multiaddr, d *driver.Driver, accept transport.AcceptFunc) (transport.Listener, error) {
	id, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	if err := t.checkKind(); err != nil {
		return nil, err
	}
	if d == nil || accept == nil {
		return nil, errors.New("mem: listen needs a driver and an accept function")
	}
	n := t.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("mem: listen %s: network closed: %w", addr, transport.ErrClosed)
	}
	if id == 0 {
		id = n.allocLocked(t.host)
	} else if n.used[id] {
		return nil, fmt.Errorf("mem: listen %s: address in use", addr)
	} else {
		n.take(id, t.host)
	}
	l := &listener{n: n, id: id, addr: memAddr(id), host: n.keyLocked(id), kind: t.kind, d: d, accept: accept}
	n.listeners[id] = l
	return l, nil
}

// listener is a Listener. Accept callbacks run on workers; Close waits
// for those running.
type listener struct {
	n      *Network
	id     uint64
	addr   ma.Multiaddr
	host   hostKey
	kind   transport.Kind
	d      *driver.Driver
	accept transport.AcceptFunc

	// accepts counts the accept callbacks running; closed, it also stops
	// the listener taking new connections (see connect and associate).
	accepts gate.Gate
}

func (l *listener) Addr() ma.Multiaddr { return l.addr }

// Close stops accepting: connections whose accept callback has not run
// yet are reset. It waits for accept callbacks running now, so it must
// not be called from one.
func (l *listener) Close() error {
	if !l.accepts.Close() { // closed before, by Close or Network.Close
		return nil
	}
	n := l.n
	n.mu.Lock()
	if n.listeners[l.id] == l {
		delete(n.listeners, l.id)
		n.release(l.id)
	}
	n.mu.Unlock()
	return nil
}

// markClosed closes the listener without waiting: Network.Close calls
// it under the network's lock, which an accept callback may need.
func (l *listener) markClosed() { l.accepts.Stop() }

func (l *listener) isClosed() bool { return l.accepts.Closed() }

// enter reports whether an accept callback may run, and counts it; exit
// ends it.
func (l *listener) enter() bool { return l.accepts.Enter() }
func (l *listener) exit()       { l.accepts.Exit() }

func eofError(from *conn) error {
	return fmt.Errorf("mem: %s closed by peer %s: %w", from.remote, from.local, io.EOF)
}
