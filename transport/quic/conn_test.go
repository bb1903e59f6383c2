package quic_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	quicgo "github.com/quic-go/quic-go"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/quic"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreCurrent(), // gnet's ants pool starts goroutines at init
		// and keeps idle workers for 10 s (see transporttest).
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

const loopback = "/ip4/127.0.0.1/udp/0/quic-v1"

// handler records what a connection receives and how it closes.
type handler struct {
	mu     sync.Mutex
	data   []byte
	closed chan error
}

func newHandler() *handler { return &handler{closed: make(chan error, 1)} }

func (h *handler) OnData(_ transport.Conn, b []byte) {
	h.mu.Lock()
	h.data = append(h.data, b...)
	h.mu.Unlock()
}

func (h *handler) OnClose(_ transport.Conn, err error) { h.closed <- err }

func (h *handler) bytes() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]byte(nil), h.data...)
}

// waitClosed returns OnClose's error, failing after 10 s.
func (h *handler) waitClosed(t *testing.T, who string) error {
	t.Helper()
	select {
	case err := <-h.closed:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no OnClose in 10 s", who)
		return nil
	}
}

// world is a driver and a listening transport; accepted connections go
// to a channel with their handlers.
type world struct {
	t        *testing.T
	d        *driver.Driver
	srv      *quic.Transport
	ln       transport.Listener
	accepted chan acceptedConn
}

type acceptedConn struct {
	c transport.Conn
	h *handler
}

func newWorld(t *testing.T, srvKey byte) *world {
	t.Helper()
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, d: d, srv: newTransport(t, srvKey), accepted: make(chan acceptedConn, 16)}
	w.ln, err = w.srv.Listen(ma.StringCast(loopback), d, func(c transport.Conn) transport.Handler {
		h := newHandler()
		w.accepted <- acceptedConn{c, h}
		return h
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = w.ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("driver.Close: %v", err)
		}
	})
	return w
}

func (w *world) dial(tr *quic.Transport, addr ma.Multiaddr) (transport.Conn, *handler, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := newHandler()
	c, err := tr.Dial(ctx, addr, w.d.Pick(), h)
	return c, h, err
}

func (w *world) next() acceptedConn {
	w.t.Helper()
	select {
	case a := <-w.accepted:
		return a
	case <-time.After(10 * time.Second):
		w.t.Fatal("no connection accepted in 10 s")
		return acceptedConn{}
	}
}

// TestAuthenticatedPeers: both ends are transport.Authenticated and name
// the identities the TLS handshake proved.
func TestAuthenticatedPeers(t *testing.T) {
	w := newWorld(t, 1)
	cli := newTransport(t, 2)
	c, _, err := w.dial(cli, w.ln.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Post(func() { _ = c.Write([]byte("hi")) }); err != nil {
		t.Fatal(err)
	}
	a := w.next()
	for _, s := range []struct {
		name          string
		c             transport.Conn
		local, remote identity.PeerID
	}{{"dialer", c, cli.LocalPeer(), w.srv.LocalPeer()}, {"acceptor", a.c, w.srv.LocalPeer(), cli.LocalPeer()}} {
		ac, ok := s.c.(transport.Authenticated)
		if !ok {
			t.Fatalf("%s: %T is not transport.Authenticated", s.name, s.c)
		}
		if ac.LocalPeer() != s.local || ac.RemotePeer() != s.remote {
			t.Errorf("%s: LocalPeer %s, RemotePeer %s; want %s, %s", s.name, ac.LocalPeer(), ac.RemotePeer(), s.local, s.remote)
		}
	}
	_ = c.Close()
}

// TestDialPeer: /p2p/<id> is checked in the TLS handshake.
func TestDialPeer(t *testing.T) {
	w := newWorld(t, 1)
	cli := newTransport(t, 2)
	wrong := w.ln.Addr().Encapsulate(ma.StringCast("/p2p/" + identity.PeerIDFromPublicKey(testKey(t, 9).Public()).String()))
	_, _, err := w.dial(cli, wrong)
	var de *transport.DialError
	if !errors.Is(err, quic.ErrPeerMismatch) || !errors.As(err, &de) {
		t.Errorf("dial %s: %v; want a DialError wrapping ErrPeerMismatch", wrong, err)
	}
	right := w.ln.Addr().Encapsulate(ma.StringCast("/p2p/" + w.srv.LocalPeer().String()))
	c, _, err := w.dial(cli, right)
	if err != nil {
		t.Fatalf("dial %s: %v", right, err)
	}
	_ = c.Close()
}

// TestResetBothSides: Reset kills a connection; both OnClose get ErrReset
// and a Write after it fails.
func TestResetBothSides(t *testing.T) {
	w := newWorld(t, 1)
	c, h, err := w.dial(newTransport(t, 2), w.ln.Addr())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Post(func() { _ = c.Write([]byte("x")) })
	a := w.next()
	if err := quic.Reset(c); err != nil {
		t.Fatal(err)
	}
	if err := h.waitClosed(t, "dialer"); !errors.Is(err, transport.ErrReset) {
		t.Errorf("dialer OnClose(%v) after Reset; want ErrReset", err)
	}
	if err := a.h.waitClosed(t, "acceptor"); !errors.Is(err, transport.ErrReset) {
		t.Errorf("acceptor OnClose(%v) after the peer's Reset; want ErrReset", err)
	}
	if err := quic.Reset(nil); err == nil {
		t.Error("Reset(nil) succeeded")
	}
}

// TestPeerCloseIsEOF: a Close delivers what was written, then io.EOF.
func TestPeerCloseIsEOF(t *testing.T) {
	w := newWorld(t, 1)
	c, h, err := w.dial(newTransport(t, 2), w.ln.Addr())
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte(strings.Repeat("weft ", 100_000))
	_ = c.Post(func() {
		_ = c.Write(msg)
		_ = c.Close()
	})
	a := w.next()
	if err := a.h.waitClosed(t, "acceptor"); !errors.Is(err, io.EOF) {
		t.Errorf("acceptor OnClose(%v); want io.EOF", err)
	}
	if got := a.h.bytes(); string(got) != string(msg) {
		t.Errorf("acceptor got %d bytes before EOF; want the %d written before Close", len(got), len(msg))
	}
	if err := h.waitClosed(t, "dialer"); err != nil {
		t.Errorf("dialer OnClose(%v) after its Close; want nil", err)
	}
}

// rawClient dials the listener with quic-go directly, presenting cert.
func rawClient(t *testing.T, addr ma.Multiaddr, cert tls.Certificate) (*quicgo.Conn, error) {
	t.Helper()
	ua, err := addr.ValueForProtocol(ma.P_UDP)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return quicgo.DialAddr(ctx, "127.0.0.1:"+ua, &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		InsecureSkipVerify: true, NextProtos: []string{quic.ALPN},
	}, nil)
}

// TestRejectsForeignPeers: a client whose certificate is not bound to an
// identity fails the handshake; one that speaks something else on the
// stream is closed; the accept callback sees neither.
func TestRejectsForeignPeers(t *testing.T) {
	w := newWorld(t, 1)
	if qc, err := rawClient(t, w.ln.Addr(), plainCert(t)); err == nil {
		// TLS 1.3 clients finish before the server checks their
		// certificate: the server's rejection arrives as a close.
		select {
		case <-qc.Context().Done():
		case <-time.After(5 * time.Second):
			t.Error("a client without a signed-key certificate was not closed")
		}
	}
	bound, err := handshake.NewCertificate(testKey(t, 3), nil)
	if err != nil {
		t.Fatal(err)
	}
	qc, err := rawClient(t, w.ln.Addr(), bound)
	if err != nil {
		t.Fatalf("a client with a bound certificate: %v", err)
	}
	st, err := qc.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = st.Write([]byte("GET / HTTP/1.1\r\n"))
	select {
	case <-qc.Context().Done():
		var app *quicgo.ApplicationError
		if err := context.Cause(qc.Context()); !errors.As(err, &app) || app.ErrorCode != 3 {
			t.Errorf("closed with %v; want application error 3 (bad stream)", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a client that sent no preamble was not closed")
	}
	select {
	case a := <-w.accepted:
		t.Errorf("the accept callback ran for a foreign client (%s)", a.c.RemoteAddr())
	default:
	}
}

func TestHandles(t *testing.T) {
	tr := newTransport(t, 1)
	id := tr.LocalPeer().String()
	for s, want := range map[string]bool{
		"/ip4/127.0.0.1/udp/1/quic-v1":           true,
		"/ip6/::1/udp/1/quic-v1":                 true,
		"/ip4/127.0.0.1/udp/1/quic-v1/p2p/" + id: true,
		"/ip4/127.0.0.1/udp/1":                   false,
		"/ip4/127.0.0.1/tcp/1":                   false,
		"/ip4/127.0.0.1/udp/1/quic":              false,
		"/memory/3":                              false,
	} {
		if got := tr.Handles(ma.StringCast(s)); got != want {
			t.Errorf("Handles(%s) = %t; want %t", s, got, want)
		}
	}
}

func TestListenPeer(t *testing.T) {
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	tr := newTransport(t, 1)
	accept := func(transport.Conn) transport.Handler { return nil }
	ln, err := tr.Listen(ma.StringCast(loopback+"/p2p/"+tr.LocalPeer().String()), d, accept)
	if err != nil {
		t.Fatalf("listen on the transport's own /p2p: %v", err)
	}
	_ = ln.Close()
	other := identity.PeerIDFromPublicKey(testKey(t, 2).Public())
	if ln, err := tr.Listen(ma.StringCast(loopback+"/p2p/"+other.String()), d, accept); err == nil {
		_ = ln.Close()
		t.Error("listen on another peer's /p2p succeeded")
	}
}

func TestConfig(t *testing.T) {
	key := testKey(t, 1)
	for name, c := range map[string]quic.Config{
		"Identity":          {},
		"IdleTimeout":       {Identity: key, IdleTimeout: -1},
		"CloseTimeout":      {Identity: key, CloseTimeout: -time.Second},
		"SendBufferBytes":   {Identity: key, SendBufferBytes: -1},
		"KeepAlive":         {Identity: key, IdleTimeout: time.Second, KeepAlive: 2 * time.Second},
		"StreamWindowBytes": {Identity: key, StreamWindowBytes: 1000},
	} {
		if _, err := quic.New(c); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("New with a bad %s: %v; want an error naming it", name, err)
		}
	}
	if _, err := quic.New(quic.Config{Identity: key, KeepAlive: -1}); err != nil {
		t.Errorf("KeepAlive -1 (off): %v", err)
	}
}

// plainCert is a self-signed certificate without weft's extension.
func plainCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestIPv6: dial and listen on ::1 (skipped where the host has no IPv6).
func TestIPv6(t *testing.T) {
	if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		c.Close()
	}
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	srv := newTransport(t, 1)
	ln, err := srv.Listen(ma.StringCast("/ip6/::1/udp/0/quic-v1"), d, func(transport.Conn) transport.Handler { return echo{} })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	h := &collector{n: 4, out: make(chan string, 1)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := newTransport(t, 2).Dial(ctx, ln.Addr(), d.Pick(), h)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Post(func() { _ = c.Write([]byte("ping")) })
	select {
	case got := <-h.out:
		if got != "ping" {
			t.Errorf("echo %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no echo over IPv6")
	}
	if !strings.HasPrefix(c.LocalAddr().String(), "/ip6/") || !c.RemoteAddr().Equal(ln.Addr()) {
		t.Errorf("addresses %s -> %s; want IPv6, to %s", c.LocalAddr(), c.RemoteAddr(), ln.Addr())
	}
	_ = c.Close()
}
