// Package transporttest is the conformance suite every weft transport runs.
// It checks a transport.Transport against the contract written in package
// transport: connecting, echo, large transfers with backpressure, a
// thousand connections, close seen by both sides, failing dials, listener
// close, moving connections between workers while they stream, and no
// goroutine left behind.
//
// A transport's test file calls Run with a function that builds a fresh
// Case for each subtest:
//
//	func TestConformance(t *testing.T) {
//		transporttest.Run(t, func(t *testing.T) transporttest.Case {
//			n, err := mem.NewNetwork(mem.Config{Seed: 1})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { _ = n.Close() })
//			return transporttest.Case{
//				Name:       "mem",
//				Transport:  n.Transport(transport.Stream),
//				ListenAddr: func() ma.Multiaddr { return ma.StringCast("/memory/0") },
//				ClosedAddr: func() ma.Multiaddr { return ma.StringCast("/memory/18446744073709551615") },
//			}
//		})
//	}
//
// Every subtest starts its own driver.Driver, bounds every wait (a stuck
// transport fails with a message naming what it waited for, never hangs),
// and ends by closing its listeners and the driver and checking with
// goleak that no goroutine started since newCase returned is left.
// Goroutines newCase itself starts are exempt; a t.Cleanup registered in
// newCase runs after that check. Handler callbacks, AcceptFuncs and
// posted tasks are checked to run on the connection's owner worker; run
// the suite with -race as well, which also catches callbacks of one
// connection running concurrently on two workers.
//
// Stream transports run Connect, Echo, Transfer256MiB, ManyConns,
// CloseSeenByBothSides, DialClosedFailsPromptly, ListenerCloseEndsAccepts,
// MoveWhileStreaming and NoGoroutineLeak. Datagram transports run Connect,
// Echo, TooLarge, Transfer, ManyConns, Close, DialClosedFailsPromptly,
// ListenerCloseEndsAccepts and NoGoroutineLeak; the subtests of the other
// kind are skipped. Datagram subtests other than Transfer assume the
// Case's link loses no packets (mem's default); Transfer copes with loss,
// duplication and reordering. Under -short or the race detector the big
// transfers shrink (256 MiB to 16 MiB).
package transporttest
