package endpoint

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/quic"
)

// plainConn and authConn stand for connections of a transport that does
// or does not authenticate; handshakeFor only looks at their type.
type plainConn struct{ transport.Conn }

type authConn struct {
	transport.Conn
	local, remote identity.PeerID
}

func (c authConn) LocalPeer() identity.PeerID  { return c.local }
func (c authConn) RemotePeer() identity.PeerID { return c.remote }

// countingRand counts the reads of a handshake Config.Rand: building a
// Noise state reads it (a fresh static key), the authenticated exchange
// never does.
type countingRand struct{ n int }

func (r *countingRand) Read(p []byte) (int, error) {
	r.n++
	return rand.Read(p)
}

// TestHandshakeFor: Noise over a plain connection, the authenticated
// exchange over an authenticated one, decided by the connection alone;
// no Noise state is built for an authenticated connection.
func TestHandshakeFor(t *testing.T) {
	key := testKey(t, 1)
	rnd := &countingRand{}
	cfg := handshake.Config{Identity: key, Rand: rnd}
	for _, initiator := range []bool{true, false} {
		h, err := handshakeFor(plainConn{}, cfg, initiator)
		if _, ok := h.(*handshake.State); !ok || err != nil {
			t.Errorf("initiator=%t over a plain connection: %T, %v; want the Noise state", initiator, h, err)
		}
	}
	if rnd.n == 0 {
		t.Fatal("the Noise states read no Rand: the check below would prove nothing")
	}
	rnd.n = 0
	self := identity.PeerIDFromPublicKey(key.Public())
	other := identity.PeerIDFromPublicKey(testKey(t, 2).Public())
	for _, initiator := range []bool{true, false} {
		h, err := handshakeFor(authConn{local: self, remote: other}, cfg, initiator)
		if _, ok := h.(*handshake.AuthState); !ok || err != nil {
			t.Fatalf("initiator=%t over an authenticated connection: %T, %v; want *handshake.AuthState", initiator, h, err)
		}
	}
	if rnd.n != 0 {
		t.Errorf("over authenticated connections Rand was read %d times: a Noise state was built", rnd.n)
	}
	h, _ := handshakeFor(authConn{local: self, remote: other}, cfg, true)
	m1, err := h.Start()
	if err != nil {
		t.Fatal(err)
	}
	if len(m1) > 8 {
		t.Errorf("m1 is %d bytes although the endpoint's identity is the transport's: it should carry no proof", len(m1))
	}
	for _, initiator := range []bool{true, false} {
		if h, err := handshakeFor(authConn{}, cfg, initiator); err == nil || h != nil {
			t.Errorf("initiator=%t: an authenticated connection without peer IDs gave %T, %v", initiator, h, err)
		}
		if h, err := handshakeFor(plainConn{}, handshake.Config{}, initiator); err == nil || h != nil {
			t.Errorf("initiator=%t: a Config without Identity gave %T, %v", initiator, h, err)
		}
	}
	// A peer speaking Noise where the authenticated exchange is expected
	// fails the handshake as malformed: it cannot pick the other mode.
	ah, err := handshakeFor(authConn{local: other, remote: self}, handshake.Config{Identity: testKey(t, 2)}, false)
	if err != nil {
		t.Fatal(err)
	}
	noise, _ := handshake.NewInitiator(handshake.Config{Identity: key})
	msg1, _ := noise.Start()
	if _, _, err := ah.Step(msg1); !errors.Is(err, handshake.ErrMalformed) {
		t.Errorf("Noise msg1 over an authenticated connection: %v; want ErrMalformed", err)
	}
}

// countingTransport counts the dials of its transport.
type countingTransport struct {
	transport.Transport
	dials atomic.Int32
}

func (t *countingTransport) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	t.dials.Add(1)
	return t.Transport.Dial(ctx, addr, w, h)
}

// TestAuthBadConfigQUIC: over QUIC (an authenticated transport, where no
// Noise state is built) a handshake config that Noise would reject still
// fails as before: the dialer before it dials, the listener by refusing
// the connection.
func TestAuthBadConfigQUIC(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	qt, err := quic.New(quic.Config{Identity: testKey(t, 9)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &countingTransport{Transport: qt}
	good := Config{Identity: testKey(t, 1), HandshakeTimeout: time.Second}
	bad := Config{Identity: testKey(t, 2), HandshakeTimeout: time.Second, Ciphers: []Cipher{}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		name             string
		listener, dialer Config
		dialerBad        bool // Dial fails before dialing; else the listener refuses
	}{
		{"dialer", good, bad, true},
		{"listener", bad, good, false},
	} {
		ln, err := Listen(d, tr, ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"), c.listener, nil)
		if err != nil {
			t.Fatal(err)
		}
		tr.dials.Store(0)
		ep, err := Dial(ctx, d, tr, ln.Addr(), c.dialer)
		switch {
		case err == nil:
			ep.Close()
			t.Errorf("%s with empty Ciphers: Dial succeeded", c.name)
		case c.dialerBad && !strings.Contains(err.Error(), "Ciphers"):
			t.Errorf("dialer with empty Ciphers: Dial error %q; want one naming Ciphers", err)
		case !c.dialerBad && !errors.Is(err, io.EOF):
			t.Errorf("listener with empty Ciphers: Dial error %q; want the refusal (io.EOF, quic's refused code)", err)
		}
		if dialed := tr.dials.Load() > 0; dialed == c.dialerBad {
			t.Errorf("%s with empty Ciphers: dialed %t", c.name, dialed)
		}
		_ = ln.Close()
	}
}

// BenchmarkConnectQUIC is a whole endpoint connection over QUIC on
// loopback, per iteration: Dial, the TLS 1.3 and endpoint handshakes,
// Accept, then both ends closed.
func BenchmarkConnectQUIC(b *testing.B) {
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(context.Background())
	kl, kd := testKey(b, 9), testKey(b, 8) // a node's transport and endpoint share its key
	trl, err := quic.New(quic.Config{Identity: kl})
	if err != nil {
		b.Fatal(err)
	}
	trd, err := quic.New(quic.Config{Identity: kd})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := Listen(d, trl, ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"), Config{Identity: kl}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cfg := Config{Identity: kd}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		ep, err := Dial(ctx, d, trd, ln.Addr(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		srv, err := ln.Accept(ctx)
		if err != nil {
			b.Fatal(err)
		}
		ep.Close()
		srv.Close()
	}
}
