package endpoint_test

import (
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/endpoint/endpointtest"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
)

// memCase returns a Case over a fresh mem.Network (closed when the subtest
// ends) whose kills are mem's abrupt resets.
func memCase(t *testing.T, name string, kind transport.Kind, link mem.LinkConfig) endpointtest.Case {
	nw, err := mem.NewNetwork(mem.Config{Seed: 1, Link: link})
	if err != nil {
		t.Fatalf("mem.NewNetwork: %v", err)
	}
	t.Cleanup(func() { _ = nw.Close() })
	return endpointtest.Case{
		Name:       name,
		Transport:  nw.Transport(kind),
		ListenAddr: func() ma.Multiaddr { return ma.StringCast("/memory/0") },
		Kill:       nw.Kill,
	}
}

// TestEndpointSuiteMemStream runs the endpoint suite over mem streams; a
// kill resets the connection, losing what is in flight.
func TestEndpointSuiteMemStream(t *testing.T) {
	endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
		return memCase(t, "mem stream", transport.Stream, mem.LinkConfig{})
	})
}

// TestEndpointSuiteMemDatagramLossy runs the endpoint suite over mem
// datagrams that a link loses, duplicates and reorders (5% each), with
// about 100µs of latency. The headline test sends fewer messages than over
// streams: the endpoint's congestion control on a 5%-loss link moves a few
// MB/s.
func TestEndpointSuiteMemDatagramLossy(t *testing.T) {
	link := mem.LinkConfig{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Latency: 100 * time.Microsecond, Jitter: 50 * time.Microsecond}
	endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
		c := memCase(t, "mem datagram, lossy", transport.Datagram, link)
		c.Messages = 100_000
		c.ShortMessages = 2_000
		return c
	})
}
