// Package driver runs weft's event loops: a Driver is a pool of workers,
// and a worker is one gnet v2 event loop on its own goroutine (pinned to an
// OS thread with Config.LockOSThread; off by default because pinning makes
// every wake-up of the loop cost two thread hand-offs, see Config).
//
// Every connection (and every endpoint built on one) belongs to exactly one
// worker at a time, and all of its processing (framing, acknowledgements,
// retransmission, timers) runs there, one callback at a time, without
// locks. Other goroutines hand work over with Worker.Execute, or with a
// Mailbox, which follows its owner when the owner moves.
//
// Each worker has a timer wheel (gnet's Schedule is unsupported); one
// clock goroutine per driver wakes a worker when its next timer is due.
//
// Beside its workers a Driver has one urgent worker (Driver.Urgent) for
// latency-critical connections (a hub's Control lane): Pick and Rebalance
// never use it, and while the other workers keep every CPU busy they hand
// their CPU to it whenever it has I/O waiting.
//
// Work moves between workers without loss: Driver.Move takes a Movable (a
// connection, an endpoint) off one worker and attaches it to another while
// traffic flows; Rebalance moves the busiest ones off the busiest workers.
//
// The loop a caller writes:
//
//	d, err := driver.New(driver.Config{}) // GOMAXPROCS workers
//	if err != nil { ... }
//	defer d.Close(ctx)
//	w := d.Pick()
//	w.Execute(func() {
//		// runs on w's event loop
//		w.AfterFunc(time.Second, func() { /* later, on w */ })
//	})
//	for _, s := range d.Stats() { fmt.Println(s.ID, s.Conns, s.BytesRead) }
package driver
