// Package mem is an in-process network for tests and simulations: stream
// and datagram transports between /memory/<id> addresses, with seeded
// fault injection. Every weft layer above transport is tested on it, from
// endpoint tests that kill connections and lose packets to multi-node
// simulations.
//
// The loop a caller writes:
//
//	n, _ := mem.NewNetwork(mem.Config{Seed: 1})
//	defer n.Close()
//	tr := n.Transport(transport.Stream)
//	ln, _ := tr.Listen(ma.StringCast("/memory/0"), d, accept) // Addr() is /memory/<fresh id>
//	c, _ := tr.Dial(ctx, ln.Addr(), d.Pick(), handler)
//	c.Post(func() { c.Write([]byte("hello")) })
//
// # Addresses and hosts
//
// An address is /memory/<uint64>; listening on /memory/0 takes a free id.
// Stream and datagram listeners share one namespace: an id is held by one
// listener at a time, and a dial to an id without a listener of the same
// kind fails at once with a *transport.DialError wrapping
// transport.ErrRefused. A dialer gets a fresh local address of its own.
//
// Network.Transport makes every address its own host. A Host groups the
// addresses its transports listen on and dial from into one machine, so
// that Partition(a, b) cuts everything between two nodes, whichever of
// them dialled.
//
// # Fault model
//
// Each direction of a link between two hosts has a LinkConfig (the
// Config.Link default, or SetLink's override):
//
//   - Latency and Jitter delay each write or packet. A stream never
//     reorders: a write is due no earlier than the one before it.
//   - Loss, Duplicate and Reorder apply to datagrams only; a stream is
//     reliable and ordered for as long as it lives.
//   - BandwidthBytesPerSec serialises the direction: n bytes occupy it
//     for n/bandwidth seconds, after what was sent before.
//   - Partition(a, b) drops datagrams between a and b, resets their
//     stream connections (ErrReset on both sides) and refuses new dials
//     between them (ErrRefused, at once) until Heal or HealAll.
//   - Kill(c) and KillConns(a, b) reset connections abruptly: both
//     handlers' OnClose see ErrReset, and bytes in flight are lost.
//
// Backpressure: a stream sender's Buffered() counts the bytes in flight
// (written, not yet handed to the peer's handler) beyond
// LinkConfig.SendBuffer, as a kernel socket buffer would; a
// transport.WritableHandler hears OnWritable when it is back to 0. A
// datagram receiver holds at most Config.RecvBuffer bytes of undelivered
// packets and drops the rest.
//
// Close: Conn.Close is a flush; its peer receives everything written
// before it, then OnClose with io.EOF. A datagram association reports
// its close to the peer the same way (unlike UDP). Listener.Close stops
// accepts; accepted connections live on.
//
// # Determinism
//
// Every decision is drawn from a PCG generator per link direction, seeded
// from Config.Seed and the two hosts' ids, never from the clock or map
// order. Ids are handed out in order, so the same seed, the same sequence
// of listens and dials and the same sequence of writes on each link give
// the same decisions: Config.Trace sees identical Events (all fields but
// At, which includes bandwidth queueing measured on the wall clock). The
// time at which a delivery happens still follows the wall clock.
//
// # Delivery
//
// No goroutine per connection or per message: one scheduler goroutine per
// Network keeps a heap of delayed deliveries ordered by due time, then by
// scheduling order. An undelayed write is appended to the receiver's
// inbox by the writer itself. The inbox is drained by one task on the
// receiver's driver.Mailbox, so data reaches the handler on the
// connection's current worker, in order, even while Driver.Move carries
// it to another; writes that arrive while a drain is pending join it, and
// a stream handler may see many writes in one OnData.
package mem
