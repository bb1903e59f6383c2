package endpoint

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/tcp"
)

func testKey(t testing.TB, b byte) identity.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testPair starts a two-worker driver, a listener at addr over tr with
// testKey 1 and a dialer with testKey 2, and returns both ends and a
// context that ends after timeout; all of it is closed when tb ends.
func testPair(tb testing.TB, tr transport.Transport, addr ma.Multiaddr, timeout time.Duration) (cli, srv *Endpoint, ctx context.Context) {
	tb.Helper()
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = d.Close(context.Background()) })
	ln, err := Listen(d, tr, addr, Config{Identity: testKey(tb, 1)}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	tb.Cleanup(cancel)
	if cli, err = Dial(ctx, d, tr, ln.Addr(), Config{Identity: testKey(tb, 2)}); err != nil {
		tb.Fatal(err)
	}
	if srv, err = ln.Accept(ctx); err != nil {
		tb.Fatal(err)
	}
	return cli, srv, ctx
}

func TestSmokeTCP(t *testing.T) {
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	tr, _ := tcp.New(tcp.Config{})
	srvKey, cliKey := testKey(t, 1), testKey(t, 2)
	ln, err := Listen(d, tr, ma.StringCast("/ip4/127.0.0.1/tcp/0"), Config{Identity: srvKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ep, err := Dial(ctx, d, tr, ln.Addr(), Config{Identity: cliKey})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Peer() != identity.PeerIDFromPublicKey(cliKey.Public()) {
		t.Fatalf("server sees peer %s", srv.Peer())
	}
	const n = 20000
	go func() {
		for i := range n {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(i))
			if err := ep.Send(ctx, b[:]); err != nil {
				t.Error(err)
				return
			}
			if i == n/2 {
				// Kill the transport under the endpoint.
				_ = ep.mb.Post(func() {
					if c := ep.st.conn(); c != nil {
						c.Close()
					}
				})
			}
		}
	}()
	for i := range n {
		msg, err := srv.Recv(ctx)
		if err != nil {
			t.Fatalf("recv %d: %v", i, err)
		}
		if got := binary.BigEndian.Uint64(msg); got != uint64(i) {
			t.Fatalf("message %d carries %d", i, got)
		}
	}
	if err := ep.CloseWait(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	t.Logf("client stats %+v", ep.Stats())
	t.Logf("server stats %+v", srv.Stats())
}
