package hubbench_test

import (
	"context"
	"testing"
	"time"

	"github.com/weftnet/weft/hub/hubbench"
)

// RequestLatency accounts for what it measured: the calls, their wall
// time, and (with a Bulk stream) what the stream delivered.
func TestRequestLatencyReportsTheBulkStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := hubbench.Start(ctx, hubbench.Config{Members: 2}) // loopback TCP
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	checkRequestLatency(ctx, t, c)
}

// The same with member 1 in a child process: the stream's deliveries are
// counted there and reach the report.
func TestSplitReportsTheRemoteMember(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := hubbench.StartSplit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(c.Hubs) != 1 {
		t.Fatalf("a split cluster holds %d hubs here, want 1", len(c.Hubs))
	}
	checkRequestLatency(ctx, t, c)
}

func checkRequestLatency(ctx context.Context, t *testing.T, c *hubbench.Cluster) {
	t.Helper()

	idle, err := hubbench.RequestLatency(ctx, c, 64, 20, 0)
	if err != nil {
		t.Fatal(err)
	}
	if idle.N != 20 || idle.Elapsed <= 0 || idle.P50 > idle.P99 || idle.P99 > idle.Max {
		t.Fatalf("idle: %+v", idle)
	}
	if idle.Bulk != (hubbench.Rate{}) {
		t.Fatalf("idle: no stream, yet Bulk is %+v", idle.Bulk)
	}

	const size = 64 << 10
	loaded, err := hubbench.RequestLatency(ctx, c, 64, 20, size)
	if err != nil {
		t.Fatal(err)
	}
	b := loaded.Bulk
	switch {
	case loaded.N != 20:
		t.Fatalf("loaded: %d calls timed, want 20", loaded.N)
	case b.Msgs == 0:
		t.Fatalf("loaded: the stream delivered nothing in %v (it starts 100 ms before the calls)", b.Elapsed)
	case b.Bytes != b.Msgs*size:
		t.Fatalf("loaded: %d bytes in %d messages of %d", b.Bytes, b.Msgs, size)
	case b.Elapsed < loaded.Elapsed+100*time.Millisecond:
		t.Fatalf("loaded: the stream's %v does not cover its head start and the calls' %v", b.Elapsed, loaded.Elapsed)
	case b.BytesPerSec() != float64(b.Bytes)/b.Elapsed.Seconds():
		t.Fatalf("loaded: BytesPerSec %v", b.BytesPerSec())
	}
}
