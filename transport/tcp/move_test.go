package tcp

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// stream is a deterministic byte stream both ends can regenerate.
type stream struct{ r *rand.ChaCha8 }

func newStream(id int) *stream {
	var seed [32]byte
	seed[0], seed[1] = byte(id), byte(id>>8)
	return &stream{rand.NewChaCha8(seed)}
}

func (s *stream) next(b []byte) { _, _ = s.r.Read(b) }

// verifier checks that bytes arrive once and in order.
type verifier struct {
	want *stream
	buf  []byte
	n    int64
	err  error
}

func (v *verifier) check(b []byte) {
	if v.err != nil {
		return
	}
	if cap(v.buf) < len(b) {
		v.buf = make([]byte, len(b))
	}
	exp := v.buf[:len(b)]
	v.want.next(exp)
	if !bytes.Equal(exp, b) {
		i := 0
		for i < len(b) && b[i] == exp[i] {
			i++
		}
		v.err = fmt.Errorf("byte %d differs", v.n+int64(i))
	}
	v.n += int64(len(b))
}

// echoServer verifies each connection's stream and echoes it back.
type echoServer struct{ v *verifier }

func (s *echoServer) OnData(c transport.Conn, b []byte) {
	s.v.check(b)
	_ = c.Write(b)
}
func (s *echoServer) OnClose(transport.Conn, error) {}

// pumpClient sends its stream, keeping a bounded amount in flight, and
// verifies the echo.
type pumpClient struct {
	src      *stream
	echo     *verifier
	chunk    []byte
	sent     atomic.Int64
	echoed   atomic.Int64
	stop     *atomic.Bool
	closed   chan error
	maxBuf   int
	inflight int64
}

func (p *pumpClient) pump(c transport.Conn) {
	for !p.stop.Load() && c.Buffered() < p.maxBuf && p.sent.Load()-p.echoed.Load() < p.inflight {
		p.src.next(p.chunk)
		if c.Write(p.chunk) != nil {
			return
		}
		p.sent.Add(int64(len(p.chunk)))
	}
}

func (p *pumpClient) OnData(c transport.Conn, b []byte) {
	p.echo.check(b)
	p.echoed.Add(int64(len(b)))
	p.pump(c)
}
func (p *pumpClient) OnWritable(c transport.Conn)         { p.pump(c) }
func (p *pumpClient) OnClose(_ transport.Conn, err error) { p.closed <- err }

// TestMoveLiveConnections moves 100 live connections (and their peers)
// between workers every 10 ms for 5 s while each carries a checksummed
// stream both ways: every byte must arrive once, in order.
func TestMoveLiveConnections(t *testing.T) {
	const conns = 100
	dur := 5 * time.Second
	if testing.Short() {
		dur = time.Second
	}
	d, err := driver.New(driver.Config{Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	tr, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var servers []transport.Conn
	var serverV []*verifier
	accepted := 0
	ln, err := tr.Listen(ma.StringCast("/ip4/127.0.0.1/tcp/0"), d, func(c transport.Conn) transport.Handler {
		mu.Lock()
		defer mu.Unlock()
		// Connections are accepted in dial order (one dial at a time).
		v := &verifier{want: newStream(accepted)}
		accepted++
		servers = append(servers, c)
		serverV = append(serverV, v)
		return &echoServer{v: v}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	var stop atomic.Bool
	clients := make([]transport.Conn, conns)
	pumps := make([]*pumpClient, conns)
	for i := range conns {
		p := &pumpClient{src: newStream(i), echo: &verifier{want: newStream(i)}, chunk: make([]byte, 4096),
			stop: &stop, closed: make(chan error, 1), maxBuf: 64 << 10, inflight: 256 << 10}
		c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[i%4], p)
		if err != nil {
			t.Fatal(err)
		}
		clients[i], pumps[i] = c, p
		if err := c.Post(func() { p.pump(c) }); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return accepted == conns })

	rng := rand.New(rand.NewPCG(7, 7))
	var moved, failed atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(dur)
	for round := 0; time.Now().Before(end); round++ {
		all := clients
		if round%2 == 1 {
			all = servers
		}
		for _, c := range all {
			dst := d.Workers()[rng.IntN(4)]
			wg.Add(1)
			if err := d.MoveAsync(c, dst, func(err error) {
				if err != nil {
					failed.Add(1)
				} else {
					moved.Add(1)
				}
				wg.Done()
			}); err != nil {
				wg.Done()
				failed.Add(1)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	stop.Store(true)
	waitFor(t, 20*time.Second, func() bool {
		for _, p := range pumps {
			if p.echoed.Load() != p.sent.Load() {
				return false
			}
		}
		return true
	})
	var total int64
	for i, p := range pumps {
		res := make(chan [2]any, 1)
		clients[i].Post(func() { res <- [2]any{p.echo.err, p.echo.n} })
		r := <-res
		if r[0] != nil {
			t.Fatalf("conn %d echo: %v", i, r[0])
		}
		total += p.sent.Load()
	}
	for i, c := range servers {
		res := make(chan error, 1)
		v := serverV[i]
		c.Post(func() { res <- v.err })
		if err := <-res; err != nil {
			t.Fatalf("server conn %d: %v", i, err)
		}
	}
	t.Logf("%d conns, %.1f MiB each way, %d moves done, %d refused (busy)", conns, float64(total)/(1<<20), moved.Load(), failed.Load())
	if moved.Load() < int64(conns) {
		t.Fatalf("only %d moves completed", moved.Load())
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
