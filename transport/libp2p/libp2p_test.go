package libp2p_test

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport/libp2p/libp2ptest"
	"github.com/weftnet/weft/transport/transporttest"
)

// TestConformance runs the transport suite over real go-libp2p hosts on
// loopback (TCP, Noise, yamux): one host dials, the suite's listeners are
// on others (libp2ptest.Net), all connected before the subtest starts.
func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transporttest.Case {
		n := newNet(t, libp2ptest.Config{})
		return transporttest.Case{
			Name:       "libp2p",
			Transport:  n.Transport(),
			ListenAddr: n.ListenAddr,
			ClosedAddr: func() ma.Multiaddr { return closedAddr(t, n) },
		}
	})
}

// newNet starts a Net that the test's cleanup closes.
func newNet(t testing.TB, cfg libp2ptest.Config) *libp2ptest.Net {
	t.Helper()
	n, err := libp2ptest.New(cfg)
	if err != nil {
		t.Fatalf("libp2ptest.New: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Net.Close: %v", err)
		}
	})
	return n
}

func closedAddr(t testing.TB, n *libp2ptest.Net) ma.Multiaddr {
	t.Helper()
	a, err := n.ClosedAddr()
	if err != nil {
		t.Fatalf("ClosedAddr: %v", err)
	}
	return a
}
