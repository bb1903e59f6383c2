package udp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/udp"
)

// The benchmarks run on loopback: raw datagrams through the transport,
// and weft endpoints over it.

// dgWindow bounds the packets in flight in BenchmarkDatagrams: well under
// what the 4 MiB socket buffers hold, so that loopback loses none.
const dgWindow = 512

// dgSink counts packets on the listener's worker and acknowledges the
// first, every 64th and the last with the count.
type dgSink struct {
	n, total int
	ack      [8]byte
}

func (s *dgSink) OnData(c transport.Conn, _ []byte) {
	if s.n++; s.n == 1 || s.n%64 == 0 || s.n == s.total {
		binary.BigEndian.PutUint64(s.ack[:], uint64(s.n))
		_ = c.Write(s.ack[:])
	}
}
func (s *dgSink) OnClose(transport.Conn, error) {}

// dgSource sends total packets within dgWindow of the last count, one
// Write each or 64 per Writev. It sends one and waits for its
// acknowledgement first: until the listener has made the connection, what
// a dialer sends waits in the listener's small hand-over queue.
type dgSource struct {
	pkt                []byte
	vec                bool
	sent, acked, total int
	bufs               [][]byte
	done               chan struct{}
}

func (s *dgSource) pump(c transport.Conn) {
	for s.sent < s.total && s.sent < s.acked+dgWindow {
		if !s.vec {
			_ = c.Write(s.pkt)
			s.sent++
			continue
		}
		s.bufs = s.bufs[:0]
		for ; len(s.bufs) < 64 && s.sent < s.total && s.sent < s.acked+dgWindow; s.sent++ {
			s.bufs = append(s.bufs, s.pkt)
		}
		_ = c.Writev(s.bufs)
	}
}

func (s *dgSource) OnData(c transport.Conn, b []byte) {
	if n := int(binary.BigEndian.Uint64(b)); n > s.acked {
		s.acked = n
	}
	if s.acked >= s.total {
		close(s.done)
		s.total = -1
		return
	}
	s.pump(c)
}
func (s *dgSource) OnClose(transport.Conn, error) {}

// BenchmarkDatagrams sends b.N packets from a dialer to a listener on the
// other worker and reports packets per second.
func BenchmarkDatagrams(b *testing.B) {
	for _, size := range []int{64, 1200} {
		for _, vec := range []bool{false, true} {
			name := map[bool]string{false: "/write", true: "/writev64"}[vec]
			b.Run(map[int]string{64: "64B", 1200: "1200B"}[size]+name, func(b *testing.B) { benchDatagrams(b, size, vec) })
		}
	}
}

func benchDatagrams(b *testing.B, size int, vec bool) {
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(context.Background())
	tr, _ := udp.New(udp.Config{})
	sink := &dgSink{total: b.N}
	ln, err := tr.Listen(ma.StringCast("/ip4/127.0.0.1/udp/0"), d, func(c transport.Conn) transport.Handler { return sink })
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	src := &dgSource{pkt: bytes.Repeat([]byte{1}, size), vec: vec, total: b.N, done: make(chan struct{})}
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], src)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(int64(size))
	b.ResetTimer()
	_ = c.Post(func() { _ = c.Write(src.pkt); src.sent++ })
	select {
	case <-src.done:
	case <-time.After(time.Minute):
		b.Fatalf("not all %d packets acknowledged in a minute (stats %+v)", b.N, tr.Stats())
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkEndpoint64B sends b.N 64-byte messages one way through a pair
// of secure endpoints over udp (default 1200-byte datagrams), with the
// transport losing no datagram or 2% of those it sends (both ways).
func BenchmarkEndpoint64B(b *testing.B) {
	for _, dgram := range []int{1200, 8192} {
		for _, loss := range []float64{0, 0.02} {
			name := fmt.Sprintf("dgram%d/loss%g%%", dgram, loss*100)
			b.Run(name, func(b *testing.B) { benchEndpoint(b, udp.Faults{Loss: loss, Seed: 1}, dgram) })
		}
	}
}

func benchEndpoint(b *testing.B, faults udp.Faults, dgram int) {
	d, err := driver.New(driver.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	defer d.Close(ctx)
	tr, _ := udp.New(udp.Config{Faults: faults, MaxDatagramBytes: dgram})
	got, done := 0, make(chan struct{})
	srvCfg := endpoint.Config{Identity: benchKey(b, 1), DatagramPayloadBytes: dgram, Handler: func(*endpoint.Endpoint, []byte) {
		if got++; got == b.N {
			close(done)
		}
	}}
	ln, err := endpoint.Listen(d, tr, ma.StringCast("/ip4/127.0.0.1/udp/0"), srvCfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cli, err := endpoint.Dial(ctx, d, tr, ln.Addr(), endpoint.Config{Identity: benchKey(b, 2), DatagramPayloadBytes: dgram})
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
	msg := make([]byte, 64)
	batch := make([][]byte, 0, 256)
	b.SetBytes(64)
	b.ResetTimer()
	for i := 0; i < b.N; {
		batch = batch[:0]
		for ; i < b.N && len(batch) < cap(batch); i++ {
			batch = append(batch, msg)
		}
		if _, err := cli.SendBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("received fewer than %d messages in a minute (stats %+v)", b.N, cli.Stats())
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	s := cli.Stats()
	b.ReportMetric(float64(s.Retransmits)/float64(b.N), "retx/msg")
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = cli.CloseWait(cctx)
}

func benchKey(b *testing.B, n byte) identity.PrivateKey {
	k, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{n}, 32))
	if err != nil {
		b.Fatal(err)
	}
	return k
}
