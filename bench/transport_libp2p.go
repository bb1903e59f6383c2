package bench

import (
	"context"

	golibp2p "github.com/libp2p/go-libp2p"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	weftlibp2p "github.com/weftnet/weft/transport/libp2p"
)

// libp2p as a weft transport: endpoints over transport/libp2p, beside the
// raw libp2p stream of the libp2p system, on the same kind of host (TCP on
// loopback, Noise, yamux, no resource limits; newHost). Each node's host
// has the node's weft key, so its peer ID is the node's. The host always
// runs Noise, whatever the variant's security: the transport refuses hosts
// without security, and an endpoint over its authenticated connections
// runs no Noise of its own, secure or plaintext.
//
// endpoint.Dial splits /p2p/<peer-id> off the server's address and hands
// the transport the bare host address, which a libp2p host can dial only
// if it already knows the peer there. Every server of a run has the same
// fixed key (weftKey(serverNode)) and is all a dialer ever dials, so the
// transport names that peer in a dial address without one. That works
// for servers in this process and in the --split child alike.

func init() {
	RegisterTransport(TransportSpec{
		Name:       "libp2p",
		New:        newLibp2pTransport,
		ListenAddr: "/ip4/127.0.0.1/tcp/0",
	})
}

// newLibp2pTransport opens a listening host with key and the transport
// over it; closing the host releases both.
func newLibp2pTransport(key identity.PrivateKey) (transport.Transport, func() error, error) {
	sk, err := weftlibp2p.HostKey(key)
	if err != nil {
		return nil, nil, err
	}
	h, err := newHost(Variant{Security: Noise}, true, golibp2p.Identity(sk))
	if err != nil {
		return nil, nil, err
	}
	tr, err := weftlibp2p.New(weftlibp2p.Config{Host: h})
	if err != nil {
		_ = h.Close()
		return nil, nil, err
	}
	server := identity.PeerIDFromPublicKey(weftKey(serverNode).Public())
	p2p, err := ma.NewMultiaddr("/p2p/" + server.String())
	if err != nil {
		_ = h.Close()
		return nil, nil, err
	}
	return &peerDialer{Transport: tr, p2p: p2p}, h.Close, nil
}

// peerDialer is a libp2p transport whose dials go to one peer when the
// address does not name one.
type peerDialer struct {
	*weftlibp2p.Transport
	p2p ma.Multiaddr // /p2p/<the peer>
}

// Dial implements transport.Transport.
func (t *peerDialer) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	return t.Transport.Dial(ctx, withPeer(addr, t.p2p), w, h)
}

// withPeer returns addr ending in p2p (a /p2p/<peer-id>), unless addr is
// empty or already names a peer.
func withPeer(addr, p2p ma.Multiaddr) ma.Multiaddr {
	if len(addr) == 0 || addr[len(addr)-1].Code() == ma.P_P2P {
		return addr
	}
	return addr.Encapsulate(p2p)
}
