package mem

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared ants pool keeps a purge goroutine for the process.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

const waitFor = 10 * time.Second

func newDriver(t testing.TB, workers int) *driver.Driver {
	t.Helper()
	d, err := driver.New(driver.Config{Workers: workers})
	check.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		check.NoError(t, d.Close(ctx))
	})
	return d
}

func newNet(t testing.TB, cfg Config) *Network {
	t.Helper()
	n, err := NewNetwork(cfg)
	check.NoError(t, err)
	t.Cleanup(func() { check.NoError(t, n.Close()) })
	return n
}

var any0 = ma.StringCast("/memory/0")

// recorder is a Handler that keeps what it receives.
type recorder struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	pkts     [][]byte
	closeErr error
	closes   int
	onData   func(c transport.Conn, b []byte) // optional, on the worker
	closed   chan struct{}
	notify   chan struct{} // a token after each OnData
}

func newRecorder() *recorder {
	return &recorder{closed: make(chan struct{}), notify: make(chan struct{}, 1)}
}

func (r *recorder) OnData(c transport.Conn, b []byte) {
	r.mu.Lock()
	if c.Kind() == transport.Datagram {
		r.pkts = append(r.pkts, bytes.Clone(b))
	} else {
		r.buf.Write(b)
	}
	r.mu.Unlock()
	if r.onData != nil {
		r.onData(c, b)
	}
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) OnClose(c transport.Conn, err error) {
	r.mu.Lock()
	r.closes++
	r.closeErr = err
	first := r.closes == 1
	r.mu.Unlock()
	if first {
		close(r.closed)
	}
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

func (r *recorder) packets() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.pkts...)
}

// waitClosed waits for OnClose and returns its error.
func (r *recorder) waitClosed(t testing.TB) error {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(waitFor):
		t.Fatal("OnClose not called")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	check.Equal(t, 1, r.closes, "OnClose calls")
	return r.closeErr
}

// waitBytes waits until the recorder holds at least n bytes.
func (r *recorder) waitBytes(t testing.TB, n int) []byte {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		if b := r.bytes(); len(b) >= n {
			return b
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("got %d bytes, want %d", len(r.bytes()), n)
		}
	}
}

func (r *recorder) waitPackets(t testing.TB, n int) [][]byte {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		if p := r.packets(); len(p) >= n {
			return p
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("got %d packets, want %d", len(r.packets()), n)
		}
	}
}

// acceptor hands every accepted connection a new recorder and keeps both.
type acceptor struct {
	mu    sync.Mutex
	conns []transport.Conn
	recs  []*recorder
	got   chan struct{}
	setup func(r *recorder)
}

func newAcceptor() *acceptor { return &acceptor{got: make(chan struct{}, 1024)} }

func (a *acceptor) accept(c transport.Conn) transport.Handler {
	r := newRecorder()
	if a.setup != nil {
		a.setup(r)
	}
	a.mu.Lock()
	a.conns = append(a.conns, c)
	a.recs = append(a.recs, r)
	a.mu.Unlock()
	a.got <- struct{}{}
	return r
}

// wait returns the i-th accepted connection and its recorder.
func (a *acceptor) wait(t testing.TB, i int) (transport.Conn, *recorder) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		a.mu.Lock()
		if len(a.conns) > i {
			c, r := a.conns[i], a.recs[i]
			a.mu.Unlock()
			return c, r
		}
		a.mu.Unlock()
		select {
		case <-a.got:
		case <-deadline:
			t.Fatalf("connection %d not accepted", i)
		}
	}
}

// write writes b on c's worker and waits for the result.
func write(t testing.TB, c transport.Conn, b []byte) {
	t.Helper()
	check.NoError(t, onWorker(t, c, func() error { return c.Write(b) }))
}

func onWorker(t testing.TB, c transport.Conn, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	check.NoError(t, c.Post(func() { done <- fn() }))
	select {
	case err := <-done:
		return err
	case <-time.After(waitFor):
		t.Fatal("posted task did not run")
		return nil
	}
}

// goid returns the current goroutine's id (tests only).
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	f := strings.Fields(string(buf[:n]))
	id, _ := strconv.ParseUint(f[1], 10, 64)
	return id
}

// workerGoids maps each worker's loop goroutine to the worker.
func workerGoids(t testing.TB, d *driver.Driver) map[uint64]*driver.Worker {
	t.Helper()
	out := make(map[uint64]*driver.Worker)
	for _, w := range d.Workers() {
		ch := make(chan uint64, 1)
		check.NoError(t, w.Execute(func() { ch <- goid() }))
		out[<-ch] = w
	}
	return out
}
