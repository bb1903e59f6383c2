package quic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	quicgo "github.com/quic-go/quic-go"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/gate"
	"github.com/weftnet/weft/transport"
)

var errListenerClosed = errors.New("quic: listener closed")

// Listen accepts QUIC connections at addr (a trailing /p2p/<peer-id> must
// be this transport's own); see transport.Transport. The UDP socket stays
// open after Close while connections accepted on it live: dials that
// arrive meanwhile are refused with QUIC's CONNECTION_REFUSED.
func (t *Transport) Listen(addr ma.Multiaddr, d *driver.Driver, accept transport.AcceptFunc) (transport.Listener, error) {
	ua, peer, err := splitAddr(addr)
	switch {
	case err != nil:
		return nil, err
	case !peer.IsZero() && peer != t.local:
		return nil, fmt.Errorf("quic: listen %s: the address names %s, this transport is %s", addr, peer, t.local)
	case d == nil || accept == nil:
		return nil, errors.New("quic: listen needs a driver and an accept function")
	}
	udp, err := listenUDP(ua.IP, ua.Port)
	if err != nil {
		return nil, fmt.Errorf("quic: listen %s: %w", addr, err)
	}
	l := &listener{t: t, d: d, accept: accept, udp: udp, addr: quicAddr(udp.LocalAddr()),
		qcfg: t.cfg.quicConfig(1), loopDone: make(chan struct{})}
	qcfg := l.qcfg.Clone()
	qcfg.GetConfigForClient = l.clientConfig
	l.pc = t.wrap(udp)
	l.qt = t.quicTransport(l.pc)
	l.qt.ConnContext = withPeerSlot
	if l.ql, err = l.qt.Listen(t.listenerTLS(), qcfg); err != nil {
		_ = l.qt.Close()
		_ = l.pc.Close()
		_ = udp.Close()
		return nil, fmt.Errorf("quic: listen %s: %w", addr, err)
	}
	go l.run()
	return l, nil
}

// withPeerSlot is the listener's ConnContext: every incoming connection
// gets a peerSlot for its handshake to fill.
func withPeerSlot(ctx context.Context, _ *quicgo.ClientInfo) (context.Context, error) {
	return context.WithValue(ctx, slotKey{}, new(peerSlot)), nil
}

// listener is a Listener. Its socket lives while it is open or while any
// connection accepted on it does (users).
type listener struct {
	t        *Transport
	d        *driver.Driver
	accept   transport.AcceptFunc
	addr     ma.Multiaddr
	udp      *net.UDPConn
	pc       net.PacketConn // udp, or what Config.WrapPacketConn made of it
	qt       *quicgo.Transport
	ql       *quicgo.Listener
	qcfg     *quicgo.Config
	loopDone chan struct{}
	accepts  gate.Gate // accept callbacks posted or running; closed by Close

	mu    sync.Mutex
	shut  bool // the socket is closed
	users int  // connections and setups that need the socket
}

func (l *listener) Addr() ma.Multiaddr { return l.addr }

// clientConfig is quic-go's GetConfigForClient: it refuses new
// connections once the listener is closed, with CONNECTION_REFUSED,
// before any handshake.
func (l *listener) clientConfig(*quicgo.ClientInfo) (*quicgo.Config, error) {
	if l.accepts.Closed() {
		return nil, errListenerClosed
	}
	return l.qcfg, nil
}

// Close stops accepting. It waits for accept callbacks that are posted or
// running, so it must not be called from one.
func (l *listener) Close() error {
	l.accepts.Close()
	l.mu.Lock()
	shut := !l.shut && l.users == 0
	l.shut = l.shut || shut
	l.mu.Unlock()
	if shut {
		l.shutdown()
	}
	return nil
}

// shutdown closes the socket (once, after the last user).
func (l *listener) shutdown() {
	_ = l.ql.Close()
	_ = l.qt.Close()
	_ = l.pc.Close()
	_ = l.udp.Close()
	<-l.loopDone
}

// use counts a user of the socket, unless it is shut.
func (l *listener) use() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shut {
		return false
	}
	l.users++
	return true
}

// done releases a user; the last one after Close shuts the socket.
// Close closes accepts before it counts users, so one of the two sees
// the last user gone after Close.
func (l *listener) done() {
	l.mu.Lock()
	l.users--
	shut := l.accepts.Closed() && !l.shut && l.users == 0
	l.shut = l.shut || shut
	l.mu.Unlock()
	if shut {
		l.shutdown()
	}
}

// run is the accept goroutine: each connection that completed its
// handshake gets a goroutine that waits for its stream.
func (l *listener) run() {
	defer close(l.loopDone)
	for {
		qc, err := l.ql.Accept(context.Background())
		if err != nil {
			return
		}
		if !l.use() {
			_ = qc.CloseWithError(codeRefused, "listener closed")
			continue
		}
		go l.setup(qc)
	}
}

// setup waits for the connection's stream and its preamble, then places
// the connection on a worker, where the accept callback runs first.
func (l *listener) setup(qc *quicgo.Conn) {
	st, peer, err := l.openStream(qc)
	if err != nil {
		l.t.cfg.Logger.Debug("quic: incoming connection failed", "remote", qc.RemoteAddr(), "err", err)
		code := codeReset
		if errors.Is(err, ErrBadStream) {
			code = codeProtocol
		}
		_ = qc.CloseWithError(code, err.Error())
		l.done()
		return
	}
	if !l.accepts.Enter() {
		_ = qc.CloseWithError(codeRefused, "listener closed")
		l.done()
		return
	}
	w := l.d.Pick()
	c, err := newConn(l.t, qc, st, w, peer, l.done)
	if err != nil {
		l.accepts.Exit()
		_ = qc.CloseWithError(codeReset, err.Error())
		l.done()
		return
	}
	w.Track(c)
	if err := c.Post(func() { c.runAccept(l) }); err != nil {
		l.accepts.Exit()
		w.Untrack(c)
		_ = qc.CloseWithError(codeRefused, "driver closed")
		l.done()
		return
	}
	c.start(false)
}

// openStream accepts the dialer's stream and reads its preamble, within
// HandshakeTimeout.
func (l *listener) openStream(qc *quicgo.Conn) (*quicgo.Stream, identity.PeerID, error) {
	slot, _ := qc.Context().Value(slotKey{}).(*peerSlot)
	if slot == nil {
		return nil, identity.PeerID{}, errors.New("quic: no peer slot in the connection's context")
	}
	peer, err := slot.peer()
	if err != nil {
		return nil, identity.PeerID{}, err
	}
	deadline := time.Now().Add(l.t.cfg.HandshakeTimeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	st, err := qc.AcceptStream(ctx)
	if err != nil {
		return nil, identity.PeerID{}, fmt.Errorf("quic: accept stream: %w", err)
	}
	var b [1]byte
	_ = st.SetReadDeadline(deadline)
	if _, err := io.ReadFull(st, b[:]); err != nil {
		return nil, identity.PeerID{}, fmt.Errorf("quic: read preamble: %w", err)
	}
	if b[0] != preamble {
		return nil, identity.PeerID{}, fmt.Errorf("%w: first byte 0x%02x, want 0x%02x", ErrBadStream, b[0], preamble)
	}
	_ = st.SetReadDeadline(time.Time{})
	return st, peer, nil
}

// runAccept is the first task of an accepted connection.
func (c *conn) runAccept(l *listener) {
	defer l.accepts.Exit()
	if c.Accept(l.accept) {
		c.refuse()
	}
}

// refuse ends a connection its accept function refused; the dialer's
// OnClose gets io.EOF.
func (c *conn) refuse() {
	c.StopOutput()
	go func() { _ = c.qc.CloseWithError(codeRefused, "refused") }()
}
