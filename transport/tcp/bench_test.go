package tcp

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/benchutil"
	"github.com/weftnet/weft/transport"
)

// The benchmarks compare sending through the Driver with the practical
// limit: a plain net.Conn with bufio framing, in the same run. Both send
// 4-byte length-prefixed messages batched into 64 KiB writes (64 B case),
// or 1 MiB writes.

const batchBytes = 64 << 10

// pair is a connection between two workers of one driver: the sender on
// worker 0, the receiver on worker 1.
type pair struct {
	d          *driver.Driver
	ln         transport.Listener
	send, recv transport.Conn
}

func newPair(b *testing.B, sh transport.Handler, rh transport.Handler) *pair {
	b.Helper()
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		b.Fatal(err)
	}
	tr, _ := New(Config{})
	got := make(chan transport.Conn, 1)
	ln, err := tr.Listen(ma.StringCast("/ip4/127.0.0.1/tcp/0"), d, func(c transport.Conn) transport.Handler {
		got <- c
		return rh
	})
	if err != nil {
		b.Fatal(err)
	}
	send, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], sh)
	if err != nil {
		b.Fatal(err)
	}
	recv := <-got
	if err := d.Move(context.Background(), recv, d.Workers()[1]); err != nil {
		b.Fatal(err)
	}
	return &pair{d: d, ln: ln, send: send, recv: recv}
}

func (p *pair) close() {
	p.ln.Close()
	p.d.Close(context.Background())
}

// sender writes frames into batch buffers, keeping at most window bytes
// that the receiver has not credited back.
type sender struct {
	total  int64 // bytes to send
	sent   int64
	credit atomic.Int64 // bytes the receiver has consumed
	window int64
	fill   func(buf []byte, remaining int64) []byte
	buf    []byte
}

func (s *sender) pump(c transport.Conn) {
	for s.sent < s.total && s.sent-s.credit.Load() < s.window {
		out := s.fill(s.buf[:0], s.total-s.sent)
		if err := c.Write(out); err != nil {
			return
		}
		s.sent += int64(len(out))
	}
}

func (s *sender) OnData(transport.Conn, []byte) {}
func (s *sender) OnClose(transport.Conn, error) {}

// receiver counts bytes (and frames) and credits the sender every 256 KiB.
type receiver struct {
	s        *sender
	sendConn transport.Conn
	got      int64
	credited int64
	done     chan struct{}
	frames   frameCounter
}

func (r *receiver) OnData(_ transport.Conn, b []byte) {
	r.frames.feed(b)
	r.got += int64(len(b))
	if r.got-r.credited >= 256<<10 || r.got == r.s.total {
		r.credited = r.got
		r.s.credit.Store(r.got)
		s, c := r.s, r.sendConn
		_ = c.Post(func() { s.pump(c) })
	}
	if r.got == r.s.total {
		close(r.done)
	}
}
func (r *receiver) OnClose(transport.Conn, error) {}

// frameCounter parses 4-byte length-prefixed frames across reads.
type frameCounter struct {
	need   int // bytes left of the current frame's body, or -1 for a header
	hdr    [4]byte
	hdrLen int
	n      int64
}

func (f *frameCounter) feed(b []byte) {
	for len(b) > 0 {
		if f.need > 0 {
			k := min(f.need, len(b))
			f.need -= k
			b = b[k:]
			if f.need == 0 {
				f.n++
			}
			continue
		}
		k := copy(f.hdr[f.hdrLen:], b)
		f.hdrLen += k
		b = b[k:]
		if f.hdrLen == 4 {
			f.hdrLen = 0
			f.need = int(binary.BigEndian.Uint32(f.hdr[:]))
			if f.need == 0 {
				f.n++
			}
		}
	}
}

func frames64(buf []byte, remaining int64) []byte {
	var msg [68]byte
	binary.BigEndian.PutUint32(msg[:], 64)
	for len(buf)+68 <= batchBytes && remaining >= 68 {
		buf = append(buf, msg[:]...)
		remaining -= 68
	}
	return buf
}

func chunk1MiB(buf []byte, remaining int64) []byte {
	return buf[:min(int64(cap(buf)), remaining)]
}

func benchDriver(b *testing.B, total int64, bufCap int, fill func([]byte, int64) []byte) *receiver {
	s := &sender{total: total, window: 8 << 20, fill: fill, buf: make([]byte, bufCap)}
	r := &receiver{s: s, done: make(chan struct{})}
	p := newPair(b, s, r)
	defer p.close()
	r.sendConn = p.send
	b.ResetTimer()
	_ = p.send.Post(func() { s.pump(p.send) })
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		b.Fatal("transfer did not finish")
	}
	b.StopTimer()
	return r
}

func BenchmarkMessages64B(b *testing.B) {
	b.Run("driver", func(b *testing.B) {
		b.SetBytes(64)
		r := benchDriver(b, int64(b.N)*68, batchBytes, frames64)
		if r.frames.n != int64(b.N) {
			b.Fatalf("received %d frames, want %d", r.frames.n, b.N)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("netconn-bufio", func(b *testing.B) {
		b.SetBytes(64)
		a, c := benchutil.LoopbackPair(b)
		defer a.Close()
		defer c.Close()
		done := make(chan int64)
		go func() {
			br := bufio.NewReaderSize(c, batchBytes)
			var hdr [4]byte
			body := make([]byte, 64)
			n := int64(0)
			for n < int64(b.N) {
				if _, err := io.ReadFull(br, hdr[:]); err != nil {
					break
				}
				if _, err := io.ReadFull(br, body[:binary.BigEndian.Uint32(hdr[:])]); err != nil {
					break
				}
				n++
			}
			done <- n
		}()
		b.ResetTimer()
		bw := bufio.NewWriterSize(a, batchBytes)
		var msg [68]byte
		binary.BigEndian.PutUint32(msg[:], 64)
		for range b.N {
			bw.Write(msg[:])
		}
		bw.Flush()
		if n := <-done; n != int64(b.N) {
			b.Fatalf("received %d frames, want %d", n, b.N)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})
}

func BenchmarkWrites1MiB(b *testing.B) {
	const size = 1 << 20
	b.Run("driver", func(b *testing.B) {
		b.SetBytes(size)
		benchDriver(b, int64(b.N)*size, size, chunk1MiB)
	})
	b.Run("netconn", func(b *testing.B) {
		b.SetBytes(size)
		a, c := benchutil.LoopbackPair(b)
		defer a.Close()
		defer c.Close()
		done := make(chan int64)
		go func() {
			n, _ := io.CopyBuffer(io.Discard, io.LimitReader(c, int64(b.N)*size), make([]byte, 64<<10))
			done <- n
		}()
		buf := make([]byte, size)
		b.ResetTimer()
		for range b.N {
			if _, err := a.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if n := <-done; n != int64(b.N)*size {
			b.Fatalf("received %d bytes", n)
		}
	})
}

// idleHandler ignores everything.
type idleHandler struct{}

func (idleHandler) OnData(transport.Conn, []byte) {}
func (idleHandler) OnClose(transport.Conn, error) {}

// BenchmarkIdleConns opens 8,000 TCP connections with both ends on one
// Driver and reports the heap bytes and goroutines each costs. Run it with
// -benchtime=1x: it measures a state, not a rate.
func BenchmarkIdleConns(b *testing.B) {
	const n = 8000
	d, err := driver.New(driver.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(context.Background())
	tr, _ := New(Config{})
	var accepted atomic.Int64
	ln, err := tr.Listen(ma.StringCast("/ip4/127.0.0.1/tcp/0"), d, func(transport.Conn) transport.Handler {
		accepted.Add(1)
		return idleHandler{}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	conns := make([]transport.Conn, 0, n)
	heap0, g0 := heapInUse()
	b.ResetTimer()
	for i := range n {
		c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[i%len(d.Workers())], idleHandler{})
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	for accepted.Load() < n {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	heap1, g1 := heapInUse()
	perConn := float64(heap1-heap0) / n
	b.ReportMetric(perConn, "heapB/conn")
	b.ReportMetric(perConn/2, "heapB/end")
	b.ReportMetric(float64(g1-g0)/n, "goroutines/conn")
	var total int
	for _, s := range d.Stats() {
		total += s.Conns
	}
	if total != 2*n {
		b.Fatalf("driver tracks %d connection ends, want %d", total, 2*n)
	}
	runtime.KeepAlive(conns)
}

func heapInUse() (uint64, int) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, runtime.NumGoroutine()
}

// chanHandler signals each arrival.
type chanHandler chan struct{}

func (h chanHandler) OnData(transport.Conn, []byte) { h <- struct{}{} }
func (h chanHandler) OnClose(transport.Conn, error) {}

// echoHandler writes back what it receives.
type echoHandler struct{}

func (echoHandler) OnData(c transport.Conn, b []byte) { _ = c.Write(b) }
func (echoHandler) OnClose(transport.Conn, error)     {}

// BenchmarkPingPong64B measures a 64-byte round trip through the Driver:
// a goroutine hands the write to the client's worker, the server's worker
// echoes, the client's worker hands the reply back to the goroutine.
func BenchmarkPingPong64B(b *testing.B) {
	got := make(chanHandler, 1)
	p := newPair(b, got, echoHandler{})
	defer p.close()
	msg := make([]byte, 64)
	write := func() { _ = p.send.Write(msg) }
	benchutil.RoundTrips(b, func() {
		_ = p.send.Post(write)
		<-got
	})
}

// pingHandler answers every echo with the next ping from the worker,
// timing each round trip, until it has want of them.
type pingHandler struct {
	msg  []byte
	t0   time.Time
	lat  []time.Duration
	want int
	done chan struct{}
}

func (h *pingHandler) OnData(c transport.Conn, _ []byte) {
	h.lat = append(h.lat, time.Since(h.t0))
	if len(h.lat) == h.want {
		close(h.done)
		return
	}
	h.t0 = time.Now()
	_ = c.Write(h.msg)
}
func (h *pingHandler) OnClose(transport.Conn, error) {}

// BenchmarkPingPong64BHandlers is BenchmarkPingPong64B without goroutines:
// both ends answer from their handlers, so a round trip is two event-loop
// wake-ups and four system calls.
func BenchmarkPingPong64BHandlers(b *testing.B) {
	h := &pingHandler{msg: make([]byte, 64), want: b.N + 100, done: make(chan struct{})}
	p := newPair(b, h, echoHandler{})
	defer p.close()
	b.ResetTimer()
	_ = p.send.Post(func() { h.t0 = time.Now(); _ = p.send.Write(h.msg) })
	<-h.done
	b.StopTimer()
	benchutil.ReportLatencies(b, h.lat[100:])
}
