package libp2p_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"testing"
	"time"

	golibp2p "github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport/libp2p"
	"github.com/weftnet/weft/transport/libp2p/libp2ptest"
)

// interopTimeout bounds the whole conversation with the plain host.
const interopTimeout = 30 * time.Second

// TestInteropPlainLibp2pHost: a plain go-libp2p host, whose side of the
// conversation (interop_peer_test.go) uses no weft code, opens
// /weft/endpoint/1.0.0 to a weft endpoint listener, exchanges messages
// with it (the listener echoes) and closes the session cleanly. The weft
// node uses its host's key as its endpoint identity, or (second case) an
// endpoint key of its own, which it proves in the handshake.
func TestInteropPlainLibp2pHost(t *testing.T) {
	for _, ownKey := range []bool{false, true} {
		t.Run(fmt.Sprintf("endpoint key of its own=%t", ownKey), func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			testInterop(t, ownKey)
		})
	}
}

// weftEcho is the weft side: an endpoint listener that echoes.
type weftEcho struct {
	mu       sync.Mutex
	accepted []*endpoint.Endpoint
	closed   chan error // OnClose of the first accepted endpoint
	undeliv  int
}

func testInterop(t *testing.T, ownKey bool) {
	ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
	defer cancel()
	weftHost, err := libp2ptest.NewHost(identity.PrivateKey{}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer weftHost.Close()
	key, err := libp2p.IdentityOf(weftHost)
	if err != nil {
		t.Fatal(err)
	}
	if ownKey {
		key = newKey(t)
	}
	tr, err := libp2p.New(libp2p.Config{Host: weftHost})
	if err != nil {
		t.Fatal(err)
	}
	w := &weftEcho{closed: make(chan error, 1)}
	stop := w.listen(t, tr, key)
	defer stop()

	plain, err := golibp2p.New(golibp2p.NoListenAddrs, golibp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Connect(ctx, peer.AddrInfo{ID: weftHost.ID(), Addrs: weftHost.Addrs()}); err != nil {
		t.Fatal(err)
	}
	st, err := plain.NewStream(ctx, weftHost.ID(), libp2p.DefaultProtocol)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Reset()
	deadline, _ := ctx.Deadline()
	_ = st.SetDeadline(deadline)
	p, err := dialPlain(st)
	if err != nil {
		t.Fatalf("the plain host could not open a session: %v", err)
	}
	if want := key.Public().Bytes(); !bytes.Equal(p.endpoint, want) {
		t.Errorf("the plain host sees endpoint key %x; want the weft node's %x", p.endpoint, want)
	}
	msgs := interopMessages()
	for i, m := range msgs {
		if err := p.send(m); err != nil {
			t.Fatalf("plain host: send %d: %v", i, err)
		}
	}
	if err := p.recv(len(msgs)); err != nil {
		t.Fatalf("plain host: echoes: %v", err)
	}
	for i, m := range msgs {
		if !bytes.Equal(p.got[i], m) {
			t.Errorf("echo %d: %d bytes, want %d (%x...)", i, len(p.got[i]), len(m), m[:min(len(m), 8)])
		}
	}
	if err := p.close(); err != nil {
		t.Fatalf("plain host: close: %v", err)
	}
	w.check(t, plain.ID())
}

// listen starts the weft side on tr's host: a driver and an endpoint
// listener, which stop closes.
func (w *weftEcho) listen(t *testing.T, tr *libp2p.Transport, key identity.PrivateKey) (stop func()) {
	t.Helper()
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg := endpoint.Config{
		Identity: key,
		Handler: func(ep *endpoint.Endpoint, msg []byte) {
			if err := ep.TrySend(msg); err != nil {
				t.Errorf("weft echo: %v", err)
			}
		},
		OnClose: func(ep *endpoint.Endpoint, err error, undelivered int) {
			w.mu.Lock()
			w.undeliv += undelivered
			w.mu.Unlock()
			w.closed <- err
		},
	}
	ln, err := endpoint.Listen(d, tr, tr.Host().Addrs()[0], cfg, func(ep *endpoint.Endpoint) {
		w.mu.Lock()
		w.accepted = append(w.accepted, ep)
		w.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return func() {
		_ = ln.Close()
		ctx, cancel := context.WithTimeout(context.Background(), interopTimeout)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("driver.Close: %v", err)
		}
	}
}

// check checks what the weft side saw: one endpoint, from the plain
// host's peer ID, closed cleanly with nothing undelivered.
func (w *weftEcho) check(t *testing.T, plain peer.ID) {
	t.Helper()
	select {
	case err := <-w.closed:
		if err != nil {
			t.Errorf("weft endpoint: OnClose(%v); want nil after the plain host's CLOSE", err)
		}
	case <-time.After(interopTimeout):
		t.Fatal("the weft endpoint did not close after the plain host's CLOSE")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.accepted) != 1 {
		t.Fatalf("weft accepted %d endpoints; want 1", len(w.accepted))
	}
	if got := libp2p.ToPeerID(w.accepted[0].Peer()); got != plain {
		t.Errorf("weft endpoint's Peer() is %s; want the plain host %s", got, plain)
	}
	if w.undeliv != 0 {
		t.Errorf("weft endpoint: %d messages undelivered", w.undeliv)
	}
}

// interopMessages are the messages the plain host sends: empty, small,
// and one that spans several records.
func interopMessages() [][]byte {
	msgs := [][]byte{{}}
	for i := range 50 {
		msgs = append(msgs, bytes.Repeat([]byte{byte(i)}, 1+i*20))
	}
	big := make([]byte, 200<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	return append(msgs, big, []byte("bye"))
}

func newKey(t *testing.T) identity.PrivateKey {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 0x42
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
