package udp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSourceFilter: an unconnected socket with sourceFilter(r) gets r's
// datagrams and none from another port or another address.
func TestSourceFilter(t *testing.T) {
	for _, tc := range []struct{ name, network, addr, other string }{
		{"ipv4", "udp4", "127.0.0.1", "127.0.0.2"},
		{"ipv6", "udp6", "::1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := net.ParseIP(tc.addr)
			s, err := net.ListenUDP(tc.network, &net.UDPAddr{IP: ip})
			if err != nil {
				t.Skipf("no %s loopback: %v", tc.network, err)
			}
			defer s.Close()
			r := bindUDP(t, tc.network, ip, 0)
			rap := r.LocalAddr().(*net.UDPAddr).AddrPort()
			attachFilter(t, s, netip.AddrPortFrom(rap.Addr().Unmap(), rap.Port()))
			to := s.LocalAddr().(*net.UDPAddr)
			send := func(from *net.UDPConn, msg string) {
				t.Helper()
				if _, err := from.WriteToUDP([]byte(msg), to); err != nil {
					t.Fatal(err)
				}
			}
			send(r, "keep 1")
			send(bindUDP(t, tc.network, ip, 0), "other port")
			if tc.other != "" {
				send(bindUDP(t, tc.network, net.ParseIP(tc.other), int(rap.Port())), "other address")
			}
			send(r, "keep 2")
			got := readFrom(s, 2, 100*time.Millisecond)
			if len(got) != 2 || got[0] != "keep 1" || got[1] != "keep 2" {
				t.Errorf("the filtered socket got %q; want [keep 1 keep 2]", got)
			}
		})
	}
}

func bindUDP(t *testing.T, network string, ip net.IP, port int) *net.UDPConn {
	t.Helper()
	uc, err := net.ListenUDP(network, &net.UDPAddr{IP: ip, Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uc.Close() })
	return uc
}

func attachFilter(t *testing.T, uc *net.UDPConn, remote netip.AddrPort) {
	t.Helper()
	rc, err := uc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	prog := sourceFilter(remote)
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	}); err != nil || serr != nil {
		t.Fatalf("SO_ATTACH_FILTER: %v %v", err, serr)
	}
}

// readFrom reads what arrives on uc: want datagrams, then whatever else
// comes within linger.
func readFrom(uc *net.UDPConn, want int, linger time.Duration) []string {
	var got []string
	buf := make([]byte, 1500)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if len(got) >= want {
			deadline = time.Now().Add(linger)
		}
		_ = uc.SetReadDeadline(deadline)
		n, _, err := uc.ReadFromUDP(buf)
		if err != nil {
			return got
		}
		got = append(got, string(bytes.Clone(buf[:n])))
	}
}
