package raft

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkCommit: five replicas over loopback TCP; clients propose 8-byte
// entries at the leader, 1 or 64 at a time. Reports commits/s and the
// Propose latency (proposal to applied on the leader).
func BenchmarkCommit(b *testing.B) {
	for _, inflight := range []int{1, 64} {
		b.Run(map[int]string{1: "inflight-1", 64: "inflight-64"}[inflight], func(b *testing.B) {
			benchCommit(b, "tcp", inflight)
		})
	}
}

func benchCommit(b *testing.B, net string, inflight int) {
	g := newGroup(b, net, 5)
	lead := g.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lat := make([][]time.Duration, inflight)
	per := (b.N + inflight - 1) / inflight
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				t0 := time.Now()
				if _, err := lead.n.Propose(ctx, seqData(uint64(c*per+i))); err != nil {
					b.Error(err)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "commits/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}
