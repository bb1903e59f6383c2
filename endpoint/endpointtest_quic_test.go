package endpoint_test

import (
	"crypto/ed25519"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/endpoint/endpointtest"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport/quic"
)

// quicCase returns a Case over a fresh QUIC transport on loopback whose
// kills are quic.Reset: CONNECTION_CLOSE with the reset code, so both
// ends lose what is in flight and see ErrReset. wrap, if set, wraps every
// UDP socket the transport opens.
func quicCase(t *testing.T, name string, wrap func(net.PacketConn) net.PacketConn) endpointtest.Case {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 0x9c
	key, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := quic.New(quic.Config{Identity: key, WrapPacketConn: wrap})
	if err != nil {
		t.Fatalf("quic.New: %v", err)
	}
	return endpointtest.Case{
		Name:       name,
		Transport:  tr,
		ListenAddr: func() ma.Multiaddr { return ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1") },
		Kill:       quic.Reset,
	}
}

// TestEndpointSuiteQUIC runs the endpoint suite over QUIC. The transport
// is transport.Authenticated, so the endpoints skip Noise: each proves its
// own identity over the TLS connection (the suite's endpoints have other
// keys than the transport's) and records travel in the plaintext framing,
// sealed by QUIC.
//
// go test ./... runs the headline test with 200,000 messages each way, to
// keep the package's run short; WEFT_ENDPOINTTEST_N=1000000 runs the
// million (38.7 s here).
func TestEndpointSuiteQUIC(t *testing.T) {
	endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
		c := quicCase(t, "quic", nil)
		c.Messages = 200_000
		return c
	})
}

// TestEndpointSuiteQUICLossy runs the suite over QUIC whose UDP sockets
// lose, duplicate and reorder 5% of the packets they send each: QUIC
// repairs that below the endpoint. The headline test sends fewer
// messages: QUIC's congestion control at 5% loss moves tens of MB/s.
func TestEndpointSuiteQUICLossy(t *testing.T) {
	var sockets atomic.Uint64
	endpointtest.Run(t, func(t *testing.T) endpointtest.Case {
		c := quicCase(t, "quic, 5% loss", func(pc net.PacketConn) net.PacketConn {
			return newLossyConn(pc, sockets.Add(1), 0.05)
		})
		c.Messages = 100_000
		c.ShortMessages = 5_000
		return c
	})
}

// lossyConn is a net.PacketConn that loses, duplicates and reorders a
// fraction of what it sends, from a seeded generator. A reordered packet
// is held back until the next one has gone, or 2 ms.
type lossyConn struct {
	net.PacketConn
	p float64

	mu    sync.Mutex
	rng   *rand.Rand
	held  []byte
	to    net.Addr
	timer *time.Timer
}

func newLossyConn(pc net.PacketConn, seed uint64, p float64) *lossyConn {
	return &lossyConn{PacketConn: pc, p: p, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
}

// WriteTo sends b, or not, or twice, or after the next packet.
func (c *lossyConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.rng.Float64()
	switch {
	case r < c.p: // lost
		return len(b), nil
	case r < 2*c.p && c.held == nil: // reordered
		c.held, c.to = append([]byte(nil), b...), addr
		if c.timer == nil {
			c.timer = time.AfterFunc(2*time.Millisecond, c.flushHeld)
		} else {
			c.timer.Reset(2 * time.Millisecond)
		}
		return len(b), nil
	}
	n, err := c.PacketConn.WriteTo(b, addr)
	if r < 3*c.p { // duplicated
		_, _ = c.PacketConn.WriteTo(b, addr)
	}
	c.sendHeldLocked()
	return n, err
}

func (c *lossyConn) flushHeld() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sendHeldLocked()
}

func (c *lossyConn) sendHeldLocked() {
	if c.held != nil {
		_, _ = c.PacketConn.WriteTo(c.held, c.to)
		c.held = nil
	}
}

// SetReadBuffer, SetWriteBuffer and SyscallConn pass through to the UDP
// socket, so that quic-go sizes its buffers as it does without the wrapper
// (it does not treat the wrapper as a UDP socket otherwise: no GSO, no
// batched reads).
func (c *lossyConn) SetReadBuffer(n int) error  { return c.PacketConn.(*net.UDPConn).SetReadBuffer(n) }
func (c *lossyConn) SetWriteBuffer(n int) error { return c.PacketConn.(*net.UDPConn).SetWriteBuffer(n) }
func (c *lossyConn) SyscallConn() (syscall.RawConn, error) {
	return c.PacketConn.(*net.UDPConn).SyscallConn()
}

// Close stops the reorder timer, then closes the socket.
func (c *lossyConn) Close() error {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.held = nil
	c.mu.Unlock()
	return c.PacketConn.Close()
}
