package identity

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/multiformats/go-multiaddr"
)

// Transport names, as found in [NetAddr.Transport] and passed to
// [FromNetAddr].
const (
	TransportTCP    = "tcp"    // /ip4|ip6/<ip>/tcp/<port>
	TransportUDP    = "udp"    // /ip4|ip6/<ip>/udp/<port>: datagrams
	TransportQUIC   = "quic"   // /ip4|ip6/<ip>/udp/<port>/quic-v1
	TransportMemory = "memory" // /memory/<number>
)

// maxAddrLen bounds the text ParseAddr accepts. The longest supported
// address, an IPv6 QUIC address with a peer ID, is about 130 bytes.
const maxAddrLen = 1024

var (
	// ErrMalformedAddr is matched (with errors.Is) by an [*AddrError] for
	// text or bytes that are not a well-formed address.
	ErrMalformedAddr = errors.New("identity: malformed address")

	// ErrUnsupportedAddr is matched (with errors.Is) by an [*AddrError] for
	// a well-formed multiaddr that weft has no transport for.
	ErrUnsupportedAddr = errors.New("identity: unsupported address")
)

// AddrError reports an address that is malformed or unsupported.
type AddrError struct {
	Addr   string // the address as given
	Reason string // what is wrong with it
	Err    error  // ErrMalformedAddr or ErrUnsupportedAddr
}

// Error quotes the address and says what is wrong with it.
func (e *AddrError) Error() string {
	return fmt.Sprintf("identity: address %s: %s", quote(e.Addr), e.Reason)
}

// Unwrap returns ErrMalformedAddr or ErrUnsupportedAddr.
func (e *AddrError) Unwrap() error { return e.Err }

// NetAddr is a supported address broken into the parts a transport needs to
// dial or listen with the net package.
type NetAddr struct {
	Transport string // TransportTCP, TransportUDP, TransportQUIC or TransportMemory
	Network   string // for net.Dial: "tcp4", "tcp6", "udp4", "udp6"; "memory" for memory
	Host      string // IP address, without brackets; "" for memory
	Port      int    // 0-65535; 0 for memory
	Name      string // memory address number, in decimal; "" otherwise
}

// HostPort returns the address in net.Dial form ("1.2.3.4:80",
// "[::1]:80"), or the memory name for a memory address.
func (n NetAddr) HostPort() string {
	if n.Transport == TransportMemory {
		return n.Name
	}
	return net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
}

// parsedAddr is the result of checking a multiaddr against weft's forms.
type parsedAddr struct {
	net   NetAddr
	id    PeerID
	hasID bool
	n     int // number of components before any /p2p/ suffix
}

// ParseAddr parses s as a multiaddr and checks that it is one of the forms
// weft supports (see the package documentation), optionally ending in
// /p2p/<peer-id>. Errors are an [*AddrError] that quotes s.
func ParseAddr(s string) (multiaddr.Multiaddr, error) {
	m, err := parseMultiaddr(s)
	if err != nil {
		return nil, err
	}
	if _, err := checkAddr(m, s); err != nil {
		return nil, err
	}
	return m, nil
}

// parseMultiaddr parses s with go-multiaddr, reporting failures as
// malformed.
func parseMultiaddr(s string) (multiaddr.Multiaddr, error) {
	if s == "" {
		return nil, malformed(s, "empty address")
	}
	if len(s) > maxAddrLen {
		return nil, malformed(s, fmt.Sprintf("longer than %d bytes", maxAddrLen))
	}
	m, err := multiaddr.NewMultiaddr(s)
	if err != nil {
		return nil, malformed(s, multiaddrReason(err))
	}
	return m, nil
}

// multiaddrReason strips go-multiaddr's `failed to parse multiaddr "...": `
// prefix (the address is quoted by AddrError already) and adds a hint for
// memory addresses.
func multiaddrReason(err error) string {
	msg := err.Error()
	const prefix = "failed to parse multiaddr \""
	if rest, ok := strings.CutPrefix(msg, prefix); ok {
		if i := strings.Index(rest, "\": "); i >= 0 {
			msg = rest[i+3:]
		}
	}
	if strings.Contains(msg, "for protocol memory") {
		msg += " (memory addresses are /memory/<decimal number>)"
	}
	return msg
}

// SplitPeer checks a and splits off a trailing /p2p/<peer-id>. It returns
// the transport part, and the peer ID with hasID true if there was one.
func SplitPeer(a multiaddr.Multiaddr) (transportAddr multiaddr.Multiaddr, id PeerID, hasID bool, err error) {
	p, err := checkAddr(a, a.String())
	if err != nil {
		return nil, PeerID{}, false, err
	}
	transportAddr = append(multiaddr.Multiaddr(nil), a[:p.n]...)
	return transportAddr, p.id, p.hasID, nil
}

// ParseNetAddr checks a and breaks it into a [NetAddr]. A trailing
// /p2p/<peer-id> is allowed and ignored.
func ParseNetAddr(a multiaddr.Multiaddr) (NetAddr, error) {
	p, err := checkAddr(a, a.String())
	if err != nil {
		return NetAddr{}, err
	}
	return p.net, nil
}

// checkAddr validates m; text names it in errors.
func checkAddr(m multiaddr.Multiaddr, text string) (parsedAddr, error) {
	if len(m) == 0 {
		return parsedAddr{}, malformed(text, "empty address")
	}
	var p parsedAddr
	p.n = len(m)
	if last := m[len(m)-1]; last.Code() == multiaddr.P_P2P {
		if reason := checkPeerIDBytes(last.RawValue()); reason != "" {
			return parsedAddr{}, malformed(text, "invalid /p2p/ peer ID: "+reason)
		}
		p.id, p.hasID, p.n = PeerID{mh: string(last.RawValue())}, true, len(m)-1
	}
	if p.n == 0 {
		return parsedAddr{}, malformed(text, "no transport address before /p2p/")
	}
	na, e := checkTransport(m[:p.n])
	if e != nil {
		e.Addr = text
		return parsedAddr{}, e
	}
	p.net = na
	return p, nil
}

// checkTransport classifies the components of an address without /p2p/.
// The returned error's Addr is left for the caller to fill in.
func checkTransport(m multiaddr.Multiaddr) (NetAddr, *AddrError) {
	switch first := m[0]; first.Code() {
	case multiaddr.P_MEMORY:
		if len(m) > 1 {
			return NetAddr{}, unsupported("", fmt.Sprintf("unsupported protocol %q after memory", m[1].Protocol().Name))
		}
		return NetAddr{Transport: TransportMemory, Network: TransportMemory, Name: first.Value()}, nil
	case multiaddr.P_IP4, multiaddr.P_IP6:
		return checkIPTransport(m)
	default:
		return NetAddr{}, unsupported("", fmt.Sprintf("unsupported network protocol %q (want ip4, ip6 or memory)", first.Protocol().Name))
	}
}

// checkIPTransport classifies /ip4|ip6/<ip>/tcp|udp/<port>[/quic-v1].
func checkIPTransport(m multiaddr.Multiaddr) (NetAddr, *AddrError) {
	ipName := m[0].Protocol().Name
	ip, ok := netip.AddrFromSlice(m[0].RawValue())
	if !ok {
		return NetAddr{}, malformed("", "bad "+ipName+" address")
	}
	if len(m) < 2 {
		return NetAddr{}, malformed("", "no transport after "+ipName+" (want tcp, udp or udp/<port>/quic-v1)")
	}
	port, e := portOf(m[1])
	if e != nil {
		return NetAddr{}, e
	}
	na := NetAddr{Host: ip.String(), Port: port}
	suffix := "4"
	if m[0].Code() == multiaddr.P_IP6 {
		suffix = "6"
	}
	switch m[1].Code() {
	case multiaddr.P_TCP:
		na.Transport, na.Network = TransportTCP, "tcp"+suffix
		return na, checkNothingAfter(m, 2, "tcp")
	case multiaddr.P_UDP:
		na.Transport, na.Network = TransportUDP, "udp"+suffix
		if len(m) > 2 && m[2].Code() == multiaddr.P_QUIC_V1 {
			na.Transport = TransportQUIC
			return na, checkNothingAfter(m, 3, "quic-v1")
		}
		return na, checkNothingAfter(m, 2, "udp")
	}
	return NetAddr{}, unsupported("", fmt.Sprintf("unsupported transport %q (want tcp, udp, quic-v1 or memory)", m[1].Protocol().Name))
}

// portOf decodes the port of a tcp or udp component; other components give
// port 0 and are rejected by the caller.
func portOf(c multiaddr.Component) (int, *AddrError) {
	if c.Code() != multiaddr.P_TCP && c.Code() != multiaddr.P_UDP {
		return 0, nil
	}
	raw := c.RawValue()
	if len(raw) != 2 {
		return 0, malformed("", "bad "+c.Protocol().Name+" port")
	}
	return int(binary.BigEndian.Uint16(raw)), nil
}

// checkNothingAfter rejects components after the n that make up a form.
func checkNothingAfter(m multiaddr.Multiaddr, n int, last string) *AddrError {
	if len(m) <= n {
		return nil
	}
	return unsupported("", fmt.Sprintf("unsupported protocol %q after %s", m[n].Protocol().Name, last))
}

// FromNetAddr returns the multiaddr of addr for a transport:
// [TransportTCP], [TransportUDP] or [TransportQUIC] with a *net.TCPAddr,
// *net.UDPAddr or any net.Addr whose String is "host:port" with an IP host;
// or [TransportMemory] with a net.Addr whose String is the memory number.
// IPv4-mapped IPv6 addresses become /ip4; IPv6 zones are not supported.
func FromNetAddr(transport string, addr net.Addr) (multiaddr.Multiaddr, error) {
	if addr == nil {
		return nil, malformed("", "nil net.Addr")
	}
	switch transport {
	case TransportMemory:
		return ParseAddr("/memory/" + addr.String())
	case TransportTCP, TransportUDP, TransportQUIC:
		return fromIPAddr(transport, addr)
	}
	return nil, unsupported(addr.String(), fmt.Sprintf("unsupported transport %q (want %s, %s, %s or %s)",
		transport, TransportTCP, TransportUDP, TransportQUIC, TransportMemory))
}

// fromIPAddr builds /ip4|ip6/<ip>/tcp|udp/<port>[/quic-v1].
func fromIPAddr(transport string, addr net.Addr) (multiaddr.Multiaddr, error) {
	ap, err := addrPort(addr)
	if err != nil {
		return nil, malformed(addr.String(), err.Error())
	}
	ip := ap.Addr().Unmap()
	if ip.Zone() != "" {
		return nil, unsupported(addr.String(), "IPv6 zones are not supported")
	}
	ipName, proto := "ip4", "udp"
	if ip.Is6() {
		ipName = "ip6"
	}
	if transport == TransportTCP {
		proto = "tcp"
	}
	s := fmt.Sprintf("/%s/%s/%s/%d", ipName, ip, proto, ap.Port())
	if transport == TransportQUIC {
		s += "/quic-v1"
	}
	return ParseAddr(s)
}

// addrPort extracts an IP and port from a net.Addr.
func addrPort(addr net.Addr) (netip.AddrPort, error) {
	var ap netip.AddrPort
	switch a := addr.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		var err error
		if ap, err = netip.ParseAddrPort(addr.String()); err != nil {
			return netip.AddrPort{}, errors.New("not an IP address and port")
		}
	}
	if !ap.Addr().IsValid() {
		return netip.AddrPort{}, errors.New("no IP address")
	}
	return ap, nil
}

// malformed returns an AddrError matching ErrMalformedAddr.
func malformed(addr, reason string) *AddrError {
	return &AddrError{Addr: addr, Reason: reason, Err: ErrMalformedAddr}
}

// unsupported returns an AddrError matching ErrUnsupportedAddr.
func unsupported(addr, reason string) *AddrError {
	return &AddrError{Addr: addr, Reason: reason, Err: ErrUnsupportedAddr}
}
