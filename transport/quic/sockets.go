package quic

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/weftnet/weft/transport"
)

// dialSockets holds the UDP sockets dials go out from: one per address
// family, shared by every connection dialed from it (quic-go demultiplexes
// by connection ID), opened on demand and closed with the last of its
// connections. Sharing it keeps a dialed connection at one socket-reading
// goroutine for all of them instead of two goroutines and a socket each.
type dialSockets struct {
	t    *Transport
	mu   sync.Mutex
	live [2]*dialSocket // IPv4, IPv6
}

type dialSocket struct {
	family int
	udp    *net.UDPConn
	pc     net.PacketConn // udp, or what Config.WrapPacketConn made of it
	qt     *quicgo.Transport
	users  int
}

// acquire returns the family's socket, opening it if needed, and counts a
// user.
func (d *dialSockets) acquire(ipv6 bool) (*dialSocket, error) {
	family := 0
	ip := net.IPv4zero
	if ipv6 {
		family, ip = 1, net.IPv6unspecified
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.live[family]; s != nil {
		s.users++
		return s, nil
	}
	udp, err := listenUDP(ip, 0)
	if err != nil {
		return nil, fmt.Errorf("quic: dial socket: %w", err)
	}
	pc := d.t.wrap(udp)
	s := &dialSocket{family: family, udp: udp, pc: pc, qt: d.t.quicTransport(pc), users: 1}
	d.live[family] = s
	return s, nil
}

// release forgets a user; the last one closes the socket.
func (d *dialSockets) release(s *dialSocket) {
	d.mu.Lock()
	s.users--
	last := s.users == 0
	if last && d.live[s.family] == s {
		d.live[s.family] = nil
	}
	d.mu.Unlock()
	if last {
		_ = s.qt.Close()
		_ = s.pc.Close()
		_ = s.udp.Close()
	}
}

// Refusal probing: probeDelay is how long a dial runs before it starts
// probing (a dial to a live listener on a LAN is done by then and pays
// nothing), probeEvery how often the probe repeats.
const (
	probeDelay = 100 * time.Millisecond
	probeEvery = 500 * time.Millisecond
)

// errNobodyListens is the cause a refusal probe cancels its dial with.
var errNobodyListens = errors.New("quic: nobody listens at the address (ICMP port unreachable)")

// refusalProbe finds out fast that nothing listens at a peer's address,
// which QUIC itself learns only when a timeout expires: QUIC ignores ICMP
// errors (they are easily spoofed), and the shared sockets, not being
// connected, never hear of them anyway. After a delay, a connected UDP
// socket sends a zero-length datagram to the address (QUIC
// implementations, quic-go included, drop empty datagrams) every
// probeEvery; if the host answers with ICMP port unreachable, the socket's
// next read fails with ECONNREFUSED and the probe calls refused. A dial
// runs one from probeDelay on (refused cancels it with errNobodyListens),
// and so does a connection waiting for its peer to answer its close (see
// nudger).
type refusalProbe struct {
	ua      *net.UDPAddr
	refused func()
	timer   *time.Timer

	mu      sync.Mutex
	stopped bool
	pc      *net.UDPConn
	done    chan struct{}
}

// probeRefusal arms a probe of ua that starts after delay; stop ends it.
func probeRefusal(ua *net.UDPAddr, delay time.Duration, refused func()) (stop func()) {
	p := &refusalProbe{ua: ua, refused: refused}
	p.timer = time.AfterFunc(delay, p.run)
	return p.stop
}

// run is the probe, on the timer's goroutine.
func (p *refusalProbe) run() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	pc, err := net.DialUDP("udp", nil, p.ua)
	if err != nil {
		p.mu.Unlock()
		return
	}
	p.pc, p.done = pc, make(chan struct{})
	p.mu.Unlock()
	defer close(p.done)
	var b [1]byte
	for {
		if _, err := pc.Write(nil); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			return // closed by stop
		}
		_ = pc.SetReadDeadline(time.Now().Add(probeEvery))
		_, err := pc.Read(b[:])
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			p.refused()
			return
		case err != nil && !isDeadline(err):
			return // closed by stop
		}
	}
}

// stop ends the probe and waits for it.
func (p *refusalProbe) stop() {
	p.timer.Stop()
	p.mu.Lock()
	p.stopped = true
	pc, done := p.pc, p.done
	p.mu.Unlock()
	if pc != nil {
		_ = pc.Close()
		<-done
	}
}

// dialError turns a failed quic-go dial into the cause a DialError wraps:
// ctx is the caller's context, dctx the dial's (which the probe cancels).
func dialError(ctx, dctx context.Context, err error) error {
	var te *quicgo.TransportError
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(context.Cause(dctx), errNobodyListens):
		return fmt.Errorf("%w: %w", transport.ErrRefused, errNobodyListens)
	case errors.Is(err, ErrPeerMismatch):
		return err
	case errors.As(err, &te) && te.Remote && te.ErrorCode == quicgo.ConnectionRefused:
		return fmt.Errorf("%w: %w", transport.ErrRefused, err)
	}
	return fmt.Errorf("quic: %w", err)
}
