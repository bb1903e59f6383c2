package mem_test

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
	"github.com/weftnet/weft/transport/transporttest"
)

func TestConformance(t *testing.T) {
	for _, kind := range []transport.Kind{transport.Stream, transport.Datagram} {
		t.Run(kind.String(), func(t *testing.T) {
			transporttest.Run(t, func(t *testing.T) transporttest.Case {
				n, err := mem.NewNetwork(mem.Config{Seed: 1})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = n.Close() })
				return transporttest.Case{
					Name:       "mem",
					Transport:  n.Transport(kind),
					ListenAddr: func() ma.Multiaddr { return ma.StringCast("/memory/0") },
					// Ids are handed out from 1 upwards: this one is never
					// listened on.
					ClosedAddr:          func() ma.Multiaddr { return ma.StringCast("/memory/18446744073709551615") },
					DatagramDialRefuses: true,
				}
			})
		})
	}
}
