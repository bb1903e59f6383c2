package libp2p_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/libp2p"
	"github.com/weftnet/weft/transport/libp2p/libp2ptest"
)

// waitTimeout bounds every wait of this package's own tests.
const waitTimeout = 20 * time.Second

// TestMain checks that no test leaves a goroutine behind: every host,
// driver and connection a test starts is closed before it returns.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's process-wide goroutine pool (driver workers' Enroll).
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// recorder is a Handler that keeps what arrives and how the connection
// ended.
type recorder struct {
	mu     sync.Mutex
	data   []byte
	err    error
	wake   chan struct{}
	closed chan struct{}
}

func newRecorder() *recorder {
	return &recorder{wake: make(chan struct{}, 1), closed: make(chan struct{})}
}

func (r *recorder) OnData(_ transport.Conn, b []byte) {
	r.mu.Lock()
	r.data = append(r.data, b...)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) OnClose(_ transport.Conn, err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	close(r.closed)
}

// snapshot returns what has arrived so far.
func (r *recorder) snapshot() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.data)
}

// waitBytes waits until want has arrived.
func (r *recorder) waitBytes(t *testing.T, want []byte) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		got := bytes.Clone(r.data)
		r.mu.Unlock()
		if bytes.Equal(got, want) {
			return
		}
		select {
		case <-r.wake:
		case <-r.closed:
			r.mu.Lock()
			got, err := r.data, r.err
			r.mu.Unlock()
			if !bytes.Equal(got, want) {
				t.Fatalf("closed (%v) after %q; want %q", err, got, want)
			}
			return
		case <-deadline:
			t.Fatalf("got %q after %v; want %q", got, waitTimeout, want)
		}
	}
}

// waitClosed waits for OnClose and returns its error.
func (r *recorder) waitClosed(t *testing.T) error {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(waitTimeout):
		t.Fatalf("no OnClose after %v", waitTimeout)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// newDriver starts a driver that the test's cleanup closes.
func newDriver(t *testing.T) *driver.Driver {
	t.Helper()
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("driver.Close: %v", err)
		}
	})
	return d
}

// newTransport starts a loopback host (listening if listen) and its
// transport; the test's cleanup closes the host.
func newTransport(t *testing.T, listen bool) *libp2p.Transport {
	t.Helper()
	h, err := libp2ptest.NewHost(identity.PrivateKey{}, listen)
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

func closeHost(t *testing.T, h host.Host) {
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("host.Close: %v", err)
		}
	})
}

// acceptAll returns an AcceptFunc that hands each connection's handler
// out on the channel it returns.
func acceptAll() (transport.AcceptFunc, <-chan accepted) {
	ch := make(chan accepted, 16)
	return func(c transport.Conn) transport.Handler {
		r := newRecorder()
		ch <- accepted{c, r}
		return r
	}, ch
}

type accepted struct {
	c transport.Conn
	r *recorder
}

func next(t *testing.T, ch <-chan accepted) accepted {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(waitTimeout):
		t.Fatalf("nothing accepted in %v", waitTimeout)
		panic("unreachable")
	}
}

// write writes b on c from its worker.
func write(t *testing.T, c transport.Conn, b []byte) {
	t.Helper()
	errc := make(chan error, 1)
	if err := c.Post(func() { errc <- c.Write(b) }); err != nil {
		t.Fatalf("Post: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func dialCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitTimeout)
}

func p2p(h host.Host) ma.Multiaddr { return ma.StringCast("/p2p/" + h.ID().String()) }
