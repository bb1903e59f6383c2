// Package benchutil holds what weft's benchmarks share: the loopback
// net.Conn baseline every figure is compared with, and round-trip latency
// reporting (p50 and p99 as benchmark metrics).
package benchutil
