package mem

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/transport"
)

// counter counts received bytes and signals when it has want.
type counter struct {
	got  atomic.Int64
	want int64
	done chan struct{}
}

func (k *counter) OnData(c transport.Conn, b []byte) {
	if k.got.Add(int64(len(b))) == k.want {
		close(k.done)
	}
}
func (k *counter) OnClose(transport.Conn, error) {}

// pumper writes msgs messages of the same bytes, 1024 per task, backing
// off while Buffered() > 0.
type pumper struct {
	c    transport.Conn
	msg  []byte
	left int
}

func (p *pumper) pump() {
	for k := 0; k < 1024 && p.left > 0 && p.c.Buffered() == 0; k++ {
		if p.c.Write(p.msg) != nil {
			return
		}
		p.left--
	}
	if p.left > 0 && p.c.Buffered() == 0 {
		_ = p.c.Post(p.pump)
	}
}
func (p *pumper) OnData(transport.Conn, []byte) {}
func (p *pumper) OnClose(transport.Conn, error) {}
func (p *pumper) OnWritable(c transport.Conn)   { p.pump() }

func benchmarkWrites(b *testing.B, kind transport.Kind, size int) {
	d := newDriver(b, 2)
	n := newNet(b, Config{})
	tr := n.Transport(kind)
	k := &counter{want: int64(b.N * size), done: make(chan struct{})}
	ln, err := tr.Listen(any0, d, func(c transport.Conn) transport.Handler { return k })
	check.NoError(b, err)
	p := &pumper{msg: make([]byte, size), left: b.N}
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], p)
	check.NoError(b, err)
	p.c = c
	b.SetBytes(int64(size))
	b.ResetTimer()
	check.NoError(b, c.Post(p.pump))
	if kind == transport.Stream {
		<-k.done
	} else { // datagrams that overflow the receiver are dropped
		for k.got.Load()/int64(size)+int64(n.Stats().Overflow) < int64(b.N) {
			time.Sleep(50 * time.Microsecond)
		}
		b.ReportMetric(float64(n.Stats().Overflow)/float64(b.N), "dropped/op")
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkStream64B: 64-byte writes from one worker, received on
// another (or the same: Pick may choose it).
func BenchmarkStream64B(b *testing.B) { benchmarkWrites(b, transport.Stream, 64) }

// BenchmarkDatagram64B: 64-byte datagrams on a perfect link. A datagram
// sender has no backpressure: what overflows the receiver's buffer is
// dropped and reported as dropped/op.
func BenchmarkDatagram64B(b *testing.B) { benchmarkWrites(b, transport.Datagram, 64) }
