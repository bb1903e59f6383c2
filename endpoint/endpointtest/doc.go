// Package endpointtest is the conformance suite for endpoints: every
// transport runs it to show that endpoint.Endpoint keeps its promises over
// it — exactly once and in order across killed connections, backpressure,
// bad input from the network, moves between workers under load, graceful
// close with an honest report of what was not delivered, compression,
// plaintext mode and message size limits.
//
// A transport's test file wires it up:
//
//	func TestEndpointSuiteTCP(t *testing.T) {
//		endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
//			tr, _ := tcp.New(tcp.Config{})
//			return endpointtest.Case{
//				Name:       "tcp",
//				Transport:  tr,
//				ListenAddr: func() ma.Multiaddr { return ma.StringCast("/ip4/127.0.0.1/tcp/0") },
//			}
//		})
//	}
//
// Every subtest gets a fresh Case, its own drivers, and tears them down,
// checking for leaked goroutines. Every wait is bounded and fails with a
// message that says what did not happen. Nothing sleeps to synchronise:
// the suite waits on channels, or polls a condition with a deadline.
//
// To kill "the connection under an endpoint" without reaching into the
// endpoint, the suite wraps Case.Transport in a recorder that remembers
// every connection it dials and accepts, and kills the most recent live
// one with Case.Kill.
//
// The headline subtest, ExactlyOnceInOrderWithKills, sends 1,000,000
// messages each way (Case.Messages), 20,000 under -short or the race
// detector (Case.ShortMessages).
//
// Environment variables:
//
//	WEFT_ENDPOINTTEST_N=<n>         messages each way in the headline test
//	WEFT_ENDPOINTTEST_DEBUG=1       endpoints log their diagnostics to stderr
//	WEFT_ENDPOINTTEST_BLOCKED=run   run the subtests that known bugs block
//
// Subtests that a known, unfixed bug breaks are listed in blocked (in
// endpointtest.go) with the bug, and skipped with it as the reason.
package endpointtest
