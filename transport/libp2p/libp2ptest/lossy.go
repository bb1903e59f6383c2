package libp2ptest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Faults makes the UDP sockets of a Net's QUIC hosts lose, duplicate and
// reorder the datagrams they send, each with its probability, from a
// seeded generator per socket. QUIC recovers: the libp2p streams above
// stay reliable, slower.
type Faults struct {
	Loss, Duplicate, Reorder float64
	Seed                     uint64
}

func (f Faults) any() bool { return f.Loss > 0 || f.Duplicate > 0 || f.Reorder > 0 }

func (f Faults) validate() error {
	for name, p := range map[string]float64{"Loss": f.Loss, "Duplicate": f.Duplicate, "Reorder": f.Reorder} {
		if !(p >= 0 && p < 1) {
			return fmt.Errorf("libp2ptest: Config.Faults.%s is %v; it must be in [0, 1)", name, p)
		}
	}
	return nil
}

// FaultStats counts what the faulty sockets of a Net did to the datagrams
// they were asked to send.
type FaultStats struct {
	Sent, Lost, Duplicated, Reordered atomic.Uint64
}

// reorderDelay is how long a reordered datagram is held back: enough for
// the datagrams sent right after it to overtake it on loopback.
const reorderDelay = time.Millisecond

// lossyConn is a UDP socket whose sends suffer Faults. It is a plain
// net.PacketConn, not a *net.UDPConn, so that quic-go sends through its
// WriteTo (with a *net.UDPConn it would use WriteMsgUDP, and batching).
type lossyConn struct {
	c     *net.UDPConn
	f     Faults
	stats *FaultStats

	mu     sync.Mutex
	rng    *rand.Rand
	closed bool           // under mu: no more datagrams held back
	held   sync.WaitGroup // reordered datagrams not yet sent; Add under mu
}

// faultsListener returns quicreuse's ListenUDP replacement: sockets on
// loopback that suffer f, each seeded from f.Seed and a counter.
func faultsListener(f Faults, stats *FaultStats) func(network string, laddr *net.UDPAddr) (net.PacketConn, error) {
	var mu sync.Mutex
	var n uint64
	return func(network string, laddr *net.UDPAddr) (net.PacketConn, error) {
		c, err := net.ListenUDP(network, laddr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		n++
		seed := n
		mu.Unlock()
		return &lossyConn{c: c, f: f, stats: stats, rng: rand.New(rand.NewPCG(f.Seed, seed))}, nil
	}
}

// WriteTo sends p, or not, or twice, or a little later.
func (c *lossyConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	lost := c.rng.Float64() < c.f.Loss
	dup := c.rng.Float64() < c.f.Duplicate
	late := c.rng.Float64() < c.f.Reorder
	c.mu.Unlock()
	c.stats.Sent.Add(1)
	switch {
	case lost:
		c.stats.Lost.Add(1)
		return len(p), nil
	case late:
		// held.Add must happen before Close's Wait (a WaitGroup rule):
		// both sides go through mu.
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, net.ErrClosed
		}
		c.held.Add(1)
		c.mu.Unlock()
		c.stats.Reordered.Add(1)
		b := append([]byte(nil), p...)
		time.AfterFunc(reorderDelay, func() {
			defer c.held.Done()
			_, _ = c.c.WriteTo(b, addr)
		})
		return len(p), nil
	}
	n, err := c.c.WriteTo(p, addr)
	if err == nil && dup {
		c.stats.Duplicated.Add(1)
		_, _ = c.c.WriteTo(p, addr)
	}
	return n, err
}

// Close waits for the held datagrams (a millisecond at most), so that no
// timer outlives the socket.
func (c *lossyConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	err := c.c.Close()
	c.held.Wait()
	return err
}

func (c *lossyConn) ReadFrom(p []byte) (int, net.Addr, error) { return c.c.ReadFrom(p) }
func (c *lossyConn) LocalAddr() net.Addr                      { return c.c.LocalAddr() }
func (c *lossyConn) SetDeadline(t time.Time) error            { return c.c.SetDeadline(t) }
func (c *lossyConn) SetReadDeadline(t time.Time) error        { return c.c.SetReadDeadline(t) }
func (c *lossyConn) SetWriteDeadline(t time.Time) error       { return c.c.SetWriteDeadline(t) }
func (c *lossyConn) SetReadBuffer(n int) error                { return c.c.SetReadBuffer(n) }
func (c *lossyConn) SetWriteBuffer(n int) error               { return c.c.SetWriteBuffer(n) }
