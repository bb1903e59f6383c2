package endpoint

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/benchutil"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
	"github.com/weftnet/weft/transport/tcp"
)

// The benchmarks run weft endpoints over TCP on loopback beside a plain
// net.Conn with bufio length-prefixed framing, in the same run.

type benchPair struct {
	d        *driver.Driver
	ln       *Listener
	cli, srv *Endpoint
}

func newBenchPair(b *testing.B, insecure bool, handler func(*Endpoint, []byte)) *benchPair {
	b.Helper()
	return newHandlerPair(b, insecure, handler, nil)
}

// newHandlerPair is newBenchPair with a Handler on the dialing side too.
func newHandlerPair(b *testing.B, insecure bool, handler, cliHandler func(*Endpoint, []byte)) *benchPair {
	b.Helper()
	workers, _ := strconv.Atoi(os.Getenv("WEFT_BENCH_WORKERS"))
	d, err := driver.New(driver.Config{Workers: workers, LockOSThread: os.Getenv("WEFT_LOCK") != ""})
	if err != nil {
		b.Fatal(err)
	}
	tr, _ := tcp.New(tcp.Config{})
	srvCfg := Config{Identity: testKey(b, 1), InsecurePlaintext: insecure, Handler: handler}
	ln, err := Listen(d, tr, ma.StringCast("/ip4/127.0.0.1/tcp/0"), srvCfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cli, err := Dial(ctx, d, tr, ln.Addr(), Config{Identity: testKey(b, 2), InsecurePlaintext: insecure, Handler: cliHandler})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := ln.Accept(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if ws := d.Workers(); len(ws) > 1 && srv.Owner() == cli.Owner() {
		other := ws[0]
		if cli.Owner() == other {
			other = ws[1]
		}
		if err := d.Move(ctx, srv, other); err != nil {
			b.Fatal(err)
		}
	}
	return &benchPair{d: d, ln: ln, cli: cli, srv: srv}
}

func (p *benchPair) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.cli.CloseWait(ctx)
	p.ln.Close()
	p.d.Close(ctx)
}

var sizes = []int{64, 1 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkThroughput sends b.N messages one way and waits until the
// receiver has them all.
func BenchmarkThroughput(b *testing.B) {
	for _, size := range sizes {
		for _, mode := range []string{"secure", "plaintext"} {
			b.Run(sizeName(size)+"/weft-"+mode, func(b *testing.B) {
				benchEndpoint(b, size, mode == "plaintext")
			})
		}
		b.Run(sizeName(size)+"/netconn-bufio", func(b *testing.B) { benchBufio(b, size) })
	}
}

func benchEndpoint(b *testing.B, size int, insecure bool) {
	// The handler runs on the receiver's worker only: a plain counter, as
	// in the bufio baseline, published through done.
	got, total := 0, b.N
	done := make(chan struct{})
	p := newBenchPair(b, insecure, func(_ *Endpoint, msg []byte) {
		if got++; got == total {
			close(done)
		}
	})
	defer p.close()
	msg := make([]byte, size)
	batch := make([][]byte, 0, 256)
	b.SetBytes(int64(size))
	b.ResetTimer()
	ctx := context.Background()
	for i := 0; i < b.N; {
		batch = batch[:0]
		for ; i < b.N && len(batch) < cap(batch); i++ {
			batch = append(batch, msg)
		}
		if _, err := p.cli.SendBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("received fewer than %d messages in a minute", b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func benchBufio(b *testing.B, size int) {
	a, c := benchutil.LoopbackPair(b)
	defer a.Close()
	defer c.Close()
	done := make(chan int)
	go func() {
		br := bufio.NewReaderSize(c, 64<<10)
		body := make([]byte, size)
		n := 0
		for n < b.N {
			l, err := binary.ReadUvarint(br)
			if err != nil {
				break
			}
			if _, err := io.ReadFull(br, body[:l]); err != nil {
				break
			}
			n++
		}
		done <- n
	}()
	b.SetBytes(int64(size))
	b.ResetTimer()
	bw := bufio.NewWriterSize(a, 64<<10)
	msg := make([]byte, size)
	var hdr [binary.MaxVarintLen64]byte
	for range b.N {
		bw.Write(hdr[:binary.PutUvarint(hdr[:], uint64(size))])
		bw.Write(msg)
	}
	bw.Flush()
	if n := <-done; n != b.N {
		b.Fatalf("received %d of %d", n, b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPingPong measures the round trip of a 64-byte message echoed by
// the peer's handler, and reports p50 and p99.
func BenchmarkPingPong(b *testing.B) {
	for _, mode := range []string{"secure", "plaintext"} {
		b.Run("weft-"+mode, func(b *testing.B) {
			p := newBenchPair(b, mode == "plaintext", func(ep *Endpoint, msg []byte) { _ = ep.TrySend(msg) })
			defer p.close()
			msg := make([]byte, 64)
			ctx := context.Background()
			benchutil.RoundTrips(b, func() {
				if err := p.cli.Send(ctx, msg); err != nil {
					b.Fatal(err)
				}
				if _, err := p.cli.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	b.Run("weft-secure-handlers", benchPingPongHandlers)
	b.Run("netconn", func(b *testing.B) {
		a, c := benchutil.LoopbackPair(b)
		defer a.Close()
		defer c.Close()
		go func() {
			buf := make([]byte, 64)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, 64)
		benchutil.RoundTrips(b, func() {
			a.Write(buf)
			io.ReadFull(a, buf)
		})
	})
}

// benchPingPongHandlers is the round trip as an event-driven program sees
// it: both sides answer from their Handler, on their worker, so no
// goroutine hand-off is involved, only the two event loops' wake-ups.
func benchPingPongHandlers(b *testing.B) {
	var (
		lat  = make([]time.Duration, 0, b.N+100)
		t0   time.Time
		done = make(chan struct{})
		want = b.N + 100 // 100 to warm up, like RoundTrips
	)
	msg := make([]byte, 64)
	p := newHandlerPair(b, false, func(ep *Endpoint, msg []byte) { _ = ep.TrySend(msg) }, func(ep *Endpoint, _ []byte) {
		lat = append(lat, time.Since(t0))
		if len(lat) == want {
			close(done)
			return
		}
		t0 = time.Now()
		_ = ep.TrySend(msg)
	})
	defer p.close()
	b.ResetTimer()
	if err := p.cli.mb.Post(func() { t0 = time.Now(); _ = p.cli.TrySend(msg) }); err != nil {
		b.Fatal(err)
	}
	<-done
	b.StopTimer()
	benchutil.ReportLatencies(b, lat[100:])
}

// BenchmarkDatagramLossy measures what one endpoint moves over a mem
// datagram link with 100µs ±50µs of one-way latency: with jitter alone
// (which reorders packets sent back to back), with 5% loss, and with the
// lossy suite's link (5% loss, 5% duplicates, 5% held back by up to
// 1.15ms). 1000-byte messages, Send + Recv.
func BenchmarkDatagramLossy(b *testing.B) {
	lat := mem.LinkConfig{Latency: 100 * time.Microsecond, Jitter: 50 * time.Microsecond}
	loss, suite := lat, lat
	loss.Loss = 0.05
	suite.Loss, suite.Duplicate, suite.Reorder = 0.05, 0.05, 0.05
	for _, c := range []struct {
		name string
		link mem.LinkConfig
	}{{"jitter", lat}, {"loss5", loss}, {"suite", suite}} {
		b.Run(c.name, func(b *testing.B) { benchDatagramLink(b, c.link) })
	}
}

func benchDatagramLink(b *testing.B, link mem.LinkConfig) {
	nw, err := mem.NewNetwork(mem.Config{Seed: 1, Link: link})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = nw.Close() })
	ep, srv, ctx := testPair(b, nw.Transport(transport.Datagram), ma.StringCast("/memory/0"), 5*time.Minute)
	msg := make([]byte, 1000)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	go func() {
		for range b.N {
			if ep.Send(ctx, msg) != nil {
				return
			}
		}
	}()
	for i := range b.N {
		if _, err := srv.Recv(ctx); err != nil {
			b.Fatalf("Recv %d: %v", i, err)
		}
	}
	b.StopTimer()
	st := ep.Stats()
	b.ReportMetric(float64(st.Retransmits)/float64(b.N), "retx/msg")
	_ = ep.CloseWait(ctx)
}
