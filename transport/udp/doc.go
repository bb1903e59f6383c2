// Package udp is weft's UDP transport, built on gnet v2: every connection
// is a connected UDP socket polled by a driver worker's event loop, with
// no goroutine per connection. Connections are transport.Datagram: each
// Write is one packet, packets may be lost, duplicated or reordered, and
// the endpoint above makes them reliable.
//
// The loop a caller writes:
//
//	tr, _ := udp.New(udp.Config{})
//	ln, _ := tr.Listen(ma.StringCast("/ip4/127.0.0.1/udp/0"), d, accept)
//	c, _ := tr.Dial(ctx, ln.Addr(), d.Pick(), handler)
//	c.Post(func() { c.Write(packet) }) // Write runs on c's worker
//
// Addresses are /ip4|ip6/<ip>/udp/<port>, optionally ending in
// /p2p/<peer-id> (ignored here).
//
// # Listening
//
// A listener is one UDP socket, read by one goroutine. It binds its port
// without SO_REUSEPORT, so it never shares a port with another socket (a
// port in use is an error wrapping EADDRINUSE; port 0 gets a free one),
// and sets the option afterwards for its connections' sockets, which
// share its port. Listening again on the address of a closed listener
// whose connections are still open in this process works: the new
// listener shares the port with them and gets what they do not. When a
// datagram from a new remote address is a valid INITIAL (below), the
// listener makes that address a connection: a new socket bound to the
// same address and port and connected to the remote, enrolled on a worker
// of the driver (Driver.Pick), where the AcceptFunc runs and then gets
// the datagram. From then on Linux delivers that remote's datagrams to
// the connected socket, on its worker's loop: nothing is handed between
// workers. The few that reached the listening socket first are handed to
// the connection through its mailbox (Config.MaxQueued of them at most).
//
// Between its bind and its connect the new socket may get datagrams of
// other addresses: the kernel picks among the port's unconnected sockets,
// and since Linux 6.13 it gives the new one all of those that have no
// connected socket (accept.go tells why). So once connected it gets a
// socket filter that drops every datagram not from its remote, and its
// queue is swept: the remote's datagrams go to the connection, the others
// are routed by the listener as if its own socket had read them. So no
// datagram of one address reaches another's connection, unless the kernel
// chose the new socket for it before the connect and then stalled,
// between the filter and the queue of its receive path, until the sweep
// had ended.
//
// A move (driver.Move) takes the socket off one loop and enrolls a
// duplicate of its descriptor on the other; datagrams wait in the kernel
// meanwhile and nothing is buffered in user space, so nothing is lost.
// Listener.Close closes the listening socket only: accepted connections
// keep theirs.
//
// # The header, and what it protects against
//
// Every datagram carries a one-byte header (internal/udpwire), so
// MaxDatagram (Config.MaxDatagramBytes, default 1200) is the payload:
//
//   - A dialer sends INITIAL datagrams, padded to at least 1200 bytes, until
//     it hears back from the listener. A datagram from an unknown address
//     that is not a valid INITIAL is dropped and counted
//     (Stats.DroppedUnknown) and makes no state.
//   - No amplification: until a remote address is validated, a listener's
//     connection sends it no more bytes than it received from it; what
//     would go beyond is dropped and counted (Stats.DroppedAmplification).
//     Since the first datagram is padded, the first reply is never larger
//     than it, whatever the protocol above sends.
//   - Validation: the listener's connection sends a CHALLENGE carrying a
//     token, HMAC(listener secret, remote address); the dialer echoes it in
//     a RESPONSE. A spoofed source address never sees the token.
//   - Reset: a datagram from an address the listener has no connection for
//     (it was closed, here or by idleness above) draws a RESET carrying the
//     same token, which the listener can recompute without state; the
//     dialer's connection closes with an error wrapping transport.ErrReset.
//     RESETs are rate-limited (Config.ResetsPerSecond) and never larger
//     than the datagram that drew them.
//
// Close sends nothing: the peer learns of it when it sends next (a RESET
// from a listener, an ICMP port-unreachable from a dialer's closed socket,
// which closes the listener's connection with an error wrapping ErrReset
// and io.EOF). The endpoint's own CLOSE is the orderly goodbye.
//
// # Batches
//
// System calls, not the work on the datagrams, bound what a connection
// moves, so both directions batch them. Writev hands all its datagrams to
// the OS in one sendmmsg call and, where the kernel segments UDP (GSO,
// Linux 4.18 and later), each run of equal-size datagrams as one message
// that crosses the stack once (tx.go); if the kernel refuses that, the
// connection sends them one by one from then on. On receipt, after the
// datagram gnet read, the connection reads what waits behind it with
// recvmmsg, up to 256 datagrams per event, so one busy connection does
// not hold up the others of its worker (recv.go). What the handler writes
// while it gets those datagrams (acknowledgements, say) waits until the
// datagrams of that read are handled, then goes out with one sendmmsg;
// otherwise Write sends its datagram at once, with one write.
//
// # Bounds
//
// A listener keeps at most Config.MaxConns connections; INITIALs beyond
// them are dropped and counted. Nothing waits for the socket: a datagram
// the OS does not take when it is handed over is dropped and counted, so
// Buffered is always 0; what waits for the end of a batch (above) is at
// most 512 KiB, beyond which it goes at once.
//
// # Counters and faults
//
// Transport.Stats counts datagrams sent and received and every kind of
// drop. Config.Faults injects loss, duplication and reordering into what
// the connections send, for tests (loopback loses nothing).
//
// ICMP errors are not reported at Dial: a dial to a port where nothing
// listens succeeds, and the connection closes with ErrReset (and io.EOF)
// once an ICMP port-unreachable comes back for a datagram it sent.
package udp
