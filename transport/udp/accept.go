package udp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// The socket of an accepted connection is bound to the listening address
// and port, then connected to the remote. Between the two it is an
// unconnected member of the port, and the kernel may queue on it
// datagrams from any address, not only the remote's: before Linux 6.13
// the kernel spreads those among the unconnected members of the port's
// SO_REUSEPORT group (the listener and sockets between bind and
// connect). Since 6.13 (4-tuple hash of connected UDP sockets, commit
// 78c91ae2c6de) connect takes a socket out of its SO_REUSEPORT group
// but leaves it first in the port's hash chain, SO_REUSEPORT still set;
// bind puts the next socket of the port in the group of the first such
// socket of the chain (udp_reuseport_add_sock), so the kernel makes a new
// group of the two, without the listener, and the new socket, the only
// unconnected member of it, gets every datagram of an address that has
// no connected socket, until it is connected. (A reuseport program on
// the listener, which this transport once had to pin those datagrams to
// it, cannot help there, and it hurts where a group's first member is a
// connected socket: see port.go.) So the transport does not rely on where
// the kernel puts them:
//
//   - once connected, the socket gets a filter (sourceFilter): what
//     another address sends from then on is dropped, not delivered to
//     the connection;
//   - sweep then empties its queue: datagrams from the remote are the
//     connection's first ones, the others are routed by the listener as
//     if its own socket had read them.
//
// What is left is a datagram for which the kernel chose the socket
// before the connect and read its (then absent) filter before the
// attach, but which it queues only after the sweep found the queue empty:
// the kernel's receive path, a few hundred instructions with bottom
// halves off, would have to stall across a connect, a setsockopt and the
// sweep (a hypervisor preempting that CPU, say). Closing that too would
// take an RCU grace period per accepted connection.

// testHookBound, if set, runs between the bind and the connect of an
// accepted connection's socket (tests only).
var testHookBound func(remote netip.AddrPort)

// socketFor returns the socket of a new connection from remote: bound to
// the listening address and port, connected to remote, and filtered.
func (l *listener) socketFor(remote netip.AddrPort) (*net.UDPConn, error) {
	local, err := sockaddr(l.bound)
	if err != nil {
		return nil, err
	}
	peer, err := sockaddr(remote)
	if err != nil {
		return nil, err
	}
	family := unix.AF_INET
	if !remote.Addr().Is4() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := l.prepare(fd, family, local, peer, remote); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "udp")
	nc, err := net.FileConn(f) // a duplicate of fd
	f.Close()
	if err != nil {
		return nil, err
	}
	uc, ok := nc.(*net.UDPConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("udp: socket of a new connection is a %T", nc)
	}
	return uc, nil
}

// prepare sets fd's options, binds it to local, connects it to peer and
// filters it to keep remote's datagrams only.
func (l *listener) prepare(fd, family int, local, peer unix.Sockaddr, remote netip.AddrPort) error {
	if family == unix.AF_INET6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return fmt.Errorf("udp: setsockopt IPV6_V6ONLY: %w", err)
		}
	}
	if err := l.t.setOptions(fd, true); err != nil {
		return err
	}
	if err := unix.Bind(fd, local); err != nil {
		return os.NewSyscallError("bind", err)
	}
	if testHookBound != nil {
		testHookBound(remote)
	}
	if err := unix.Connect(fd, peer); err != nil {
		return os.NewSyscallError("connect", err)
	}
	prog := sourceFilter(remote)
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
		&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}); err != nil {
		return fmt.Errorf("udp: setsockopt SO_ATTACH_FILTER: %w", err)
	}
	return nil
}

// sockaddr converts ap, whose address is unmapped, for the syscalls.
func sockaddr(ap netip.AddrPort) (unix.Sockaddr, error) {
	a := ap.Addr()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}, nil
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		} else if n, nerr := strconv.ParseUint(z, 10, 32); nerr == nil {
			sa.ZoneId = uint32(n)
		} else {
			return nil, fmt.Errorf("udp: zone of %v: %w", ap, err)
		}
	}
	return sa, nil
}

// sourceFilter is a classic BPF socket filter that keeps the datagrams
// whose source is remote and drops the others. A UDP socket's filter
// sees a datagram from its UDP header on, so the source port is at
// offset 0, and reaches the IP header through SKF_NET_OFF: the source
// address is at 12 in IPv4, at 8 in IPv6.
func sourceFilter(remote netip.AddrPort) []unix.SockFilter {
	a := remote.Addr()
	var words []uint32
	var at int32
	if a.Is4() {
		b := a.As4()
		words, at = []uint32{binary.BigEndian.Uint32(b[:])}, 12
	} else {
		b := a.As16()
		for i := 0; i < len(b); i += 4 {
			words = append(words, binary.BigEndian.Uint32(b[i:]))
		}
		at = 8
	}
	n := 2*len(words) + 4 // loads and checks, the port's, keep, drop
	prog := make([]unix.SockFilter, 0, n)
	check := func(k uint32) { // on a mismatch, jump to the last instruction
		prog = append(prog, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K,
			Jf: uint8(n - 1 - (len(prog) + 1)), K: k})
	}
	for i, w := range words {
		prog = append(prog, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS,
			K: uint32(skfNetOff + at + int32(4*i))})
		check(w)
	}
	prog = append(prog, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 0})
	check(uint32(remote.Port()))
	return append(prog,
		unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff}, // keep it whole
		unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: 0})          // drop it
}

// skfNetOff is SKF_NET_OFF of linux/filter.h: a load at skfNetOff+k reads
// byte k of the network (IP) header.
const skfNetOff = -0x100000

// skbMinTruesize is less than what any queued datagram is charged to a
// socket's receive buffer (its struct sk_buff alone takes more), so a
// socket whose SO_RCVBUF is n holds fewer than n/skbMinTruesize + 2
// datagrams: that bounds a sweep.
const skbMinTruesize = 256

// maxStrayBytes bounds the bytes of the datagrams that swept sockets took
// for other addresses and that wait in l.stray; beyond it they are
// dropped and counted (Stats.DroppedQueueFull). Twice the default socket
// buffer.
const maxStrayBytes = 2 * DefaultSocketBuffer

// sweep empties the queue of c's new socket, now connected and filtered:
// what came from the remote goes to c.first (within Config.MaxQueued),
// what came from other addresses before the connect waits in l.stray for
// run to route it. Since only the remote's datagrams can join the queue
// now, the queue holds at most one receive buffer of others', which the
// bound on the reads covers.
func (l *listener) sweep(uc *net.UDPConn, c *conn) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(s uintptr) {
		fd := int(s)
		limit := 2
		if n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
			limit += n / skbMinTruesize
		}
		for range limit {
			n, sa, err := unix.Recvfrom(fd, l.buf, unix.MSG_DONTWAIT)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return // EAGAIN: empty
			}
			l.swept(c, sockaddrAddrPort(sa), l.buf[:n])
		}
	})
}

// swept files one datagram that sweep read.
func (l *listener) swept(c *conn, from netip.AddrPort, b []byte) {
	switch {
	case !from.IsValid():
		l.t.stats.unknown.Add(1)
	case from == c.remoteAP && len(c.first) < l.t.cfg.MaxQueued:
		c.first = append(c.first, bytes.Clone(b))
	case from != c.remoteAP && l.strayBytes+len(b) <= maxStrayBytes:
		l.stray = append(l.stray, stray{from, bytes.Clone(b)})
		l.strayBytes += len(b)
	default:
		l.t.stats.queueFull.Add(1)
	}
}

// stray is a datagram a new connection's socket read for another address.
type stray struct {
	from netip.AddrPort
	b    []byte
}

func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr).Unmap()
		if a.ZoneId != 0 && ip.Is6() { // as net names it, like ReadFromUDPAddrPort
			zone := strconv.FormatUint(uint64(a.ZoneId), 10)
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				zone = ifi.Name
			}
			ip = ip.WithZone(zone)
		}
		return netip.AddrPortFrom(ip, uint16(a.Port))
	}
	return netip.AddrPort{}
}
