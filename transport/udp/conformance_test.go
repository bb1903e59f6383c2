package udp_test

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport/transporttest"
	"github.com/weftnet/weft/transport/udp"
)

// TestConformance runs the transport suite over loopback with the default
// Config.
func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transporttest.Case {
		tr, err := udp.New(udp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("udp stats: %+v", tr.Stats())
			}
		})
		return transporttest.Case{
			Name:       "udp",
			Transport:  tr,
			ListenAddr: func() ma.Multiaddr { return ma.StringCast("/ip4/127.0.0.1/udp/0") },
			// Port 9 (discard) on loopback: nothing listens there.
			ClosedAddr: func() ma.Multiaddr { return ma.StringCast("/ip4/127.0.0.1/udp/9") },
		}
	})
}
