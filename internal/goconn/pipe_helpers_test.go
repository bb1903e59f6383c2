package goconn

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// waitLimit bounds every wait of these tests.
const waitLimit = 20 * time.Second

// recorder is a Handler that keeps what arrives and how the connection
// closed, and counts OnWritable.
type recorder struct {
	mu       sync.Mutex
	data     []byte
	closed   bool
	err      error
	writable int
	wake     chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{}, 1)} }

func (r *recorder) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *recorder) OnData(_ transport.Conn, b []byte) {
	r.mu.Lock()
	r.data = append(r.data, b...)
	r.mu.Unlock()
	r.signal()
}

func (r *recorder) OnClose(_ transport.Conn, err error) {
	r.mu.Lock()
	r.closed, r.err = true, err
	r.mu.Unlock()
	r.signal()
}

func (r *recorder) OnWritable(transport.Conn) {
	r.mu.Lock()
	r.writable++
	r.mu.Unlock()
	r.signal()
}

// wait waits until cond holds (under r's lock), or fails t.
func (r *recorder) wait(t *testing.T, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.wake:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("waited %v for %s", waitLimit, what)
		}
	}
}

func (r *recorder) waitBytes(t *testing.T, want []byte) {
	t.Helper()
	r.wait(t, "the bytes", func(r *recorder) bool { return len(r.data) >= len(want) })
	r.mu.Lock()
	defer r.mu.Unlock()
	if !bytes.Equal(r.data, want) {
		t.Fatalf("received %d bytes that differ from the %d written", len(r.data), len(want))
	}
}

func (r *recorder) waitClosed(t *testing.T) error {
	t.Helper()
	r.wait(t, "OnClose", func(r *recorder) bool { return r.closed })
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// pair is a dialed pipe connection and the accepted end, on different
// workers of their own driver.
type pair struct {
	d      *driver.Driver
	c, s   *pipeConn
	ch, sh *recorder
}

func newPair(t *testing.T, n *pipeNet) *pair {
	t.Helper()
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{d: d, ch: newRecorder(), sh: newRecorder()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("driver.Close: %v", err)
		}
	})
	accepted := make(chan *pipeConn, 1)
	ln, err := n.Listen(ma.StringCast("/memory/0"), d, func(c transport.Conn) transport.Handler {
		accepted <- c.(*pipeConn)
		return p.sh
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	c, err := n.Dial(ctx, ln.Addr(), d.Workers()[0], p.ch)
	if err != nil {
		t.Fatal(err)
	}
	p.c = c.(*pipeConn)
	select {
	case p.s = <-accepted:
	case <-time.After(waitLimit):
		t.Fatal("no accept")
	}
	if ws := d.Workers(); p.s.Owner() == p.c.Owner() {
		if err := d.Move(ctx, p.s, ws[1]); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// on runs fn on c's worker and waits for it.
func on(t *testing.T, c transport.Conn, fn func()) {
	t.Helper()
	done := make(chan struct{})
	if err := c.Post(func() { fn(); close(done) }); err != nil {
		t.Fatalf("Post: %v", err)
	}
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("a posted task did not run")
	}
}
