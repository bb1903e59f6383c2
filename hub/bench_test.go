package hub_test

import (
	"context"
	"testing"
	"time"

	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/hub/hubbench"
)

// The remote member of BenchmarkLanesSplit is this binary, re-executed:
// it serves from here, before TestMain (which is in the internal test
// package, which cannot import hubbench).
func init() { hubbench.ServeRemoteIfAsked() }

func startBench(b *testing.B, members int) *hubbench.Cluster {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := hubbench.Start(ctx, hubbench.Config{Members: members})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

func reportLatency(b *testing.B, l hubbench.Latencies, prefix string) {
	b.ReportMetric(float64(l.P50.Nanoseconds())/1e3, prefix+"p50-µs")
	b.ReportMetric(float64(l.P99.Nanoseconds())/1e3, prefix+"p99-µs")
}

// BenchmarkLanes measures 64 B Control-lane request round trips between
// two hubs over loopback TCP, idle and then while a stream of 256 KiB Bulk
// messages saturates the same pair, and reports the ratio of the p99s
// (the hub's target: at most 5). bulk-MB/s is the stream's rate and
// bulk-cpu-% the process's CPU use meanwhile (100 per core): both hubs
// share this process, so a run where another process took a core shows a
// low bulk-cpu-% and latencies that say more about the machine than the
// hub.
func BenchmarkLanes(b *testing.B) {
	benchLanes(b, startBench(b, 2))
}

// BenchmarkLanesSplit is BenchmarkLanes with the second hub in a child
// process (this test binary, re-executed), as two nodes on one machine
// run: each has its own Go scheduler and they share only the cores.
// bulk-cpu-% then counts both processes.
func BenchmarkLanesSplit(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := hubbench.StartSplit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	benchLanes(b, c)
}

func benchLanes(b *testing.B, c *hubbench.Cluster) {
	ctx := context.Background()
	n := max(b.N, 2000)
	b.ResetTimer()
	idle, err := hubbench.RequestLatency(ctx, c, 64, n, 0)
	if err != nil {
		b.Fatal(err)
	}
	loaded, err := hubbench.RequestLatency(ctx, c, 64, n, 256<<10)
	if err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportLatency(b, idle, "idle-")
	reportLatency(b, loaded, "bulk-")
	b.ReportMetric(float64(loaded.P99)/float64(idle.P99), "p99-ratio")
	b.ReportMetric(loaded.Bulk.BytesPerSec()/1e6, "bulk-MB/s")
	if loaded.CPU > 0 {
		b.ReportMetric(100*loaded.CPU.Seconds()/loaded.Elapsed.Seconds(), "bulk-cpu-%")
	}
}

// BenchmarkBroadcast64B: node 0 broadcasts 64 B messages to 4 members.
func BenchmarkBroadcast64B(b *testing.B) {
	c := startBench(b, 5)
	b.ResetTimer()
	r, err := hubbench.BroadcastRate(context.Background(), c, hub.Control, 64, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.MsgsPerSec(), "deliveries/s")
}

// BenchmarkQuorum3of4: node 0 asks its 4 members and waits for 3 replies.
func BenchmarkQuorum3of4(b *testing.B) {
	c := startBench(b, 5)
	b.ResetTimer()
	l, err := hubbench.QuorumLatency(context.Background(), c, 64, 3, b.N)
	if err != nil {
		b.Fatal(err)
	}
	reportLatency(b, l, "")
}
