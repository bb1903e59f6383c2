package quic_test

import (
	"crypto/ed25519"
	"net"
	"strconv"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport/quic"
	"github.com/weftnet/weft/transport/transporttest"
)

// testKey returns the deterministic identity number n.
func testKey(t testing.TB, n byte) identity.PrivateKey {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = n
	}
	seed[0] = 0x51 // distinct from other packages' test keys
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTransport(t testing.TB, n byte) *quic.Transport {
	t.Helper()
	tr, err := quic.New(quic.Config{Identity: testKey(t, n)})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T) transporttest.Case {
		return transporttest.Case{
			Name:       "quic",
			Transport:  newTransport(t, 1),
			ListenAddr: func() ma.Multiaddr { return ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1") },
			ClosedAddr: func() ma.Multiaddr { return closedPort(t) },
		}
	})
}

// closedPort returns a loopback QUIC address where nothing listens: a UDP
// port the OS just handed out and that was closed again.
func closedPort(t *testing.T) ma.Multiaddr {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	return ma.StringCast("/ip4/127.0.0.1/udp/" + strconv.Itoa(port) + "/quic-v1")
}
