// Package hubbench measures hubs: a full mesh of hubs in one process (on
// loopback TCP or a mem network) and the figures `weft bench` and the
// hub's benchmarks report — broadcast throughput, quorum-call latency,
// and Control-lane request latency with and without a saturating Bulk
// stream on the same pair. StartSplit runs the second of two members in
// a child process instead (the binary re-executed; it must call
// ServeRemoteIfAsked first), as two nodes on one machine would run.
//
// The loop a caller writes:
//
//	c, err := hubbench.Start(ctx, hubbench.Config{Members: 5})
//	if err != nil { ... }
//	defer c.Close()
//	rate, _ := hubbench.BroadcastRate(ctx, c, hub.Control, 64, 100_000)
//	lat, _ := hubbench.QuorumLatency(ctx, c, 64, 3, 10_000)
//	fmt.Println(rate.MsgsPerSec(), lat.P50, lat.P99)
package hubbench
