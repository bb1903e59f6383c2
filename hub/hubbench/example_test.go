package hubbench_test

import (
	"context"
	"fmt"
	"time"

	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/hub/hubbench"
)

// A mesh of three hubs in memory: broadcast throughput and quorum-call
// latency (the figures vary; the example prints what does not).
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := hubbench.Start(ctx, hubbench.Config{Members: 3, Network: "mem"})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	rate, err := hubbench.BroadcastRate(ctx, c, hub.Control, 64, 1000)
	fmt.Println(rate.Msgs, "deliveries;", err)
	lat, err := hubbench.QuorumLatency(ctx, c, 64, 2, 100)
	fmt.Println(lat.N, "quorum calls; p50 ≤ p99:", lat.P50 <= lat.P99, err)
	// Output:
	// 2000 deliveries; <nil>
	// 100 quorum calls; p50 ≤ p99: true <nil>
}
