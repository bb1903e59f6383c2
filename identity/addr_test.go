package identity_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/identity"
)

const (
	testID0 = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN" // seed 32×0x00
	testID1 = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5" // seed 32×0x01
	rsaID   = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"       // a libp2p RSA peer ID
)

// mustParseAddr parses a supported address or fails the test.
func mustParseAddr(t *testing.T, s string) multiaddr.Multiaddr {
	t.Helper()
	m, err := identity.ParseAddr(s)
	if err != nil {
		t.Fatalf("ParseAddr(%q): %v", s, err)
	}
	return m
}

func TestParseAddrSupported(t *testing.T) {
	tests := []struct {
		in       string
		want     identity.NetAddr
		hostPort string
		hasID    bool
	}{
		{"/ip4/1.2.3.4/tcp/80", identity.NetAddr{Transport: "tcp", Network: "tcp4", Host: "1.2.3.4", Port: 80}, "1.2.3.4:80", false},
		{"/ip6/::1/tcp/443", identity.NetAddr{Transport: "tcp", Network: "tcp6", Host: "::1", Port: 443}, "[::1]:443", false},
		{"/ip4/0.0.0.0/tcp/0", identity.NetAddr{Transport: "tcp", Network: "tcp4", Host: "0.0.0.0", Port: 0}, "0.0.0.0:0", false},
		{"/ip4/10.0.0.1/udp/5000", identity.NetAddr{Transport: "udp", Network: "udp4", Host: "10.0.0.1", Port: 5000}, "10.0.0.1:5000", false},
		{"/ip6/2001:db8::1/udp/65535", identity.NetAddr{Transport: "udp", Network: "udp6", Host: "2001:db8::1", Port: 65535}, "[2001:db8::1]:65535", false},
		{"/ip4/127.0.0.1/udp/4001/quic-v1", identity.NetAddr{Transport: "quic", Network: "udp4", Host: "127.0.0.1", Port: 4001}, "127.0.0.1:4001", false},
		{"/ip6/::/udp/4001/quic-v1", identity.NetAddr{Transport: "quic", Network: "udp6", Host: "::", Port: 4001}, "[::]:4001", false},
		{"/memory/42", identity.NetAddr{Transport: "memory", Network: "memory", Name: "42"}, "42", false},
		{"/ip4/1.2.3.4/tcp/80/p2p/" + testID0, identity.NetAddr{Transport: "tcp", Network: "tcp4", Host: "1.2.3.4", Port: 80}, "1.2.3.4:80", true},
		{"/ip6/::1/udp/9/p2p/" + testID0, identity.NetAddr{Transport: "udp", Network: "udp6", Host: "::1", Port: 9}, "[::1]:9", true},
		{"/ip4/1.2.3.4/udp/1/quic-v1/p2p/" + testID0, identity.NetAddr{Transport: "quic", Network: "udp4", Host: "1.2.3.4", Port: 1}, "1.2.3.4:1", true},
		{"/memory/7/p2p/" + testID0, identity.NetAddr{Transport: "memory", Network: "memory", Name: "7"}, "7", true},
		{"/ip4/1.2.3.4/tcp/80/ipfs/" + testID0, identity.NetAddr{Transport: "tcp", Network: "tcp4", Host: "1.2.3.4", Port: 80}, "1.2.3.4:80", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m := mustParseAddr(t, tt.in)
			if again := mustParseAddr(t, m.String()); !again.Equal(m) {
				t.Errorf("String() %s does not round-trip", m)
			}
			na, err := identity.ParseNetAddr(m)
			if err != nil {
				t.Fatal(err)
			}
			if na != tt.want || na.HostPort() != tt.hostPort {
				t.Errorf("ParseNetAddr = %+v (%s), want %+v (%s)", na, na.HostPort(), tt.want, tt.hostPort)
			}
			transport, id, hasID, err := identity.SplitPeer(m)
			if err != nil || hasID != tt.hasID {
				t.Fatalf("SplitPeer = %v, %v, %v", transport, hasID, err)
			}
			if hasID && (id.String() != testID0 || transport.String()+"/p2p/"+testID0 != m.String()) {
				t.Errorf("SplitPeer(%s) = %s + %s", m, transport, id)
			}
			if !hasID && (!id.IsZero() || !transport.Equal(m)) {
				t.Errorf("SplitPeer without /p2p/ = %s, %v", transport, id)
			}
		})
	}
}

func TestSplitPeerDoesNotAlias(t *testing.T) {
	m := mustParseAddr(t, "/ip4/1.2.3.4/tcp/80/p2p/"+testID0)
	transport, _, _, err := identity.SplitPeer(m)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(transport, mustParseAddr(t, "/memory/1")...)
	if m.String() != "/ip4/1.2.3.4/tcp/80/p2p/"+testID0 {
		t.Errorf("appending to SplitPeer's result changed the input: %s", m)
	}
}

func TestParseAddrErrors(t *testing.T) {
	tests := []struct {
		in   string
		kind error
		want string
	}{
		{"", identity.ErrMalformedAddr, "empty address"},
		{"garbage", identity.ErrMalformedAddr, "must begin with /"},
		{"/", identity.ErrMalformedAddr, "empty"},
		{"/ip4/999.1.1.1/tcp/1", identity.ErrMalformedAddr, `invalid value "999.1.1.1" for protocol ip4`},
		{"/ip4/1.2.3.4/tcp/notaport", identity.ErrMalformedAddr, `invalid value "notaport" for protocol tcp`},
		{"/ip4/1.2.3.4/tcp/65536", identity.ErrMalformedAddr, "tcp"},
		{"/ip4/1.2.3.4/tcp", identity.ErrMalformedAddr, "tcp"},
		{"/ip4/1.2.3.4", identity.ErrMalformedAddr, "no transport after ip4"},
		{"/memory/abc", identity.ErrMalformedAddr, "memory addresses are /memory/<decimal number>"},
		{"/nosuchproto/1", identity.ErrMalformedAddr, "unknown protocol"},
		{"/p2p/" + testID0, identity.ErrMalformedAddr, "no transport address before /p2p/"},
		{"/ip4/1.2.3.4/tcp/1/p2p/" + rsaID, identity.ErrMalformedAddr, "invalid /p2p/ peer ID: multihash code 0x12"},
		{"/ip4/1.2.3.4/tcp/1/p2p/nope", identity.ErrMalformedAddr, "p2p"},
		{"/ip4/1.2.3.4/tcp/" + strings.Repeat("1", 2000), identity.ErrMalformedAddr, "longer than 1024 bytes"},
		{"/ip4/1.2.3.4/sctp/5", identity.ErrUnsupportedAddr, `unsupported transport "sctp" (want tcp, udp, quic-v1 or memory)`},
		{"/dns4/x/tcp/1", identity.ErrUnsupportedAddr, `unsupported network protocol "dns4" (want ip4, ip6 or memory)`},
		{"/dns/example.com/udp/1/quic-v1", identity.ErrUnsupportedAddr, `"dns"`},
		{"/ip6zone/eth0/ip6/fe80::1/tcp/1", identity.ErrUnsupportedAddr, `"ip6zone"`},
		{"/tcp/80", identity.ErrUnsupportedAddr, `unsupported network protocol "tcp"`},
		{"/ip4/1.2.3.4/tcp/1/ws", identity.ErrUnsupportedAddr, `unsupported protocol "ws" after tcp`},
		{"/ip4/1.2.3.4/udp/1/quic", identity.ErrUnsupportedAddr, `unsupported protocol "quic" after udp`},
		{"/ip4/1.2.3.4/udp/1/quic-v1/webtransport", identity.ErrUnsupportedAddr, `unsupported protocol "webtransport" after quic-v1`},
		{"/memory/1/tcp/2", identity.ErrUnsupportedAddr, `unsupported protocol "tcp" after memory`},
		{"/ip4/1.2.3.4/tcp/1/p2p/" + testID0 + "/p2p-circuit", identity.ErrUnsupportedAddr, `"p2p" after tcp`},
		{"/ip4/1.2.3.4/ip4/1.2.3.4", identity.ErrUnsupportedAddr, `unsupported transport "ip4"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := identity.ParseAddr(tt.in)
			if err == nil {
				t.Fatalf("ParseAddr(%q) = %s, want an error", tt.in, m)
			}
			var addrErr *identity.AddrError
			if !errors.As(err, &addrErr) || !errors.Is(err, tt.kind) {
				t.Fatalf("error %v: want an *AddrError matching %v", err, tt.kind)
			}
			if addrErr.Addr != tt.in {
				t.Errorf("AddrError.Addr = %q, want %q", addrErr.Addr, tt.in)
			}
			msg := err.Error()
			quoted := `identity: address "` + tt.in
			if len(tt.in) > 200 {
				quoted = quoted[:200]
			}
			if !strings.HasPrefix(msg, quoted) || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want it to quote the address and contain %q", msg, tt.want)
			}
		})
	}
}

func TestParseAddrErrorMessage(t *testing.T) {
	_, err := identity.ParseAddr("/ip4/1.2.3.4/sctp/5")
	want := `identity: address "/ip4/1.2.3.4/sctp/5": unsupported transport "sctp" (want tcp, udp, quic-v1 or memory)`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	_, err = identity.ParseAddr("/ip4/999.1.1.1/tcp/1")
	if err == nil || strings.Count(err.Error(), "999.1.1.1/tcp/1") != 1 {
		t.Errorf("malformed error repeats the address: %v", err)
	}
}

func TestMultiaddrFunctionsCheckTheirInput(t *testing.T) {
	unsupported := multiaddr.StringCast("/dns4/example.com/tcp/1")
	if _, err := identity.ParseNetAddr(unsupported); !errors.Is(err, identity.ErrUnsupportedAddr) {
		t.Errorf("ParseNetAddr(dns4) error = %v", err)
	}
	if _, _, _, err := identity.SplitPeer(unsupported); !errors.Is(err, identity.ErrUnsupportedAddr) {
		t.Errorf("SplitPeer(dns4) error = %v", err)
	}
	if _, err := identity.ParseNetAddr(nil); !errors.Is(err, identity.ErrMalformedAddr) {
		t.Errorf("ParseNetAddr(nil) error = %v", err)
	}
	if _, _, _, err := identity.SplitPeer(multiaddr.Multiaddr{}); !errors.Is(err, identity.ErrMalformedAddr) {
		t.Errorf("SplitPeer(empty) error = %v", err)
	}
}

// memAddr is a net.Addr for the memory transport.
type memAddr string

func (memAddr) Network() string  { return "memory" }
func (a memAddr) String() string { return string(a) }

// strAddr is a net.Addr that is only a string.
type strAddr string

func (strAddr) Network() string  { return "test" }
func (a strAddr) String() string { return string(a) }

func TestFromNetAddr(t *testing.T) {
	tests := []struct {
		transport string
		addr      net.Addr
		want      string
	}{
		{"tcp", &net.TCPAddr{IP: net.IPv4(1, 2, 3, 4), Port: 80}, "/ip4/1.2.3.4/tcp/80"},
		{"tcp", &net.TCPAddr{IP: net.ParseIP("::1"), Port: 443}, "/ip6/::1/tcp/443"},
		{"tcp", &net.TCPAddr{IP: net.ParseIP("::ffff:10.0.0.1"), Port: 1}, "/ip4/10.0.0.1/tcp/1"},
		{"udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000}, "/ip4/127.0.0.1/udp/5000"},
		{"quic", &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 4001}, "/ip6/2001:db8::1/udp/4001/quic-v1"},
		{"quic", strAddr("127.0.0.1:9"), "/ip4/127.0.0.1/udp/9/quic-v1"},
		{"memory", memAddr("12"), "/memory/12"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			m, err := identity.FromNetAddr(tt.transport, tt.addr)
			if err != nil {
				t.Fatal(err)
			}
			if m.String() != tt.want {
				t.Errorf("FromNetAddr(%s, %s) = %s, want %s", tt.transport, tt.addr, m, tt.want)
			}
			na, err := identity.ParseNetAddr(m)
			if err != nil || na.Transport != tt.transport {
				t.Errorf("ParseNetAddr(%s) = %+v, %v", m, na, err)
			}
		})
	}
}

func TestFromNetAddrErrors(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		addr      net.Addr
		kind      error
	}{
		{"nil", "tcp", nil, identity.ErrMalformedAddr},
		{"zone", "tcp", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "eth0"}, identity.ErrUnsupportedAddr},
		{"no IP", "tcp", &net.TCPAddr{Port: 1}, identity.ErrMalformedAddr},
		{"not host:port", "udp", strAddr("example.com:1"), identity.ErrMalformedAddr},
		{"bad memory", "memory", memAddr("x"), identity.ErrMalformedAddr},
		{"unknown transport", "sctp", &net.TCPAddr{IP: net.IPv4(1, 2, 3, 4), Port: 1}, identity.ErrUnsupportedAddr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := identity.FromNetAddr(tt.transport, tt.addr)
			if !errors.Is(err, tt.kind) {
				t.Errorf("FromNetAddr = %v, %v; want an error matching %v", m, err, tt.kind)
			}
		})
	}
}

func TestNetAddrRoundTrip(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m, err := identity.FromNetAddr(identity.TransportTCP, ln.Addr())
	if err != nil {
		t.Fatal(err)
	}
	na, err := identity.ParseNetAddr(m)
	if err != nil {
		t.Fatal(err)
	}
	if na.HostPort() != ln.Addr().String() || na.Network != "tcp4" {
		t.Errorf("round trip of %s gave %+v", ln.Addr(), na)
	}
}

func TestContactFromAddrs(t *testing.T) {
	c, err := identity.ContactFromAddrs("/ip4/1.2.3.4/tcp/1/p2p/"+testID0, "/memory/3/p2p/"+testID0)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID.String() != testID0 || len(c.Addrs) != 2 || c.Addrs[0].String() != "/ip4/1.2.3.4/tcp/1" || c.Addrs[1].String() != "/memory/3" {
		t.Errorf("contact = %v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	want := "/ip4/1.2.3.4/tcp/1/p2p/" + testID0 + ",/memory/3/p2p/" + testID0
	if c.String() != want {
		t.Errorf("String() = %s, want %s", c, want)
	}
	parsed, err := identity.ParseContact(c.String())
	if err != nil || parsed.String() != c.String() {
		t.Errorf("ParseContact(String()) = %v, %v", parsed, err)
	}
}

func TestContactFromAddrsErrors(t *testing.T) {
	tests := []struct {
		name  string
		addrs []string
		want  string
	}{
		{"none", nil, "no addresses"},
		{"no peer ID", []string{"/ip4/1.2.3.4/tcp/1"}, `"/ip4/1.2.3.4/tcp/1" has no /p2p/<peer-id> suffix`},
		{"different peers", []string{"/ip4/1.2.3.4/tcp/1/p2p/" + testID0, "/memory/1/p2p/" + testID1}, "is for peer " + testID1},
		{"bad address", []string{"/ip4/1.2.3.4/sctp/1/p2p/" + testID0}, "unsupported transport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := identity.ContactFromAddrs(tt.addrs...)
			if err == nil || !strings.HasPrefix(err.Error(), "identity: contact: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseContact(t *testing.T) {
	c, err := identity.ParseContact(" " + testID1 + " ")
	if err != nil || c.ID.String() != testID1 || len(c.Addrs) != 0 || c.String() != testID1 {
		t.Errorf("ParseContact(bare ID) = %v, %v", c, err)
	}
	c, err = identity.ParseContact("/memory/1/p2p/" + testID1 + " , /ip6/::1/udp/2/quic-v1/p2p/" + testID1)
	if err != nil || len(c.Addrs) != 2 {
		t.Errorf("ParseContact(two addresses) = %v, %v", c, err)
	}
	for _, bad := range []string{"", "nope", "/memory/1", "/memory/1/p2p/" + testID1 + ","} {
		if _, err := identity.ParseContact(bad); err == nil {
			t.Errorf("ParseContact(%q) succeeded", bad)
		}
	}
}

func TestContactValidate(t *testing.T) {
	id0, id1 := idFromByte(t, 0x00), idFromByte(t, 0x01)
	tests := []struct {
		name    string
		contact identity.Contact
		want    string // "" for valid
	}{
		{"ID only", identity.Contact{ID: id0}, ""},
		{"own /p2p/ suffix", identity.Contact{ID: id0, Addrs: []multiaddr.Multiaddr{mustParseAddr(t, "/memory/1/p2p/"+testID0)}}, ""},
		{"no ID", identity.Contact{Addrs: []multiaddr.Multiaddr{mustParseAddr(t, "/memory/1")}}, "has no peer ID"},
		{"other /p2p/ suffix", identity.Contact{ID: id1, Addrs: []multiaddr.Multiaddr{mustParseAddr(t, "/memory/1/p2p/"+testID0)}}, "is for peer " + testID0},
		{"unsupported", identity.Contact{ID: id0, Addrs: []multiaddr.Multiaddr{multiaddr.StringCast("/dns4/x/tcp/1")}}, "address 0"},
		{"empty address", identity.Contact{ID: id0, Addrs: []multiaddr.Multiaddr{nil}}, "empty address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.contact.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "identity: contact") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	c := identity.Contact{ID: id0, Addrs: []multiaddr.Multiaddr{mustParseAddr(t, "/memory/1/p2p/"+testID0)}}
	if c.String() != "/memory/1/p2p/"+testID0 {
		t.Errorf("String() of an address with /p2p/ = %s", c)
	}
}
