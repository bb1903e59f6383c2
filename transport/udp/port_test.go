package udp_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/udp"
)

// echoListener listens at addr and echoes every packet; got counts them.
func echoListener(t *testing.T, tr *udp.Transport, d *driver.Driver, addr ma.Multiaddr) (ln transport.Listener, got *atomic.Int64) {
	t.Helper()
	got = new(atomic.Int64)
	ln, err := tr.Listen(addr, d, func(transport.Conn) transport.Handler {
		r := newRec()
		r.reply = func(c transport.Conn, b []byte) { got.Add(1); _ = c.Write(b) }
		return r
	})
	if err != nil {
		t.Fatalf("Listen(%s): %v", addr, err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln, got
}

// echoed dials addr, writes one packet and waits for its echo; the
// connection stays open until the test ends.
func echoed(t *testing.T, tr *udp.Transport, d *driver.Driver, addr ma.Multiaddr, msg string) transport.Conn {
	t.Helper()
	r := newRec()
	c, err := tr.Dial(context.Background(), addr, d.Pick(), r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	write(t, c, []byte(msg))
	r.waitCount(t, 1)
	if got := string(r.packets[0]); got != msg {
		t.Fatalf("echo of %q came back as %q", msg, got)
	}
	return c
}

// TestListenAgainWhileConnectionsLive: a listener closed while its
// accepted connection lives, and a new listener on the same address: the
// new one accepts new dialers (it used to get none of their datagrams:
// its group's reuseport program chose the old connected socket, whose
// filter dropped them), and the old connection keeps working.
func TestListenAgainWhileConnectionsLive(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	tr := newTransport(t, udp.Config{})
	lnA, recA := echoListener(t, tr, d, ma.StringCast("/ip4/127.0.0.1/udp/0"))
	old := echoed(t, tr, d, lnA.Addr(), "old")
	if err := lnA.Close(); err != nil {
		t.Fatal(err)
	}
	lnB, recB := echoListener(t, tr, d, lnA.Addr())
	if !lnB.Addr().Equal(lnA.Addr()) {
		t.Fatalf("listening again at %s gave %s", lnA.Addr(), lnB.Addr())
	}
	for _, msg := range []string{"new 1", "new 2", "new 3"} {
		echoed(t, tr, d, lnB.Addr(), msg)
	}
	write(t, old, []byte("old again"))
	eventually(t, "the old connection's second packet", func() bool { return recA.Load() == 2 })
	if n := recB.Load(); n != 3 {
		t.Errorf("the new listener's connections got %d packets; want 3", n)
	}
}

// TestListenPortInUse: an address a live listener holds, or any other
// socket, cannot be listened on again: the error wraps EADDRINUSE.
func TestListenPortInUse(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	tr := newTransport(t, udp.Config{})
	ln, _ := echoListener(t, tr, d, ma.StringCast("/ip4/127.0.0.1/udp/0"))
	echoed(t, tr, d, ln.Addr(), "accepted") // its connection shares the port too
	plain, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plainAddr := ma.StringCast("/ip4/127.0.0.1/udp/" + strconv.Itoa(plain.LocalAddr().(*net.UDPAddr).Port))
	for _, addr := range []ma.Multiaddr{ln.Addr(), plainAddr} {
		ln2, err := tr.Listen(addr, d, func(transport.Conn) transport.Handler { return newRec() })
		if err == nil {
			ln2.Close()
			t.Errorf("Listen(%s) succeeded on a port in use", addr)
			continue
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("Listen(%s): %v; want an error wrapping EADDRINUSE", addr, err)
		}
	}
}

// TestListenAnyPortIsFree: port 0 never lands on a port that other
// sockets with SO_REUSEPORT hold (Linux may pick such a port for a socket
// that has the option when it binds: with 200 of them held, 2,000 listens
// would hit one about 14 times).
func TestListenAnyPortIsFree(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	tr := newTransport(t, udp.Config{})
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) }); err != nil {
			return err
		}
		return serr
	}}
	held := make(map[int]bool)
	for range 200 {
		pc, err := lc.ListenPacket(context.Background(), "udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		held[pc.LocalAddr().(*net.UDPAddr).Port] = true
	}
	hits := 0
	for range 2000 {
		ln, err := tr.Listen(ma.StringCast("/ip4/127.0.0.1/udp/0"), d, func(transport.Conn) transport.Handler { return newRec() })
		if err != nil {
			t.Fatal(err)
		}
		port, err := ln.Addr().ValueForProtocol(ma.P_UDP)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(port)
		if err != nil {
			t.Fatal(err)
		}
		if held[n] {
			hits++
		}
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if hits > 0 {
		t.Errorf("%d of 2000 listeners on port 0 got a port that another socket holds", hits)
	}
}
