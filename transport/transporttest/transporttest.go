package transporttest

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport"
)

// Case describes the transport under test.
type Case struct {
	// Name names the transport in log lines.
	Name string
	// Transport is the transport under test, fresh for each subtest.
	Transport transport.Transport
	// ListenAddr returns an address to listen on (e.g.
	// /ip4/127.0.0.1/tcp/0 or /memory/0). It is called once per listener.
	ListenAddr func() ma.Multiaddr
	// ClosedAddr returns an address of this transport where nothing
	// listens: dials to it must fail promptly with ErrRefused (for a
	// Datagram transport only if DatagramDialRefuses).
	ClosedAddr func() ma.Multiaddr
	// Workers is the number of workers of the driver each subtest creates.
	// Default 2; MoveWhileStreaming uses at least 2.
	Workers int
	// DatagramDialRefuses says that a Datagram transport learns at dial
	// time that nothing listens (mem does; udp cannot), so the suite
	// checks that such a dial fails with ErrRefused. Stream transports
	// must always refuse.
	DatagramDialRefuses bool
}

// subtest is one conformance test; stream and datagram are its variants
// for each kind of transport (nil: not run for that kind).
type subtest struct {
	name       string
	minWorkers int
	stream     func(e *env)
	datagram   func(e *env)
}

// subtests is the suite, in the order Run runs it. Names are stable: CI
// and transports' skip lists refer to them.
var subtests = []subtest{
	{name: "Connect", stream: testConnect, datagram: testConnect},
	{name: "Echo", stream: testStreamEcho, datagram: testDatagramEcho},
	{name: "TooLarge", datagram: testTooLarge},
	{name: "Transfer256MiB", stream: testStreamTransfer},
	{name: "Transfer", datagram: testDatagramTransfer},
	{name: "ManyConns", stream: testManyConns, datagram: testManyConns},
	{name: "CloseSeenByBothSides", stream: testStreamClose},
	{name: "Close", datagram: testDatagramClose},
	{name: "DialClosedFailsPromptly", stream: testDialFails, datagram: testDialFails},
	{name: "ListenerCloseEndsAccepts", stream: testListenerClose, datagram: testListenerClose},
	{name: "MoveWhileStreaming", minWorkers: 2, stream: testMoveWhileStreaming},
	{name: "NoGoroutineLeak", stream: testNoGoroutineLeak, datagram: testNoGoroutineLeak},
}

// Run runs every conformance test as a subtest of t. newCase is called once
// per subtest, at its start, and must return a Case with fresh transport
// state. Subtests that do not apply to the transport's Kind are skipped.
func Run(t *testing.T, newCase func(t *testing.T) Case) {
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			c := newCase(t)
			checkCase(t, &c)
			fn := st.stream
			if c.Transport.Kind() == transport.Datagram {
				fn = st.datagram
			}
			if fn == nil {
				t.Skipf("transporttest: %s: not a test for %s transports", st.name, c.Transport.Kind())
			}
			c.Workers = max(c.Workers, st.minWorkers)
			e := newEnv(t, c)
			defer e.teardown()
			fn(e)
		})
	}
}

// checkCase rejects an incomplete Case and fills its defaults.
func checkCase(t *testing.T, c *Case) {
	t.Helper()
	switch {
	case c.Transport == nil:
		t.Fatal("transporttest: Case.Transport is nil")
	case c.ListenAddr == nil:
		t.Fatal("transporttest: Case.ListenAddr is nil")
	case c.ClosedAddr == nil:
		t.Fatal("transporttest: Case.ClosedAddr is nil")
	case c.Workers < 0:
		t.Fatalf("transporttest: Case.Workers is %d; it must be 0 (default 2) or more", c.Workers)
	}
	if k := c.Transport.Kind(); k != transport.Stream && k != transport.Datagram {
		t.Fatalf("transporttest: Transport.Kind() is %v; want Stream or Datagram", k)
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.Name == "" {
		c.Name = c.Transport.Kind().String()
	}
}
