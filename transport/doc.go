// Package transport defines how weft moves bytes and packets between
// addresses, and nothing more: no peers, no messages, no security.
//
// A Transport dials and listens; each Conn it makes belongs to one worker
// of a driver.Driver, which runs all of the connection's callbacks on its
// event loop. Implementations live in sub-packages: tcp (gnet), mem (an
// in-process network with fault injection). Every implementation passes
// the conformance suite in transport/transporttest.
//
// The loop a caller writes:
//
//	d, _ := driver.New(driver.Config{})
//	defer d.Close(ctx)
//	tr, _ := tcp.New(tcp.Config{})
//	ln, _ := tr.Listen(addr, d, func(c transport.Conn) transport.Handler { return echo{} })
//	c, _ := tr.Dial(ctx, ln.Addr(), d.Pick(), myHandler)
//	c.Post(func() { c.Write([]byte("hello")) }) // Write runs on c's worker
//
// Ownership: a slice passed to Write may be reused once Write returns; a
// slice passed to Handler.OnData is valid only during the call.
//
// Close: Conn.Close flushes what was written, then OnClose runs once on
// the worker (nil error locally, io.EOF when the peer closed, ErrReset
// when the connection died). Listener.Close stops new connections only.
//
// Blocking: Dial blocks (never call it from a worker); everything else
// returns at once.
package transport
