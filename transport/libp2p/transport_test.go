package libp2p_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	golibp2p "github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	p2ptcp "github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/libp2p"
	"github.com/weftnet/weft/transport/libp2p/libp2ptest"
)

func TestHandles(t *testing.T) {
	tr := newTransport(t, true)
	self := p2p(tr.Host())
	own := tr.Host().Addrs()[0]
	for _, c := range []struct {
		addr string
		want bool
	}{
		{self.String(), true},
		{own.String(), true},
		{own.Encapsulate(self).String(), true},
		{"/ip4/127.0.0.1/tcp/1", true},
		{"/ip4/127.0.0.1/udp/1", false},         // no libp2p transport for bare UDP
		{"/ip4/127.0.0.1/udp/1/quic-v1", false}, // this host has TCP only
		{"/memory/1", false},
		{"/ip4/127.0.0.1/tcp/1/p2p/" + tr.Host().ID().String() + "/p2p-circuit", false}, // no relay transport
	} {
		if got := tr.Handles(ma.StringCast(c.addr)); got != c.want {
			t.Errorf("Handles(%s) = %t; want %t", c.addr, got, c.want)
		}
	}
	if tr.Handles(ma.Multiaddr{}) {
		t.Error("Handles(empty address) = true")
	}
}

// TestDialForms dials a listener by each address form: /p2p/ alone (the
// peerstore has its address), address and /p2p/ (no connection before),
// and the bare address of a connected peer.
func TestDialForms(t *testing.T) {
	d := newDriver(t)
	srv := newTransport(t, true)
	accept, acc := acceptAll()
	ln, err := srv.Listen(ma.StringCast("/ip4/127.0.0.1/tcp/0"), d, accept)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !ln.Addr().Equal(srv.Host().Addrs()[0]) {
		t.Errorf("Listener.Addr() = %s; want the host's address %s (port 0 resolved)", ln.Addr(), srv.Host().Addrs()[0])
	}
	for i, form := range []func(cli *libp2p.Transport) ma.Multiaddr{
		func(*libp2p.Transport) ma.Multiaddr { return ln.Addr().Encapsulate(p2p(srv.Host())) },
		func(cli *libp2p.Transport) ma.Multiaddr {
			cli.Host().Peerstore().AddAddrs(srv.Host().ID(), srv.Host().Addrs(), peerstore.TempAddrTTL)
			return p2p(srv.Host())
		},
		func(cli *libp2p.Transport) ma.Multiaddr {
			ctx, cancel := dialCtx()
			defer cancel()
			if err := cli.Host().Connect(ctx, peer.AddrInfo{ID: srv.Host().ID(), Addrs: srv.Host().Addrs()}); err != nil {
				t.Fatal(err)
			}
			return ln.Addr()
		},
	} {
		cli := newTransport(t, false)
		addr := form(cli)
		r := newRecorder()
		ctx, cancel := dialCtx()
		c, err := cli.Dial(ctx, addr, d.Pick(), r)
		cancel()
		if err != nil {
			t.Fatalf("form %d: Dial %s: %v", i, addr, err)
		}
		a := next(t, acc)
		msg := []byte("form " + addr.String())
		write(t, c, msg)
		a.r.waitBytes(t, msg)
		checkPeers(t, c, cli, srv)
		checkPeers(t, a.c, srv, cli)
		_ = c.Close()
		if err := a.r.waitClosed(t); !errors.Is(err, io.EOF) {
			t.Errorf("form %d: accepted end: OnClose(%v); want io.EOF", i, err)
		}
		if err := r.waitClosed(t); err != nil {
			t.Errorf("form %d: dialer: OnClose(%v) after Close; want nil", i, err)
		}
	}
}

// checkPeers checks that c is a transport.Authenticated connection
// between the hosts of local and remote.
func checkPeers(t *testing.T, c transport.Conn, local, remote *libp2p.Transport) {
	t.Helper()
	a, ok := c.(transport.Authenticated)
	if !ok {
		t.Fatalf("%T is not transport.Authenticated", c)
	}
	if libp2p.ToPeerID(a.LocalPeer()) != local.Host().ID() || a.LocalPeer() != local.LocalPeer() {
		t.Errorf("LocalPeer() = %s; want %s", a.LocalPeer(), local.Host().ID())
	}
	if libp2p.ToPeerID(a.RemotePeer()) != remote.Host().ID() {
		t.Errorf("RemotePeer() = %s; want %s", a.RemotePeer(), remote.Host().ID())
	}
}

func TestDialUnknownOrAmbiguousAddr(t *testing.T) {
	d := newDriver(t)
	cli := newTransport(t, false)
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/9")
	ctx, cancel := dialCtx()
	defer cancel()
	_, err := cli.Dial(ctx, addr, d.Pick(), newRecorder())
	var de *transport.DialError
	if !errors.Is(err, libp2p.ErrUnknownPeer) || !errors.Is(err, transport.ErrRefused) || !errors.As(err, &de) {
		t.Errorf("Dial of an address nobody is known at: %v; want a DialError wrapping ErrUnknownPeer and ErrRefused", err)
	}
	for _, k := range []byte{1, 2} {
		id := identity.PeerIDFromPublicKey(testKey(t, k).Public())
		cli.Host().Peerstore().AddAddr(libp2p.ToPeerID(id), addr, peerstore.TempAddrTTL)
	}
	_, err = cli.Dial(ctx, addr, d.Pick(), newRecorder())
	if !errors.Is(err, libp2p.ErrAmbiguousAddr) {
		t.Errorf("Dial of an address known for two peers: %v; want ErrAmbiguousAddr", err)
	}
}

// TestDialRefused: a host without a listener refuses the protocol, a
// closed port refuses the connection, and a host cannot dial itself.
func TestDialRefused(t *testing.T) {
	d := newDriver(t)
	srv, cli := newTransport(t, true), newTransport(t, false)
	for _, addr := range []ma.Multiaddr{
		srv.Host().Addrs()[0].Encapsulate(p2p(srv.Host())),
		ma.StringCast("/ip4/127.0.0.1/tcp/9").Encapsulate(p2p(srv.Host())),
		p2p(cli.Host()),
	} {
		ctx, cancel := dialCtx()
		_, err := cli.Dial(ctx, addr, d.Pick(), newRecorder())
		cancel()
		if !errors.Is(err, transport.ErrRefused) {
			t.Errorf("Dial %s: %v; want ErrRefused", addr, err)
		}
	}
}

// TestWrongPeerAtAddress: an address with the /p2p/ of a peer who is not
// there fails (libp2p's security handshake proves who is).
func TestWrongPeerAtAddress(t *testing.T) {
	d := newDriver(t)
	srv, cli := newTransport(t, true), newTransport(t, false)
	accept, _ := acceptAll()
	ln, err := srv.Listen(p2p(srv.Host()), d, accept)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !ln.Addr().Equal(p2p(srv.Host())) {
		t.Errorf("Listener.Addr() = %s; want %s", ln.Addr(), p2p(srv.Host()))
	}
	other := identity.PeerIDFromPublicKey(testKey(t, 3).Public())
	addr := srv.Host().Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + other.String()))
	ctx, cancel := dialCtx()
	defer cancel()
	if c, err := cli.Dial(ctx, addr, d.Pick(), newRecorder()); err == nil {
		_ = c.Close()
		t.Fatalf("Dial %s reached %s", addr, srv.Host().ID())
	}
}

func TestListenErrors(t *testing.T) {
	d := newDriver(t)
	tr, other := newTransport(t, true), newTransport(t, true)
	accept, _ := acceptAll()
	for _, c := range []struct {
		addr string
		want error
	}{
		{"/memory/1", transport.ErrUnsupportedAddr},
		{"/ip4/127.0.0.1/udp/0", transport.ErrUnsupportedAddr},
		{"/ip4/127.0.0.1/tcp/9", nil},     // not the host's address
		{p2p(other.Host()).String(), nil}, // another peer
		{"/ip4/127.0.0.2/tcp/0", nil},     // port 0, but not the host's IP
	} {
		ln, err := tr.Listen(ma.StringCast(c.addr), d, accept)
		if err == nil {
			_ = ln.Close()
			t.Errorf("Listen %s succeeded", c.addr)
		} else if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("Listen %s: %v; want %v", c.addr, err, c.want)
		}
	}
	ln, err := tr.Listen(tr.Host().Addrs()[0].Encapsulate(p2p(tr.Host())), d, accept)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Listen(p2p(tr.Host()), d, accept); !errors.Is(err, libp2p.ErrListening) {
		t.Errorf("second Listen: %v; want ErrListening", err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err = tr.Listen(p2p(tr.Host()), d, accept)
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	_ = ln.Close()
	tr.Host().SetStreamHandler(libp2p.DefaultProtocol, nil)
	if _, err := tr.Listen(p2p(tr.Host()), d, accept); !errors.Is(err, libp2p.ErrListening) {
		t.Errorf("Listen where other code handles the protocol: %v; want ErrListening", err)
	}
	tr.Host().RemoveStreamHandler(libp2p.DefaultProtocol)
}

// TestResetKeepsConnection: Reset kills one stream, both ends see
// ErrReset, and another stream on the same libp2p connection carries on.
func TestResetKeepsConnection(t *testing.T) {
	d := newDriver(t)
	srv, cli := newTransport(t, true), newTransport(t, false)
	accept, acc := acceptAll()
	ln, err := srv.Listen(p2p(srv.Host()), d, accept)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := srv.Host().Addrs()[0].Encapsulate(p2p(srv.Host()))
	var conns []transport.Conn
	var recs []*recorder
	for range 2 {
		r := newRecorder()
		ctx, cancel := dialCtx()
		c, err := cli.Dial(ctx, addr, d.Pick(), r)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		conns, recs = append(conns, c), append(recs, r)
	}
	// The accept callbacks of the two streams may run in either order (on
	// two workers): tell the accepted ends apart by a first byte.
	a0, a1 := next(t, acc), next(t, acc)
	write(t, conns[0], []byte("0"))
	write(t, conns[1], []byte("1"))
	for deadline := time.Now().Add(waitTimeout); len(a0.r.snapshot()) == 0 || len(a1.r.snapshot()) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the first bytes did not arrive in %v", waitTimeout)
		}
		time.Sleep(time.Millisecond)
	}
	if string(a0.r.snapshot()) == "1" {
		a0, a1 = a1, a0
	}
	if err := libp2p.Reset(conns[0]); err != nil {
		t.Fatal(err)
	}
	if err := recs[0].waitClosed(t); !errors.Is(err, transport.ErrReset) {
		t.Errorf("reset end: OnClose(%v); want ErrReset", err)
	}
	if err := a0.r.waitClosed(t); !errors.Is(err, transport.ErrReset) {
		t.Errorf("peer of the reset end: OnClose(%v); want ErrReset", err)
	}
	write(t, conns[1], []byte("still here"))
	a1.r.waitBytes(t, []byte("1still here"))
	if n := len(cli.Host().Network().ConnsToPeer(srv.Host().ID())); n != 1 {
		t.Errorf("%d libp2p connections to the server after the reset; want 1", n)
	}
	if err := libp2p.Reset(nil); err == nil {
		t.Error("Reset of a nil Conn succeeded")
	}
	_ = conns[1].Close()
}

// TestInsecureRefused: connections of hosts without security prove no
// peer ID, so the transport refuses them both ways.
func TestInsecureRefused(t *testing.T) {
	d := newDriver(t)
	newInsecure := func(listen bool) *libp2p.Transport {
		opts := []golibp2p.Option{golibp2p.NoSecurity, golibp2p.Transport(p2ptcp.NewTCPTransport), golibp2p.DisableRelay()}
		if listen {
			opts = append(opts, golibp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
		} else {
			opts = append(opts, golibp2p.NoListenAddrs)
		}
		h, err := golibp2p.New(opts...)
		if err != nil {
			t.Fatal(err)
		}
		closeHost(t, h)
		tr, err := libp2p.New(libp2p.Config{Host: h})
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	srv, cli := newInsecure(true), newInsecure(false)
	accepted := make(chan struct{}, 1)
	ln, err := srv.Listen(p2p(srv.Host()), d, func(transport.Conn) transport.Handler {
		accepted <- struct{}{}
		return newRecorder()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := dialCtx()
	defer cancel()
	addr := srv.Host().Addrs()[0].Encapsulate(p2p(srv.Host()))
	if _, err := cli.Dial(ctx, addr, d.Pick(), newRecorder()); !errors.Is(err, libp2p.ErrInsecureConn) {
		t.Errorf("Dial over an insecure connection: %v; want ErrInsecureConn", err)
	}
	// A plain stream from the insecure host: the listener resets it. The
	// reset may come during the protocol negotiation (NewStream fails) or
	// after it (the read fails); either way the stream must not succeed.
	if st, err := cli.Host().NewStream(ctx, srv.Host().ID(), libp2p.DefaultProtocol); err == nil {
		_, _ = st.Write([]byte("hello"))
		if _, err := io.ReadAll(st); err == nil {
			t.Error("the listener did not reset a stream over an insecure connection")
		}
	}
	select {
	case <-accepted:
		t.Error("the listener accepted a stream over an insecure connection")
	default:
	}
}

func TestNotEd25519(t *testing.T) {
	sk, _, err := crypto.GenerateSecp256k1Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := golibp2p.New(golibp2p.Identity(sk), golibp2p.NoListenAddrs, golibp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	closeHost(t, h)
	if _, err := libp2p.New(libp2p.Config{Host: h}); !errors.Is(err, libp2p.ErrNotEd25519) {
		t.Errorf("New over a secp256k1 host: %v; want ErrNotEd25519", err)
	}
	if _, err := libp2p.IdentityOf(h); !errors.Is(err, libp2p.ErrNotEd25519) {
		t.Errorf("IdentityOf a secp256k1 host: %v; want ErrNotEd25519", err)
	}
	if _, err := libp2p.FromPeerID(h.ID()); !errors.Is(err, libp2p.ErrNotEd25519) {
		t.Errorf("FromPeerID of a secp256k1 peer: %v; want ErrNotEd25519", err)
	}
}

// TestKeys: a host made from a weft key has that key's peer ID, byte for
// byte, and gives the key back.
func TestKeys(t *testing.T) {
	key := testKey(t, 7)
	sk, err := libp2p.HostKey(key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := golibp2p.New(golibp2p.Identity(sk), golibp2p.NoListenAddrs, golibp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	closeHost(t, h)
	id := identity.PeerIDFromPublicKey(key.Public())
	if !bytes.Equal([]byte(h.ID()), id.Bytes()) || h.ID().String() != id.String() {
		t.Errorf("host ID %s; want the key's peer ID %s", h.ID(), id)
	}
	got, err := libp2p.IdentityOf(h)
	if err != nil || !got.Equal(key) {
		t.Errorf("IdentityOf = %v, %v; want the key", got.Public(), err)
	}
	back, err := libp2p.FromPeerID(libp2p.ToPeerID(id))
	if err != nil || back != id {
		t.Errorf("FromPeerID(ToPeerID(%s)) = %s, %v", id, back, err)
	}
	if _, err := libp2p.HostKey(identity.PrivateKey{}); !errors.Is(err, identity.ErrZeroKey) {
		t.Errorf("HostKey(zero key): %v; want ErrZeroKey", err)
	}
}

func TestConfigErrors(t *testing.T) {
	h := newTransport(t, false).Host()
	for _, c := range []struct {
		name string
		cfg  libp2p.Config
	}{
		{"Host", libp2p.Config{}},
		{"CloseTimeout", libp2p.Config{Host: h, CloseTimeout: -1}},
		{"SendBufferBytes", libp2p.Config{Host: h, SendBufferBytes: -1}},
		{"RecvBufferBytes", libp2p.Config{Host: h, RecvBufferBytes: -1}},
		{"Protocol", libp2p.Config{Host: h, Protocol: "weft"}},
	} {
		_, err := libp2p.New(c.cfg)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.name)) {
			t.Errorf("New with a bad %s: %v; want an error naming it", c.name, err)
		}
	}
	tr, err := libp2p.New(libp2p.Config{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Protocol() != libp2p.DefaultProtocol || tr.Kind() != transport.Stream {
		t.Errorf("defaults: protocol %s, kind %v", tr.Protocol(), tr.Kind())
	}
}

func testKey(t *testing.T, b byte) identity.PrivateKey {
	t.Helper()
	seed := make([]byte, 32)
	seed[0], seed[1] = 0x11, b
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestCloseTimeoutResets: Close sends everything and closes the write
// side at once (OnClose(nil)), but a peer that never closes its own side
// has its stream reset CloseTimeout later.
func TestCloseTimeoutResets(t *testing.T) {
	d := newDriver(t)
	srv := newTransport(t, true)
	h, err := libp2ptest.NewHost(identity.PrivateKey{}, false)
	if err != nil {
		t.Fatal(err)
	}
	closeHost(t, h)
	cli, err := libp2p.New(libp2p.Config{Host: h, CloseTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		data     []byte
		readErr  error
		writeErr error
	}
	done := make(chan result, 1)
	srv.Host().SetStreamHandler(libp2p.DefaultProtocol, func(st network.Stream) {
		var res result
		res.data, res.readErr = io.ReadAll(st) // until our close
		deadline := time.Now().Add(waitTimeout)
		for res.writeErr == nil && time.Now().Before(deadline) {
			_, res.writeErr = st.Write([]byte("still open"))
			time.Sleep(5 * time.Millisecond)
		}
		_ = st.Reset()
		done <- res
	})
	defer srv.Host().RemoveStreamHandler(libp2p.DefaultProtocol)
	r := newRecorder()
	ctx, cancel := dialCtx()
	defer cancel()
	c, err := cli.Dial(ctx, srv.Host().Addrs()[0].Encapsulate(p2p(srv.Host())), d.Pick(), r)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	errc := make(chan error, 1)
	_ = c.Post(func() {
		errc <- c.Write([]byte("last words"))
		_ = c.Close()
	})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := r.waitClosed(t); err != nil {
		t.Errorf("OnClose(%v) after Close; want nil", err)
	}
	res := <-done
	if string(res.data) != "last words" || res.readErr != nil {
		t.Errorf("the peer read %q, %v; want the last words, then EOF", res.data, res.readErr)
	}
	if res.writeErr == nil {
		t.Error("the peer could write for the whole test: the stream was never reset")
	} else if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("the stream was reset %v after Close; want CloseTimeout (100ms) or later", took)
	}
}
