// Package bench is weft's benchmark harness: it measures weft endpoints
// beside the systems a user would otherwise pick, in the same run, so that
// every figure is a ratio to something real.
//
// The systems are weft (endpoints over any registered transport: tcp, udp,
// quic, libp2p and mem, and whatever RegisterTransport adds) and its
// peers: raw-tcp (a net.Conn with bufio, the practical limit), gnet (a
// gnet v2 server), quic-go (one stream per connection) and libp2p (a
// go-libp2p host pair with TCP, Noise and yamux). The peers share one
// framing, a 4-byte length before each message. The scenarios are plain
// Go:
//
//   - throughput: one connection, one way; messages and bytes per second
//   - pingpong: one message in flight; round-trip percentiles from an HDR
//     histogram
//   - fanout: one sender, several receiving connections
//   - manyconns: many connections sending at once; the total rate and the
//     heap and goroutines per connection
//
// A Config is the matrix: systems × weft's transports, security, workers
// and compression × message sizes. Run measures each scenario and size
// with its variants alternating (A B A B …) over several rounds after a
// warm-up, and the Report gives the median and range per cell as a table,
// JSON, Go benchmark lines for benchstat, or a plot:
//
//	rep, err := bench.Run(ctx, bench.Quick())
//	if err != nil { … }
//	rep.WriteTable(os.Stdout)
//
// With Config.Split the receivers run in a child process (ServeChild), so
// that sender and receiver do not share a Go scheduler. Everything runs on
// loopback. `weft bench` is the command-line front end; Measure runs one
// cell from a go test benchmark (see bench_test.go).
package bench
