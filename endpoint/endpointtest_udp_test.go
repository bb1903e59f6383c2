package endpoint_test

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/endpoint/endpointtest"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/udp"
)

// udpCase returns a Case over a fresh udp transport on loopback. A kill is
// a plain Close of the connection under the endpoint: nothing goes on the
// wire, so a killed dialer end redials at once, and the dialer of a killed
// listener end learns of it from the RESET its next datagram draws.
func udpCase(t *testing.T, name string, cfg udp.Config) endpointtest.Case {
	tr, err := udp.New(cfg)
	if err != nil {
		t.Fatalf("udp.New: %v", err)
	}
	return endpointtest.Case{
		Name:       name,
		Transport:  tr,
		ListenAddr: func() ma.Multiaddr { return ma.StringCast("/ip4/127.0.0.1/udp/0") },
		Kill:       func(c transport.Conn) error { return c.Close() },
	}
}

// TestEndpointSuiteUDP runs the endpoint suite over UDP on loopback, which
// loses nothing (unless a socket buffer overflows). The headline test
// sends 100,000 messages each way rather than a million: the endpoint's
// datagram mode moves ~10,000 of its mixed-size messages per second here
// (a million each way took 3 min 24 s, which with the other transports'
// suites would pass go test's default 10-minute limit for the package).
func TestEndpointSuiteUDP(t *testing.T) {
	endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
		c := udpCase(t, "udp", udp.Config{})
		c.Messages = 100_000
		return c
	})
}

// TestEndpointSuiteUDPLossy runs the endpoint suite over UDP whose
// connections lose, duplicate and reorder 5% of the datagrams they send
// each (udp.Config.Faults), as the lossy mem case does. Like it, the
// headline test sends fewer messages than over streams.
func TestEndpointSuiteUDPLossy(t *testing.T) {
	endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
		c := udpCase(t, "udp, lossy", udp.Config{Faults: udp.Faults{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Seed: 1}})
		c.Messages = 100_000
		c.ShortMessages = 2_000
		return c
	})
}
