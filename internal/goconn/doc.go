// Package goconn runs a transport.Conn over a blocking stream: the part
// that transport/quic (quic-go streams) and transport/libp2p (go-libp2p
// streams) share. Such a stream can only be read and written by
// goroutines that may block, while a weft connection's handler runs on
// its driver worker, which must never block. A Conn bridges the two:
//
//	Write (worker)   ─ copy into the outbox (pooled chunks, each byte
//	                   copied once) and start the writer if it idles; or,
//	                   for a small write with nothing queued before it, to
//	                   a TryWriter at once
//	writer goroutine ─ take the whole outbox, one Stream.Write per chunk;
//	                   after Close: flush, Stream.Fin, then OnClose(nil)
//	reader goroutine ─ Stream.Read into a buffer, hand the buffer itself
//	                   to the inbox (waiting while it holds
//	                   RecvBufferBytes), post one drain per burst
//	drain (worker)   ─ OnData per buffer, then OnClose if the stream ended
//
// The worker is reached through a driver.Mailbox, which follows the
// connection across moves: a move freezes and thaws it and needs nothing
// else. Backpressure: Buffered counts what the stream has not taken beyond
// SendBufferBytes, and OnWritable runs once it is back to 0; a reader
// stops reading while the inbox is full, and the stream's own flow
// control holds the peer back. An idle connection keeps no writer
// goroutine and no outbox or inbox buffer (they go back to pools).
//
// A transport's connection embeds a Conn, calls Init with a Stream (its
// stream and close protocol: what Close, a failed write, the end of the
// reading and a reset do to it), and runs ReadLoop on a goroutine:
//
//	type conn struct {
//		goconn.Conn
//		st *quicgo.Stream
//		// addresses, peers...
//	}
//
//	c := &conn{st: st}
//	err := c.Init(goconn.Config{Name: "quic", Self: c, Stream: stream{st, c},
//		Worker: w, SendBufferBytes: 1 << 20, RecvBufferBytes: 1 << 20})
//	c.SetHandler(h) // a dialer; an accepted conn runs Accept on its worker
//	w.Track(c)
//	go c.ReadLoop()
//
// The Conn provides Write, Writev, Buffered, Post, Close, Owner, Load,
// Detach and Attach of transport.Conn; the transport adds LocalAddr,
// RemoteAddr and String, and a reset of its own that calls Kill.
package goconn
