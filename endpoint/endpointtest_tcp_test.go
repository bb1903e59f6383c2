package endpoint_test

import (
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/endpoint/endpointtest"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/tcp"
)

// TestEndpointSuiteTCP runs the endpoint suite over TCP on loopback; a kill
// is a plain Close of the connection under the endpoint.
func TestEndpointSuiteTCP(t *testing.T) {
	endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
		tr, err := tcp.New(tcp.Config{})
		if err != nil {
			t.Fatalf("tcp.New: %v", err)
		}
		return endpointtest.Case{
			Name:       "tcp",
			Transport:  tr,
			ListenAddr: func() ma.Multiaddr { return ma.StringCast("/ip4/127.0.0.1/tcp/0") },
			Kill:       func(c transport.Conn) error { return c.Close() },
		}
	})
}
