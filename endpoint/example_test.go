package endpoint_test

import (
	"context"
	"crypto/ed25519"
	"fmt"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport/tcp"
)

func key(b byte) identity.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = b
	k, _ := identity.NewKeyFromSeed(seed)
	return k
}

func Example() {
	ctx := context.Background()
	d, _ := driver.New(driver.Config{})
	defer d.Close(ctx)
	tr, _ := tcp.New(tcp.Config{})

	// The listening side.
	ln, err := endpoint.Listen(d, tr, ma.StringCast("/ip4/127.0.0.1/tcp/0"), endpoint.Config{Identity: key(1)}, nil)
	if err != nil {
		panic(err)
	}
	defer ln.Close()

	// The dialing side names the peer it expects.
	serverID := identity.PeerIDFromPublicKey(key(1).Public())
	addr := ln.Addr().Encapsulate(ma.StringCast("/p2p/" + serverID.String()))
	cli, err := endpoint.Dial(ctx, d, tr, addr, endpoint.Config{Identity: key(2)})
	if err != nil {
		panic(err)
	}
	srv, _ := ln.Accept(ctx)

	for _, m := range []string{"hello", "secure", "world"} {
		_ = cli.Send(ctx, []byte(m))
	}
	for range 3 {
		msg, _ := srv.Recv(ctx)
		fmt.Println(string(msg))
	}
	fmt.Println(srv.Peer() == identity.PeerIDFromPublicKey(key(2).Public()))
	fmt.Println(cli.CloseWait(ctx))
	// Output:
	// hello
	// secure
	// world
	// true
	// <nil>
}
