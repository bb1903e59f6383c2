package endpoint_test

import (
	"testing"

	"github.com/weftnet/weft/endpoint/endpointtest"
	"github.com/weftnet/weft/transport/libp2p"
	"github.com/weftnet/weft/transport/libp2p/libp2ptest"
)

// TestEndpointSuiteLibp2p runs the endpoint suite over go-libp2p streams
// between real hosts on loopback (TCP, Noise, yamux): the endpoints dial
// from one host and listen on others (libp2ptest.Net). A kill resets the
// libp2p stream under the endpoint; the libp2p connection carrying it
// survives, and the endpoint resumes over a new stream.
//
// go test ./... runs the headline test with 200,000 messages each way, to
// keep the package's run short; WEFT_ENDPOINTTEST_N=1000000 runs the
// million (21-29 s here).
func TestEndpointSuiteLibp2p(t *testing.T) {
	endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
		c := libp2pCase(t, libp2ptest.Config{})
		c.Messages = 200_000
		return c
	})
}

// libp2pCase returns a Case over a fresh libp2ptest.Net (closed when the
// subtest ends) whose kills reset the stream under the endpoint.
func libp2pCase(t *testing.T, cfg libp2ptest.Config) endpointtest.Case {
	n, err := libp2ptest.New(cfg)
	if err != nil {
		t.Fatalf("libp2ptest.New: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("libp2ptest.Net.Close: %v", err)
		}
		if f := n.Faults(); f.Sent.Load() > 0 {
			t.Logf("libp2p datagrams: %d sent, %d lost, %d duplicated, %d reordered",
				f.Sent.Load(), f.Lost.Load(), f.Duplicated.Load(), f.Reordered.Load())
		}
	})
	return endpointtest.Case{
		Name:       "libp2p",
		Transport:  n.Transport(),
		ListenAddr: n.ListenAddr,
		Kill:       libp2p.Reset,
	}
}

// TestEndpointSuiteLibp2pQUICLossy runs the endpoint suite over go-libp2p
// streams between QUIC hosts whose UDP sockets lose, duplicate and
// reorder 5% of the datagrams they send each, as the lossy mem and udp
// cases do. Here QUIC, below libp2p, recovers the losses: the endpoint
// sees a reliable stream that stalls now and then, and its kills are
// stream resets, as over TCP. Like the other lossy cases, the headline
// test sends fewer messages.
func TestEndpointSuiteLibp2pQUICLossy(t *testing.T) {
	faults := libp2ptest.Faults{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Seed: 1}
	endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
		c := libp2pCase(t, libp2ptest.Config{QUIC: true, Faults: faults})
		c.Name = "libp2p over QUIC, lossy"
		c.Messages = 100_000
		c.ShortMessages = 2_000
		return c
	})
}
