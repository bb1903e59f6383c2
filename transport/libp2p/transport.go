package libp2p

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	p2ptransport "github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
	msmux "github.com/multiformats/go-multistream"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
)

// Transport is the libp2p transport: one stream of Config.Protocol per
// transport.Conn, opened and accepted on Config.Host. libp2p connects the
// hosts (TCP, QUIC, relays, hole punching: whatever the host is built
// with), secures the connection (Noise or TLS, proving both peer IDs) and
// multiplexes the streams. Each connection adds a reader and a writer
// goroutine that hand bytes to and take bytes from its driver worker. A
// Transport is safe for concurrent use.
type Transport struct {
	cfg   Config
	h     host.Host
	local identity.PeerID

	mu sync.Mutex
	ln *listener // the open listener, or nil
}

var _ transport.Transport = (*Transport)(nil)

// New returns a transport over cfg.Host, which must have an Ed25519 key.
func New(cfg Config) (*Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	local, err := FromPeerID(cfg.Host.ID())
	if err != nil {
		return nil, fmt.Errorf("libp2p: Config.Host: %w", err)
	}
	return &Transport{cfg: cfg, h: cfg.Host, local: local}, nil
}

// Kind returns transport.Stream.
func (t *Transport) Kind() transport.Kind { return transport.Stream }

// Host returns the host the transport runs over.
func (t *Transport) Host() host.Host { return t.h }

// Protocol returns the protocol ID of the transport's streams.
func (t *Transport) Protocol() protocol.ID { return t.cfg.Protocol }

// LocalPeer returns the host's peer ID: the identity every connection
// proves to its peer.
func (t *Transport) LocalPeer() identity.PeerID { return t.local }

// Handles reports whether addr is an address of this transport: a
// multiaddr the host can dial (it has a libp2p transport for it), with or
// without a trailing /p2p/<peer-id>, or /p2p/<peer-id> alone.
func (t *Transport) Handles(addr ma.Multiaddr) bool {
	_, _, err := t.splitAddr(addr)
	return err == nil
}

// splitAddr splits off a trailing /p2p/<peer-id> (zero if absent) and
// checks that the rest, if any, is something the host can dial.
func (t *Transport) splitAddr(addr ma.Multiaddr) (ma.Multiaddr, peer.ID, error) {
	unsupported := func(why string) (ma.Multiaddr, peer.ID, error) {
		return nil, "", fmt.Errorf("%w: %q: %s", transport.ErrUnsupportedAddr, addr.String(), why)
	}
	if len(addr) == 0 {
		return unsupported("empty address")
	}
	rest, p := addr, peer.ID("")
	if last := addr[len(addr)-1]; last.Code() == ma.P_P2P {
		id, err := peer.IDFromBytes(last.RawValue())
		if err != nil {
			return unsupported("bad /p2p/ peer ID: " + err.Error())
		}
		rest, p = addr[:len(addr)-1], id
	}
	if len(rest) == 0 {
		return nil, p, nil
	}
	if d, ok := t.h.Network().(dialChecker); ok && d.TransportForDialing(rest) == nil {
		return unsupported("the host has no libp2p transport for it")
	}
	return rest, p, nil
}

// dialChecker is implemented by go-libp2p's swarm, the Network of every
// host libp2p.New makes. Networks without it (mocknet) are taken to dial
// anything.
type dialChecker interface {
	TransportForDialing(ma.Multiaddr) p2ptransport.Transport
}

// Dial opens a stream to the peer at addr; see transport.Transport. With
// /p2p/<peer-id> the host dials that peer, at the address before it if
// there is one, else wherever its peerstore (or routing) finds the peer.
// Without it, the peer is the one the host knows at addr: one it is
// connected to from there, or one whose peerstore addresses include it
// (ErrUnknownPeer if none, ErrAmbiguousAddr if several). Dial returns once
// the peer has agreed to the protocol: a host with no listener on it
// refuses (transport.ErrRefused).
func (t *Transport) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	fail := func(err error) (transport.Conn, error) {
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	rest, p, err := t.splitAddr(addr)
	switch {
	case err != nil:
		return fail(err)
	case w == nil || h == nil:
		return fail(errors.New("libp2p: dial needs a worker and a handler"))
	case ctx.Err() != nil:
		return fail(ctx.Err())
	}
	if p == "" {
		if p, err = t.peerAt(rest); err != nil {
			return fail(err)
		}
	}
	st, remote, err := t.openStream(ctx, p, rest)
	if err != nil {
		return fail(dialError(ctx, err))
	}
	c, err := newConn(t, st, remote, w)
	if err != nil {
		_ = st.Reset()
		return fail(err)
	}
	c.SetHandler(h)
	w.Track(c)
	go c.ReadLoop()
	return c, nil
}

// openStream connects to p (at addr, if not empty), opens a stream and
// negotiates the protocol, all within ctx.
func (t *Transport) openStream(ctx context.Context, p peer.ID, addr ma.Multiaddr) (network.Stream, identity.PeerID, error) {
	remote, err := FromPeerID(p)
	if err != nil {
		return nil, identity.PeerID{}, err
	}
	if p == t.h.ID() {
		return nil, identity.PeerID{}, fmt.Errorf("%w: libp2p cannot dial its own host %s", transport.ErrRefused, p)
	}
	info := peer.AddrInfo{ID: p}
	if len(addr) > 0 {
		info.Addrs = []ma.Multiaddr{addr}
	}
	if t.cfg.AllowLimitedConn {
		ctx = network.WithAllowLimitedConn(ctx, "weft endpoint")
	}
	if err := t.h.Connect(ctx, info); err != nil {
		return nil, identity.PeerID{}, err
	}
	st, err := t.h.Network().NewStream(network.WithNoDial(ctx, "connected just before"), p)
	if err != nil {
		return nil, identity.PeerID{}, err
	}
	if err := checkSecured(st.Conn()); err != nil {
		_ = st.Reset()
		return nil, identity.PeerID{}, err
	}
	if err := t.negotiate(ctx, st); err != nil {
		_ = st.ResetWithError(network.StreamProtocolNegotiationFailed)
		return nil, identity.PeerID{}, err
	}
	return st, remote, nil
}

// negotiate proposes the protocol and waits for the peer to accept it
// (one round trip), or for ctx to end. go-libp2p's NewStream may skip the
// wait when the peer's identify listed the protocol; the transport does
// not, so that a dial to a host that stopped listening fails in Dial.
func (t *Transport) negotiate(ctx context.Context, st network.Stream) error {
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	err := msmux.SelectProtoOrFail(t.cfg.Protocol, st)
	if !stop() {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	return st.SetProtocol(t.cfg.Protocol)
}

// checkSecured refuses a connection whose security authenticates nothing.
func checkSecured(nc network.Conn) error {
	if sec := nc.ConnState().Security; sec == insecureID {
		return fmt.Errorf("%w: connection to %s uses %s", ErrInsecureConn, nc.RemotePeer(), sec)
	}
	return nil
}

// peerAt returns the one peer the host knows at addr: first among its
// live connections, then in its peerstore.
func (t *Transport) peerAt(addr ma.Multiaddr) (peer.ID, error) {
	var found []peer.ID
	add := func(p peer.ID) {
		for _, q := range found {
			if q == p {
				return
			}
		}
		found = append(found, p)
	}
	for _, nc := range t.h.Network().Conns() {
		if nc.RemoteMultiaddr().Equal(addr) {
			add(nc.RemotePeer())
		}
	}
	if len(found) == 0 {
		ps := t.h.Peerstore()
		for _, p := range ps.PeersWithAddrs() {
			for _, a := range ps.Addrs(p) {
				if p != t.h.ID() && a.Equal(addr) {
					add(p)
					break
				}
			}
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: %s (name the peer with /p2p/<peer-id>, or add it to the host's peerstore): %w", ErrUnknownPeer, addr, transport.ErrRefused)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: %s is known for %d peers, %s and %s among them", ErrAmbiguousAddr, addr, len(found), found[0], found[1])
}
