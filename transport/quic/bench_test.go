package quic_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	quicgo "github.com/quic-go/quic-go"

	"github.com/weftnet/weft/bench"
	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/transport/quic"
)

// BenchmarkThroughput sends b.N messages one way over QUIC on loopback:
// weft endpoints over this transport, and beside them, in the same run,
// a raw quic-go stream with bufio and uvarint length framing, the
// baseline the issue asks for (weft at least 0.9 times it for 64 B).
//
//	go test -run XXX -bench Throughput -count 5 ./transport/quic/
func BenchmarkThroughput(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 64 << 10} {
		name := strconv.Itoa(size) + "B"
		b.Run(name+"/weft", func(b *testing.B) { benchEndpoint(b, size) })
		b.Run(name+"/quic-go-bufio", func(b *testing.B) { benchRaw(b, size) })
	}
}

// benchEndpoint runs an endpoint pair over a QUIC transport whose
// identity is the endpoints' own (the usual deployment: no identity proof
// beyond TLS), the receiver counting with a Handler.
func benchEndpoint(b *testing.B, size int) {
	workers, _ := strconv.Atoi(os.Getenv("WEFT_BENCH_WORKERS"))
	d, err := driver.New(driver.Config{Workers: workers})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	defer d.Close(ctx)
	srvKey, cliKey := testKey(b, 1), testKey(b, 2)
	srvTr, _ := quic.New(quic.Config{Identity: srvKey})
	cliTr, _ := quic.New(quic.Config{Identity: cliKey})
	var got atomic.Int64
	done := make(chan struct{})
	total := int64(b.N)
	ln, err := endpoint.Listen(d, srvTr, ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"), endpoint.Config{
		Identity: srvKey,
		Handler: func(*endpoint.Endpoint, []byte) {
			if got.Add(1) == total {
				close(done)
			}
		},
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cli, err := endpoint.Dial(ctx, d, cliTr, ln.Addr(), endpoint.Config{Identity: cliKey})
	if err != nil {
		b.Fatal(err)
	}
	defer cli.CloseWait(ctx)
	srv, err := ln.Accept(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// Sender and receiver on different workers, as in endpoint's benchmarks.
	if ws := d.Workers(); len(ws) > 1 && srv.Owner() == cli.Owner() {
		other := ws[0]
		if cli.Owner() == other {
			other = ws[1]
		}
		if err := d.Move(ctx, srv, other); err != nil {
			b.Fatal(err)
		}
	}
	msg := make([]byte, size)
	batch := make([][]byte, 0, 256)
	b.SetBytes(int64(size))
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
	case <-ctx.Done():
		b.Fatalf("received %d of %d", got.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchRaw is the baseline: quic-go's own API, the same flow-control
// windows as the transport's defaults, one stream, bufio both ends.
func benchRaw(b *testing.B, size int) {
	srv, cli := rawPair(b)
	defer srv.CloseWithError(0, "")
	defer cli.CloseWithError(0, "")
	out, err := cli.OpenStream()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := out.Write([]byte{0}); err != nil { // announce the stream
		b.Fatal(err)
	}
	in, err := srv.AcceptStream(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan int)
	go func() {
		br := bufio.NewReaderSize(in, 64<<10)
		_, _ = br.ReadByte()
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
	bw := bufio.NewWriterSize(out, 64<<10)
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

// rawPair returns both ends of a quic-go connection on loopback, with
// certificates of the kind the transport uses.
func rawPair(b *testing.B) (srv, cli *quicgo.Conn) {
	b.Helper()
	tlsConf := func(n byte) *tls.Config {
		cert, err := handshake.NewCertificate(testKey(b, n), nil)
		if err != nil {
			b.Fatal(err)
		}
		return &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
			InsecureSkipVerify: true, NextProtos: []string{"bench"}}
	}
	qconf := &quicgo.Config{MaxStreamReceiveWindow: quic.DefaultStreamWindowBytes, MaxConnectionReceiveWindow: quic.DefaultStreamWindowBytes * 3 / 2}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { udp.Close() })
	tr := &quicgo.Transport{Conn: udp}
	b.Cleanup(func() { tr.Close() })
	ln, err := tr.Listen(tlsConf(1), qconf)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	accepted := make(chan *quicgo.Conn, 1)
	go func() {
		c, _ := ln.Accept(ctx)
		accepted <- c
	}()
	cli, err = quicgo.DialAddr(ctx, udp.LocalAddr().String(), tlsConf(2), qconf)
	if err != nil {
		b.Fatal(err)
	}
	return <-accepted, cli
}

// BenchmarkCell measures cells of the bench harness (weft bench) in this
// process, weft over this transport beside raw quic-go, b.N messages (or
// round trips) each: a way to profile the cells the report compares.
// ns/op is per message, cpu-ns/op the process's CPU time per message
// (set-up included; it varies less than rates on a shared machine);
// ping-pong also reports its p50 and p99.
//
//	go test -run X -bench Cell -benchtime 20000x -count 5 ./transport/quic/
func BenchmarkCell(b *testing.B) {
	variants := []bench.Variant{
		{System: bench.Weft, Transport: "quic", Security: bench.Secure},
		{System: bench.QUICGo, Transport: "quic", Security: bench.TLS},
	}
	cells := []struct {
		scenario string
		size     int
	}{{bench.PingPong, 64}, {bench.Throughput, 64}, {bench.Throughput, 1 << 20}}
	for _, c := range cells {
		for _, v := range variants {
			name := c.scenario + "-" + bench.SizeName(c.size) + "/" + strings.ReplaceAll(v.String(), " ", "-")
			b.Run(name, func(b *testing.B) { benchCell(b, bench.Cell{Scenario: c.scenario, Variant: v, Size: c.size}) })
		}
	}
}

func benchCell(b *testing.B, cell bench.Cell) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cpu0 := cpuTime()
	s, err := bench.Measure(ctx, cell, bench.Limits{Count: b.N})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(max(s.Msgs, 1)), "cpu-ns/op")
	b.ReportMetric(float64(s.Elapsed.Nanoseconds())/float64(max(s.Msgs, 1)), "ns/op")
	if cell.Scenario == bench.PingPong {
		b.ReportMetric(float64(s.P50.Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(s.P99.Nanoseconds())/1e3, "p99-µs")
	} else {
		b.ReportMetric(float64(s.Msgs)*float64(cell.Size)/s.Elapsed.Seconds()/1e6, "MB/s")
	}
}
