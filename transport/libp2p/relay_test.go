package libp2p_test

import (
	"context"
	"errors"
	"testing"
	"time"

	golibp2p "github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	p2ptcp "github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport/libp2p"
)

// TestThroughRelay: a server reachable only through a circuit relay (all
// three hosts on loopback). A relayed connection is limited, so Dial uses
// it only with Config.AllowLimitedConn, and then the stream works.
func TestThroughRelay(t *testing.T) {
	d := newDriver(t)
	relay := newRelayHost(t, golibp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), golibp2p.EnableRelayService(), golibp2p.ForceReachabilityPublic())
	srvHost := newRelayHost(t, golibp2p.NoListenAddrs)
	ctx, cancel := dialCtx()
	defer cancel()
	relayInfo := peer.AddrInfo{ID: relay.ID(), Addrs: relay.Addrs()}
	if err := srvHost.Connect(ctx, relayInfo); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Reserve(ctx, srvHost, relayInfo); err != nil {
		t.Fatalf("reservation on the relay: %v", err)
	}
	srv, err := libp2p.New(libp2p.Config{Host: srvHost})
	if err != nil {
		t.Fatal(err)
	}
	accept, acc := acceptAll()
	ln, err := srv.Listen(p2p(srvHost), d, accept)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	circuit := relay.Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + relay.ID().String() + "/p2p-circuit")).Encapsulate(p2p(srvHost))

	cliHost := newRelayHost(t, golibp2p.NoListenAddrs)
	strict, err := libp2p.New(libp2p.Config{Host: cliHost})
	if err != nil {
		t.Fatal(err)
	}
	if !strict.Handles(circuit) {
		t.Fatalf("Handles(%s) = false on a host with the relay transport", circuit)
	}
	// Without AllowLimitedConn, go-libp2p waits for a direct connection
	// (hole punching), which loopback hosts behind no NAT never get.
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = strict.Dial(short, circuit, d.Pick(), newRecorder())
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial through the relay without AllowLimitedConn: %v; want a timeout", err)
	}
	relayed, err := libp2p.New(libp2p.Config{Host: cliHost, AllowLimitedConn: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := relayed.Dial(ctx, circuit, d.Pick(), newRecorder())
	if err != nil {
		t.Fatalf("Dial through the relay: %v", err)
	}
	a := next(t, acc)
	write(t, c, []byte("relayed"))
	a.r.waitBytes(t, []byte("relayed"))
	if got := c.RemoteAddr(); !relayed.Handles(got) {
		t.Errorf("RemoteAddr() = %s, not an address of the transport", got)
	}
	_ = c.Close()
	if err := a.r.waitClosed(t); err == nil {
		t.Error("the server's end saw OnClose(nil); want io.EOF")
	}
}

// newRelayHost is a loopback TCP host with the relay transport, and
// go-libp2p's defaults otherwise (Noise or TLS, yamux). (NoListenAddrs
// turns the relay transport off unless EnableRelay says otherwise.)
func newRelayHost(t *testing.T, opts ...golibp2p.Option) host.Host {
	t.Helper()
	h, err := golibp2p.New(append([]golibp2p.Option{golibp2p.Transport(p2ptcp.NewTCPTransport), golibp2p.EnableRelay()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	closeHost(t, h)
	return h
}
