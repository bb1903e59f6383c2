package quic

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	quicgo "github.com/quic-go/quic-go"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/transport"
)

// ALPN is the TLS application protocol of weft over QUIC.
const ALPN = "weft/1"

// Transport is the QUIC transport: one QUIC connection with one
// bidirectional stream per transport.Conn, TLS 1.3 with a certificate
// bound to Config.Identity. quic-go runs its own goroutines; each
// connection adds a reader goroutine, and a writer goroutine while it has
// bytes to send, which hand bytes to and take bytes from its driver
// worker. A Transport is safe for concurrent use; it holds no socket
// while it has no listener and no connection, and needs no Close.
type Transport struct {
	cfg      Config
	cert     tls.Certificate
	local    identity.PeerID
	resetKey *quicgo.StatelessResetKey
	sockets  dialSockets
}

var _ transport.Transport = (*Transport)(nil)

// New returns a QUIC transport for cfg.Identity. It makes the transport's
// certificate: a fresh ECDSA P-256 key, endorsed by the identity key.
func New(cfg Config) (*Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cert, err := handshake.NewCertificate(cfg.Identity, nil)
	if err != nil {
		return nil, fmt.Errorf("quic: %w", err)
	}
	t := &Transport{cfg: cfg, cert: cert, local: identity.PeerIDFromPublicKey(cfg.Identity.Public())}
	if t.resetKey, err = resetKey(cfg.Identity); err != nil {
		return nil, err
	}
	t.sockets.t = t
	return t, nil
}

// resetKey derives the key of the transport's stateless reset tokens
// from the identity key (HKDF-SHA256, info "weft-quic-stateless-reset"):
// secret, and the same after a restart, so a restarted node's resets end
// the connections its previous run left at its peers at once.
func resetKey(k identity.PrivateKey) (*quicgo.StatelessResetKey, error) {
	b, err := hkdf.Key(sha256.New, k.Seed(), nil, "weft-quic-stateless-reset", 32)
	if err != nil {
		return nil, fmt.Errorf("quic: stateless reset key: %w", err)
	}
	var key quicgo.StatelessResetKey
	copy(key[:], b)
	return &key, nil
}

// quicTransport returns a quic-go Transport on pc.
func (t *Transport) quicTransport(pc net.PacketConn) *quicgo.Transport {
	return &quicgo.Transport{Conn: pc, StatelessResetKey: t.resetKey}
}

// Kind returns transport.Stream.
func (t *Transport) Kind() transport.Kind { return transport.Stream }

// LocalPeer returns the peer ID the transport proves: Config.Identity's.
func (t *Transport) LocalPeer() identity.PeerID { return t.local }

// Handles reports whether addr is /ip4|ip6/<ip>/udp/<port>/quic-v1,
// optionally followed by /p2p/<peer-id>.
func (t *Transport) Handles(addr ma.Multiaddr) bool {
	_, _, err := splitAddr(addr)
	return err == nil
}

// splitAddr returns the UDP address of a QUIC address and its /p2p peer
// (zero if absent).
func splitAddr(addr ma.Multiaddr) (*net.UDPAddr, identity.PeerID, error) {
	unsupported := func(err error) (*net.UDPAddr, identity.PeerID, error) {
		return nil, identity.PeerID{}, fmt.Errorf("%w: %q is not /ip4|ip6/<ip>/udp/<port>/quic-v1[/p2p/<id>]: %w",
			transport.ErrUnsupportedAddr, addr.String(), err)
	}
	rest, peer, _, err := identity.SplitPeer(addr)
	if err != nil {
		return unsupported(err)
	}
	if len(rest) != 3 || rest[1].Protocol().Code != ma.P_UDP || rest[2].Protocol().Code != ma.P_QUIC_V1 {
		return unsupported(errors.New("wrong protocols"))
	}
	if c := rest[0].Protocol().Code; c != ma.P_IP4 && c != ma.P_IP6 {
		return unsupported(errors.New("not an IP address"))
	}
	na, err := manet.ToNetAddr(rest[:2])
	if err != nil {
		return unsupported(err)
	}
	return na.(*net.UDPAddr), peer, nil
}

// quicAddr returns the QUIC multiaddr of a UDP address, or nil.
func quicAddr(a net.Addr) ma.Multiaddr {
	m, err := manet.FromNetAddr(a)
	if err != nil {
		return nil
	}
	return m.Encapsulate(ma.StringCast("/quic-v1"))
}

// peerSlot receives the identity key that VerifyPeerCertificate proved
// during one connection's handshake; it is read once the handshake
// completed.
type peerSlot struct {
	key atomic.Pointer[identity.PublicKey]
}

// slotKey is the context key of a listener connection's peerSlot.
type slotKey struct{}

// peer returns the peer ID the handshake proved.
func (s *peerSlot) peer() (identity.PeerID, error) {
	k := s.key.Load()
	if k == nil {
		return identity.PeerID{}, errors.New("quic: handshake completed without a verified peer certificate")
	}
	return identity.PeerIDFromPublicKey(*k), nil
}

// tlsConfig returns the TLS configuration of one side of one connection.
// Both sides present the certificate and require the peer's (mutual TLS);
// the peer's chain is checked by handshake.VerifyCertificate, not by x509
// path building, and the key it proves goes to slot. A non-zero expect is
// the only peer accepted. Session tickets are off: a resumed session would
// skip the certificate, and with it the proof of the peer's identity.
func (t *Transport) tlsConfig(expect identity.PeerID, slot *peerSlot) *tls.Config {
	return &tls.Config{
		MinVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{t.cert},
		InsecureSkipVerify:     true, // VerifyPeerCertificate checks the binding instead
		ClientAuth:             tls.RequireAnyClientCert,
		NextProtos:             []string{ALPN},
		SessionTicketsDisabled: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			key, err := handshake.VerifyCertificate(raw)
			if err != nil {
				return err
			}
			if got := identity.PeerIDFromPublicKey(key); !expect.IsZero() && got != expect {
				return fmt.Errorf("%w: want %s, got %s", ErrPeerMismatch, expect, got)
			}
			slot.key.Store(&key)
			return nil
		},
	}
}

// listenerTLS is a listener's TLS configuration: each handshake gets its
// own, whose VerifyPeerCertificate fills the connection's peerSlot (put in
// its context by the quic-go Transport's ConnContext).
func (t *Transport) listenerTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{ALPN},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			slot, ok := hello.Context().Value(slotKey{}).(*peerSlot)
			if !ok {
				return nil, errors.New("quic: no peer slot in the connection's context")
			}
			return t.tlsConfig(identity.PeerID{}, slot), nil
		},
	}
}

// listenUDP opens a UDP socket of the family of ip.
func listenUDP(ip net.IP, port int) (*net.UDPConn, error) {
	if ip4 := ip.To4(); ip4 != nil {
		return net.ListenUDP("udp4", &net.UDPAddr{IP: ip4, Port: port})
	}
	return net.ListenUDP("udp6", &net.UDPAddr{IP: ip, Port: port})
}

// wrap applies Config.WrapPacketConn.
func (t *Transport) wrap(c *net.UDPConn) net.PacketConn {
	if t.cfg.WrapPacketConn != nil {
		return t.cfg.WrapPacketConn(c)
	}
	return c
}

// Dial connects to addr; see transport.Transport. Dials share one UDP
// socket per address family, open while any dialed connection lives. An
// address ending in /p2p/<peer-id> is verified during the TLS handshake:
// another peer fails the dial with ErrPeerMismatch.
func (t *Transport) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	fail := func(err error) (transport.Conn, error) {
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	ua, expect, err := splitAddr(addr)
	switch {
	case err != nil:
		return fail(err)
	case w == nil || h == nil:
		return fail(errors.New("quic: dial needs a worker and a handler"))
	case ctx.Err() != nil:
		return fail(ctx.Err())
	}
	sock, err := t.sockets.acquire(ua.IP.To4() == nil)
	if err != nil {
		return fail(err)
	}
	dctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopProbe := probeRefusal(ua, probeDelay, func() { cancel(errNobodyListens) })
	slot := new(peerSlot)
	qc, err := sock.qt.Dial(dctx, ua, t.tlsConfig(expect, slot), t.cfg.quicConfig(-1))
	stopProbe()
	if err != nil {
		t.sockets.release(sock)
		return fail(dialError(ctx, dctx, err))
	}
	c, err := t.dialed(qc, slot, w, h, func() { t.sockets.release(sock) })
	if err != nil {
		_ = qc.CloseWithError(codeReset, "")
		t.sockets.release(sock)
		return fail(err)
	}
	return c, nil
}

// dialed makes the dialer's end of a connection that completed its
// handshake, and starts it.
func (t *Transport) dialed(qc *quicgo.Conn, slot *peerSlot, w *driver.Worker, h transport.Handler, release func()) (*conn, error) {
	peer, err := slot.peer()
	if err != nil {
		return nil, err
	}
	st, err := qc.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("quic: open stream: %w", err)
	}
	c, err := newConn(t, qc, st, w, peer, release)
	if err != nil {
		return nil, err
	}
	c.SetHandler(h)
	w.Track(c)
	c.start(true)
	return c, nil
}
