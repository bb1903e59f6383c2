package libp2p_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/weftnet/weft/bench"
)

// The benchmarks measure weft endpoints over this transport beside a raw
// go-libp2p stream (bench's libp2p system: bufio and a 4-byte length
// before each message), with the same hosts: TCP on loopback, Noise,
// yamux, no resource limits. Run:
//
//	go test -run X -bench . -count 6 ./transport/libp2p/
//
// and compare each weft line with the libp2p line of its size.

// benchTransport is the name the bench harness registers this transport
// under (bench/transport_libp2p.go: hosts like its libp2p system's, each
// with its node's weft key).
const benchTransport = "libp2p"

// benchVariants are weft over this transport (the endpoint's default
// security: over an authenticated connection, no encryption of its own)
// and the raw libp2p stream with Noise.
var benchVariants = []bench.Variant{
	{System: bench.Weft, Transport: benchTransport, Security: bench.Secure},
	{System: bench.Libp2p, Transport: "tcp", Security: bench.Noise},
}

func BenchmarkThroughput(b *testing.B) {
	for _, size := range []int{64, 1 << 20} {
		for _, v := range benchVariants {
			b.Run(fmt.Sprintf("%s/%s", bench.SizeName(size), v), func(b *testing.B) {
				b.SetBytes(int64(size))
				measure(b, bench.Cell{Scenario: bench.Throughput, Variant: v, Size: size})
			})
		}
	}
}

func BenchmarkPingPong(b *testing.B) {
	for _, v := range benchVariants {
		b.Run(v.String(), func(b *testing.B) {
			s := measure(b, bench.Cell{Scenario: bench.PingPong, Variant: v, Size: 64})
			b.ReportMetric(float64(s.P50.Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(s.P99.Nanoseconds())/1e3, "p99-µs")
		})
	}
}

// measure runs c for b.N messages (round trips) and reports the time of
// the measurement alone, not the set-up, as ns/op.
func measure(b *testing.B, c bench.Cell) bench.Sample {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := bench.Measure(ctx, c, bench.Limits{Count: b.N})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(s.Elapsed.Nanoseconds())/float64(max(s.Msgs, 1)), "ns/op")
	b.ReportMetric(s.MsgsPerSec(), "msgs/s")
	return s
}

// BenchmarkRatio runs the bench harness once per b.N: weft over this
// transport (GOMAXPROCS workers per node, and one) and the raw libp2p
// stream alternate, round after round, in the same run, which a noisy
// machine distorts less than separate benchmarks. It logs the harness's
// table and reports each weft variant's median throughput over the raw
// stream's, per size. Run it alone:
//
//	go test -run X -bench Ratio -benchtime 1x ./transport/libp2p/
func BenchmarkRatio(b *testing.B) {
	cfg := bench.Config{
		Scenarios:     []string{bench.Throughput, bench.PingPong},
		Systems:       []string{bench.Weft, bench.Libp2p},
		Transports:    []string{benchTransport},
		Security:      []string{bench.Secure},
		Workers:       []int{0, 1},
		Sizes:         []int{64, 1 << 20},
		PingPongSizes: []int{64},
		Rounds:        7,
		Duration:      time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for range b.N {
		rep, err := bench.Run(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		var table bytes.Buffer
		_ = rep.WriteTable(&table)
		b.Logf("\n%s", table.String())
		reportRatios(b, rep, cfg.Sizes)
	}
}

// reportRatios reports, per size, the raw libp2p stream's median
// throughput and each weft variant's ratio to it.
func reportRatios(b *testing.B, rep *bench.Report, sizes []int) {
	for _, size := range sizes {
		name := bench.SizeName(size)
		raw := findResult(rep, bench.Libp2p, size, 0)
		if raw == nil || raw.MsgsPerSec == nil {
			b.Fatalf("%s: no result for the raw libp2p stream", name)
		}
		b.ReportMetric(*raw.MsgsPerSec, "libp2p-msgs/s-"+name)
		for _, w := range []int{0, 1} {
			weft := findResult(rep, bench.Weft, size, w)
			if weft == nil || weft.MsgsPerSec == nil {
				b.Fatalf("%s: no result for weft with %d workers", name, w)
			}
			b.ReportMetric(*weft.MsgsPerSec / *raw.MsgsPerSec, fmt.Sprintf("ratio-%s-w%d", name, w))
		}
	}
}

// findResult returns the throughput result of system at size with
// workers (0: GOMAXPROCS).
func findResult(rep *bench.Report, system string, size, workers int) *bench.Result {
	for i, r := range rep.Results {
		if r.Scenario == bench.Throughput && r.System == system && r.Size == size && r.Workers == workers {
			return &rep.Results[i]
		}
	}
	return nil
}
