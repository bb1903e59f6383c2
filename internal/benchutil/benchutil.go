package benchutil

import (
	"net"
	"slices"
	"testing"
	"time"
)

// LoopbackPair returns both ends of a TCP connection on 127.0.0.1: the
// plain net.Conn baseline the benchmarks compare against.
func LoopbackPair(tb testing.TB) (net.Conn, net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		ch <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	return a, <-ch
}

// RoundTrips runs rt 100 times to warm up, then b.N times, timing each,
// and reports the p50 and p99 round trip in microseconds.
func RoundTrips(b *testing.B, rt func()) {
	for range 100 {
		rt()
	}
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		rt()
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	ReportLatencies(b, lat)
}

// ReportLatencies reports the p50 and p99 of lat in microseconds. It sorts
// lat.
func ReportLatencies(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}
