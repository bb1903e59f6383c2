package udp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/sys/unix"
)

// A listener's port is its own. Its socket is bound without SO_REUSEPORT,
// so the kernel refuses a port that any socket holds (EADDRINUSE) and,
// for port 0, picks one that none holds; SO_REUSEPORT is set only after
// the bind, for the accepted connections' sockets to join the port.
//
// Bound with SO_REUSEPORT, as it was, a listener shared its port with any
// socket of the same user that had the option: Linux's choice of a port
// for port 0 skips only ports whose sockets could not share it, so a
// listen could land on a port held by connections of an earlier listener
// (14 of 2,000 listens did, with 200 such ports held); it joined their
// reuseport group, and its reuseport program, which named index 0 of the
// group (one of those connected sockets), sent every datagram from a new
// address to a socket whose filter dropped it: the listener accepted
// nothing.
//
// One case keeps sharing on purpose: listening again, with an explicit
// port, on the address of a closed listener whose accepted connections
// are still open in this process, and no listener of this process open
// there (their sockets hold the port, as a TCP listener's accepted
// connections hold its). The new listener then binds with SO_REUSEPORT;
// the old connections keep their datagrams (a connected socket wins the
// lookup for its remote) and the new listener gets the rest (the kernel's
// choice within a reuseport group skips connected sockets, and no
// reuseport program overrides it).

// ports is what this process holds of each listening address: the
// sockets of accepted connections (n), and whether a listener is open
// there.
var ports struct {
	sync.Mutex
	n         map[netip.AddrPort]int
	listening map[netip.AddrPort]bool
}

// holdPort records an accepted connection's socket bound to ap.
func holdPort(ap netip.AddrPort) {
	ports.Lock()
	defer ports.Unlock()
	if ports.n == nil {
		ports.n = make(map[netip.AddrPort]int)
	}
	ports.n[ap]++
}

// releasePort records that such a socket closed.
func releasePort(ap netip.AddrPort) {
	ports.Lock()
	defer ports.Unlock()
	if ports.n[ap]--; ports.n[ap] <= 0 {
		delete(ports.n, ap)
	}
}

// bindListener binds the listening socket of ap (see above) and records
// a listener open at its address, which Listener.Close forgets.
func (t *Transport) bindListener(ap netip.AddrPort) (*net.UDPConn, error) {
	ports.Lock() // two Listens of one address: the second sees the first
	defer ports.Unlock()
	uc, err := t.bindSocket(ap, false)
	if err == nil {
		if err = setReusePort(uc); err != nil {
			uc.Close()
			return nil, err
		}
	} else if ap.Port() != 0 && errors.Is(err, unix.EADDRINUSE) && ports.n[ap] > 0 && !ports.listening[ap] {
		if uc, err = t.bindSocket(ap, true); err != nil {
			return nil, err
		}
	} else {
		return nil, err
	}
	if ports.listening == nil {
		ports.listening = make(map[netip.AddrPort]bool)
	}
	ports.listening[boundAddr(uc)] = true
	return uc, nil
}

// bindSocket binds a UDP socket to ap.
func (t *Transport) bindSocket(ap netip.AddrPort, reusePort bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: t.control(reusePort)}
	pc, err := lc.ListenPacket(context.Background(), network(ap), ap.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// notListening forgets the listener open at ap.
func notListening(ap netip.AddrPort) {
	ports.Lock()
	defer ports.Unlock()
	delete(ports.listening, ap)
}

// boundAddr is uc's local address, unmapped.
func boundAddr(uc *net.UDPConn) netip.AddrPort {
	ap := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// setReusePort sets SO_REUSEPORT on a bound socket.
func setReusePort(uc *net.UDPConn) error {
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("udp: setsockopt SO_REUSEPORT: %w", serr)
	}
	return nil
}
