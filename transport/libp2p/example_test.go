package libp2p_test

import (
	"context"
	"fmt"

	golibp2p "github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/transport/libp2p"
)

// newHost returns a go-libp2p host on loopback with its default key type
// (Ed25519), security (Noise, TLS) and muxer (yamux).
func newHost() (*libp2p.Transport, error) {
	h, err := golibp2p.New(golibp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), golibp2p.DisableRelay())
	if err != nil {
		return nil, err
	}
	return libp2p.New(libp2p.Config{Host: h})
}

// Two weft endpoints talk over go-libp2p hosts, each node using its host's
// key as its weft identity.
func Example() {
	ctx := context.Background()
	d, _ := driver.New(driver.Config{})
	defer d.Close(ctx)
	server, err := newHost()
	if err != nil {
		panic(err)
	}
	defer server.Host().Close()
	client, err := newHost()
	if err != nil {
		panic(err)
	}
	defer client.Host().Close()

	serverKey, _ := libp2p.IdentityOf(server.Host())
	ln, err := endpoint.Listen(d, server, server.Host().Addrs()[0], endpoint.Config{Identity: serverKey}, nil)
	if err != nil {
		panic(err)
	}
	defer ln.Close()

	// endpoint.Dial keeps /p2p/<id> as the identity it expects and gives
	// the transport the address before it: the client host must know
	// who is there, so it connects first.
	info := peer.AddrInfo{ID: server.Host().ID(), Addrs: server.Host().Addrs()}
	if err := client.Host().Connect(ctx, info); err != nil {
		panic(err)
	}
	addr := ln.Addr().Encapsulate(ma.StringCast("/p2p/" + server.Host().ID().String()))
	clientKey, _ := libp2p.IdentityOf(client.Host())
	cli, err := endpoint.Dial(ctx, d, client, addr, endpoint.Config{Identity: clientKey})
	if err != nil {
		panic(err)
	}
	srv, _ := ln.Accept(ctx)

	_ = cli.Send(ctx, []byte("hello over libp2p"))
	msg, _ := srv.Recv(ctx)
	fmt.Println(string(msg))
	fmt.Println(libp2p.ToPeerID(srv.Peer()) == client.Host().ID())
	fmt.Println(cli.CloseWait(ctx))
	// Output:
	// hello over libp2p
	// true
	// <nil>
}
