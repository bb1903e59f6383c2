package libp2p

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/network"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/gate"
	"github.com/weftnet/weft/transport"
)

// Listen accepts the streams that peers open to the host under the
// transport's protocol: it registers the protocol's stream handler on the
// host, and every stream becomes a transport.Conn on a worker of d. The
// host listens on its own addresses (libp2p.ListenAddrs) and has one
// handler per protocol, so a Transport has one listener at a time, and
// addr only names which of the host's addresses the listener reports:
//
//   - one of the host's listen addresses (Network().ListenAddresses() or
//     Addrs()), optionally followed by /p2p/<host's peer-id>; a TCP or
//     UDP port 0 stands for the port the host listens on. Addr() returns
//     the host's address without /p2p/, the form endpoint.Dial passes on;
//   - /p2p/<host's peer-id> alone: Addr() returns it.
//
// Streams arrive over any of the host's connections, whatever address
// they came to. A second Listen before Close fails with ErrListening, as
// does a Listen on a host where other code handles the protocol.
func (t *Transport) Listen(addr ma.Multiaddr, d *driver.Driver, accept transport.AcceptFunc) (transport.Listener, error) {
	rest, p, err := t.splitAddr(addr)
	switch {
	case err != nil:
		return nil, err
	case p != "" && p != t.h.ID():
		return nil, fmt.Errorf("libp2p: listen %s: the address names peer %s, this host is %s", addr, p, t.h.ID())
	case p == "" && len(rest) == 0:
		return nil, fmt.Errorf("%w: %q: empty address", transport.ErrUnsupportedAddr, addr.String())
	case d == nil || accept == nil:
		return nil, errors.New("libp2p: listen needs a driver and an accept function")
	}
	l := &listener{t: t, d: d, accept: accept, addr: addr}
	if len(rest) > 0 {
		if l.addr = t.ownAddr(rest); l.addr == nil {
			return nil, fmt.Errorf("libp2p: listen %s: the host does not listen there (it listens on %v)", addr, t.h.Network().ListenAddresses())
		}
	}
	if err := t.register(l); err != nil {
		return nil, err
	}
	return l, nil
}

// ownAddr returns the first of the host's addresses that a names: a
// itself, or with a port 0 standing for any port.
func (t *Transport) ownAddr(a ma.Multiaddr) ma.Multiaddr {
	for _, set := range [][]ma.Multiaddr{t.h.Network().ListenAddresses(), t.h.Addrs()} {
		for _, b := range set {
			if sameOrAnyPort(a, b) {
				return b
			}
		}
	}
	return nil
}

// sameOrAnyPort reports whether b is a, where a TCP or UDP port 0 in a
// matches any port.
func sameOrAnyPort(a, b ma.Multiaddr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Equal(&b[i]) {
			continue
		}
		code := a[i].Code()
		if code != b[i].Code() || code != ma.P_TCP && code != ma.P_UDP || a[i].Value() != "0" {
			return false
		}
	}
	return true
}

// register makes l the transport's listener and installs the stream
// handler.
func (t *Transport) register(l *listener) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ln != nil {
		return fmt.Errorf("%w: %s (this transport listens at %s)", ErrListening, t.cfg.Protocol, t.ln.addr)
	}
	for _, p := range t.h.Mux().Protocols() {
		if p == t.cfg.Protocol {
			return fmt.Errorf("%w: %s", ErrListening, p)
		}
	}
	t.ln = l
	t.h.SetStreamHandler(t.cfg.Protocol, l.handle)
	return nil
}

// listener is a transport.Listener.
type listener struct {
	t      *Transport
	d      *driver.Driver
	accept transport.AcceptFunc
	addr   ma.Multiaddr

	accepts gate.Gate // accept callbacks posted or running; closed by Close
}

func (l *listener) Addr() ma.Multiaddr { return l.addr }

// Close removes the stream handler (new streams are then refused by the
// host's protocol negotiation) and waits for accept callbacks that are
// posted or running, so it must not be called from one.
func (l *listener) Close() error {
	if !l.accepts.Stop() {
		return nil
	}
	t := l.t
	t.mu.Lock()
	if t.ln == l {
		t.h.RemoveStreamHandler(t.cfg.Protocol)
		t.ln = nil
	}
	t.mu.Unlock()
	l.accepts.Close()
	return nil
}

// handle is the host's stream handler, called on a goroutine of the
// host's for each stream that negotiated the protocol. It places the
// stream on a worker, where the accept callback runs first, then reads
// the stream on this goroutine until it ends.
func (l *listener) handle(st network.Stream) {
	t := l.t
	remote, err := FromPeerID(st.Conn().RemotePeer())
	if err == nil {
		err = checkSecured(st.Conn())
	}
	if err != nil {
		t.cfg.Logger.Debug("libp2p: incoming stream refused", "remote", st.Conn().RemoteMultiaddr(), "err", err)
		_ = st.Reset()
		return
	}
	if !l.accepts.Enter() {
		_ = st.Reset()
		return
	}
	w := l.d.Pick()
	c, err := newConn(t, st, remote, w)
	if err != nil {
		l.accepts.Exit()
		_ = st.Reset()
		return
	}
	w.Track(c)
	if err := c.Post(func() { c.runAccept(l) }); err != nil {
		l.accepts.Exit()
		w.Untrack(c)
		_ = st.Reset()
		return
	}
	c.ReadLoop()
}

// runAccept is the first task of an accepted connection. A refused
// connection closes its stream: the dialer's OnClose gets io.EOF.
func (c *conn) runAccept(l *listener) {
	defer l.accepts.Exit()
	if c.Accept(l.accept) {
		_ = c.Close()
	}
}
