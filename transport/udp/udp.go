package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// Transport is the UDP transport. Its connections are connected UDP
// sockets on driver workers' gnet event loops: no goroutine per
// connection. Dialling uses the caller's goroutine; each listener has one
// goroutine that reads the datagrams of addresses it has no connection
// for yet.
type Transport struct {
	cfg   Config
	stats counters
	seq   atomic.Uint64 // connections made, for Faults seeds
	rx    rxPool        // for drain
}

var _ transport.Transport = (*Transport)(nil)

// New returns a UDP transport.
func New(cfg Config) (*Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	t := &Transport{cfg: cfg}
	t.rx.slot = rxSlotBytes(cfg.MaxDatagramBytes)
	return t, nil
}

// Kind returns transport.Datagram.
func (t *Transport) Kind() transport.Kind { return transport.Datagram }

// Stats returns a snapshot of the transport's counters.
func (t *Transport) Stats() Stats { return t.stats.snapshot() }

// Handles reports whether addr is /ip4|ip6/<ip>/udp/<port>, optionally
// followed by /p2p/<peer-id>.
func (t *Transport) Handles(addr ma.Multiaddr) bool {
	_, err := udpAddr(addr)
	return err == nil
}

// udpAddr converts addr into an address and port.
func udpAddr(addr ma.Multiaddr) (netip.AddrPort, error) {
	if n := len(addr); n > 0 && addr[n-1].Protocol().Code == ma.P_P2P {
		addr = addr[:n-1]
	}
	bad := fmt.Errorf("%w: %q is not /ip4|ip6/<ip>/udp/<port>", transport.ErrUnsupportedAddr, addr.String())
	if len(addr) != 2 || addr[1].Protocol().Code != ma.P_UDP {
		return netip.AddrPort{}, bad
	}
	if c := addr[0].Protocol().Code; c != ma.P_IP4 && c != ma.P_IP6 {
		return netip.AddrPort{}, bad
	}
	na, err := manet.ToNetAddr(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %q: %w", transport.ErrUnsupportedAddr, addr.String(), err)
	}
	ap := na.(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func fromAddrPort(ap netip.AddrPort) ma.Multiaddr {
	m, err := manet.FromNetAddr(net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil
	}
	return m
}

func network(ap netip.AddrPort) string {
	if ap.Addr().Is4() {
		return "udp4"
	}
	return "udp6"
}

// Dial makes a connected UDP socket to addr; see transport.Transport. No
// datagram is sent: a dial to an address where nothing listens succeeds,
// and the packets written are lost (transporttest's
// DatagramDialRefuses is false for udp).
func (t *Transport) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	ap, err := udpAddr(addr)
	if err != nil {
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	var d net.Dialer
	d.Control = t.control(false)
	nc, err := d.DialContext(ctx, network(ap), ap.String())
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	c, err := newConn(t, w, nc.(*net.UDPConn), roleDialer)
	if err != nil {
		nc.Close()
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	c.h = h
	if err := w.Enroll(nc, c); err != nil {
		c.closeFD()
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	return c, nil
}

// control returns the socket options of every socket: buffer sizes, and
// SO_REUSEPORT for a listener's sockets, which share its port.
func (t *Transport) control(reusePort bool) func(string, string, syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = t.setOptions(int(fd), reusePort) }); err != nil {
			return err
		}
		return serr
	}
}

// setOptions sets the options of control on socket fd.
func (t *Transport) setOptions(fd int, reusePort bool) error {
	var err error
	if reusePort {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}
	if err == nil && t.cfg.SocketSendBuffer > 0 {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, t.cfg.SocketSendBuffer)
	}
	if err == nil && t.cfg.SocketRecvBuffer > 0 {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, t.cfg.SocketRecvBuffer)
	}
	if err != nil {
		return fmt.Errorf("udp: setsockopt: %w", err)
	}
	return nil
}

// Listen binds addr and accepts a connection for each new remote address
// whose first datagram is a valid INITIAL; see transport.Transport.
func (t *Transport) Listen(addr ma.Multiaddr, d *driver.Driver, accept transport.AcceptFunc) (transport.Listener, error) {
	ap, err := udpAddr(addr)
	if err != nil {
		return nil, err
	}
	uc, err := t.bindListener(ap)
	if err != nil {
		return nil, fmt.Errorf("udp: listen %s: %w", addr, err)
	}
	l, err := newListener(t, uc, d, accept)
	if err != nil {
		uc.Close()
		notListening(boundAddr(uc))
		return nil, err
	}
	go l.run()
	return l, nil
}

// errClosed is what Write returns after Close.
var errClosed = fmt.Errorf("udp: write: %w", transport.ErrClosed)

// isClosedErr reports whether err is a read on a closed socket.
func isClosedErr(err error) bool { return errors.Is(err, net.ErrClosed) }
