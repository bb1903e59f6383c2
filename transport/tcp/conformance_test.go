package tcp_test

import (
	"net"
	"strconv"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport/tcp"
	"github.com/weftnet/weft/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transporttest.Case {
		tr, err := tcp.New(tcp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return transporttest.Case{
			Name:       "tcp",
			Transport:  tr,
			ListenAddr: func() ma.Multiaddr { return ma.StringCast("/ip4/127.0.0.1/tcp/0") },
			ClosedAddr: func() ma.Multiaddr { return closedPort(t) },
		}
	})
}

// closedPort returns a loopback address where nothing listens: a port the
// OS just handed out and that was closed again.
func closedPort(t *testing.T) ma.Multiaddr {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	return ma.StringCast("/ip4/127.0.0.1/tcp/" + strconv.Itoa(addr.Port))
}
