package udp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/udpwire"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/udp"
)

// stall blocks w's loop until release is called (or the test ends), so
// that datagrams queue up in the kernel meanwhile.
func stall(t *testing.T, w *driver.Worker) (release func()) {
	t.Helper()
	started, rel := make(chan struct{}), make(chan struct{})
	if err := w.Execute(func() { close(started); <-rel }); err != nil {
		t.Fatal(err)
	}
	<-started
	var once sync.Once
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(release)
	return release
}

// rawPeer is a plain UDP socket that a udp connection dials: it learns
// the connection's address from its first datagram.
type rawPeer struct {
	uc     *net.UDPConn
	remote netip.AddrPort
}

func dialRaw(t *testing.T, tr *udp.Transport, w *driver.Worker, h transport.Handler) (*rawPeer, transport.Conn) {
	t.Helper()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = uc.Close() })
	addr := ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/udp/%d", uc.LocalAddr().(*net.UDPAddr).Port))
	c, err := tr.Dial(context.Background(), addr, w, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	write(t, c, []byte("hello"))
	buf := make([]byte, 2048)
	_, from, err := uc.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	return &rawPeer{uc: uc, remote: from}, c
}

func (p *rawPeer) send(t *testing.T, payload []byte) {
	t.Helper()
	if _, err := p.uc.WriteToUDPAddrPort(udpwire.Append(nil, udpwire.Packet{Type: udpwire.Data, Payload: payload}), p.remote); err != nil {
		t.Fatal(err)
	}
}

// TestDrainAfterStall: datagrams that pile up while the connection's loop
// is busy, far more than one event drains, all arrive, in order; those
// over MaxDatagramBytes, whether too big for the batch buffers or only
// for the limit, are dropped and counted.
func TestDrainAfterStall(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	tr := newTransport(t, udp.Config{MaxDatagramBytes: 100})
	r := newRec()
	peer, _ := dialRaw(t, tr, d.Workers()[0], r)
	release := stall(t, d.Workers()[0])
	const n = 1000
	var want [][]byte
	huge, over := make([]byte, 1500), make([]byte, 101)
	for i := range n {
		p := binary.BigEndian.AppendUint32(nil, uint32(i))
		want = append(want, p)
		peer.send(t, p)
		if i%100 == 50 {
			peer.send(t, huge)
			peer.send(t, over)
		}
	}
	release()
	r.waitCount(t, n)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, p := range r.packets {
		if !bytes.Equal(p, want[i]) {
			t.Fatalf("packet %d is %x; want %x (out of order or mangled)", i, p, want[i])
		}
	}
	eventually(t, "the oversize datagrams to be counted", func() bool { return tr.Stats().DroppedTooLarge == 2*n/100 })
}

// TestDrainError: an ICMP port-unreachable that comes while the
// connection drains its socket closes it with ErrReset and io.EOF, as
// when gnet's read gets it: the drain does not swallow it. The
// connection's one reply, sent after the first batch of the drain, hits
// the peer's closed port, and the next read of the drain gets the error.
func TestDrainError(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	tr := newTransport(t, udp.Config{})
	r := newRec()
	replied := false
	r.reply = func(c transport.Conn, b []byte) {
		if !replied {
			replied = true
			_ = c.Write(b)
		}
	}
	peer, _ := dialRaw(t, tr, d.Workers()[0], r)
	release := stall(t, d.Workers()[0])
	for range 200 { // more than the first read of the drain takes
		peer.send(t, []byte("answer me"))
	}
	_ = peer.uc.Close()
	release()
	select {
	case err := <-r.closed:
		if !errors.Is(err, transport.ErrReset) || !errors.Is(err, io.EOF) {
			t.Errorf("OnClose(%v); want an error wrapping ErrReset and io.EOF (the peer closed)", err)
		}
	case <-time.After(wait):
		t.Fatalf("the connection did not close after the ICMP error (stats %+v)", tr.Stats())
	}
}

// TestSendRefused: an ICMP port-unreachable that a send takes off the
// socket (a datagram to a closed port, then another) closes the
// connection as when a read gets it.
func TestSendRefused(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	tr := newTransport(t, udp.Config{})
	r := newRec()
	peer, c := dialRaw(t, tr, d.Workers()[0], r)
	_ = peer.uc.Close()
	if err := c.Post(func() { _ = c.Write([]byte("one")); _ = c.Write([]byte("two")) }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-r.closed:
		if !errors.Is(err, transport.ErrReset) || !errors.Is(err, io.EOF) {
			t.Errorf("OnClose(%v); want an error wrapping ErrReset and io.EOF (the peer closed)", err)
		}
	case <-time.After(wait):
		t.Fatalf("the connection did not close after the ICMP error (stats %+v)", tr.Stats())
	}
}

// pair returns a dialer's connection and the listener's, listening at
// address at, with the dialer's address validated, and the recorders of
// both.
func pair(t *testing.T, cfg udp.Config, at string) (dc, ac transport.Conn, dr, ar *rec) {
	t.Helper()
	d := newDriver(t, 2)
	tr := newTransport(t, cfg)
	accepted := make(chan transport.Conn, 1)
	ar, dr = newRec(), newRec()
	ln, err := tr.Listen(ma.StringCast(at), d, func(c transport.Conn) transport.Handler { accepted <- c; return ar })
	if err != nil {
		t.Skipf("listen %s: %v", at, err) // no IPv6 loopback, say
	}
	t.Cleanup(func() { _ = ln.Close() })
	dc, err = tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], dr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dc.Close() })
	write(t, dc, []byte("hello"))
	ac = <-accepted
	ar.waitCount(t, 1)
	eventually(t, "the dialer's RESPONSE", func() bool { return onWorker(t, ac, func() bool { return udp.Validated(ac) }) })
	return dc, ac, dr, ar
}

// onWorker returns what fn returns on c's worker.
func onWorker(t *testing.T, c transport.Conn, fn func() bool) bool {
	t.Helper()
	res := make(chan bool, 1)
	if err := c.Post(func() { res <- fn() }); err != nil {
		t.Fatal(err)
	}
	return <-res
}

// writev calls c.Writev(bufs) on c's worker.
func writev(t *testing.T, c transport.Conn, bufs [][]byte) {
	t.Helper()
	errc := make(chan error, 1)
	if err := c.Post(func() { errc <- c.Writev(bufs) }); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Writev: %v", err)
	}
}

// numbered returns a packet of size bytes (at least 4) that starts with i.
func numbered(i, size int) []byte {
	b := bytes.Repeat([]byte{byte(i)}, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// TestWritevBoundaries: Writev keeps every datagram's bounds and order
// whatever the mix of sizes (runs the kernel segments, runs longer than
// it takes at once, lone sizes, more than one flush), both ways, and
// never makes a segmented message the kernel refuses.
func TestWritevBoundaries(t *testing.T) {
	for _, at := range []string{"/ip4/127.0.0.1/udp/0", "/ip6/::1/udp/0"} {
		t.Run(at, func(t *testing.T) { testWritevBoundaries(t, at) })
	}
}

func testWritevBoundaries(t *testing.T, at string) {
	leakCheck(t)
	dc, ac, dr, ar := pair(t, udp.Config{}, at)
	var sizes []int
	add := func(n, size int) {
		for range n {
			sizes = append(sizes, size)
		}
	}
	add(5, 1200)
	add(1, 700)
	add(3, 1200)
	add(3, 4)
	add(1, 900)
	add(1, 1200)
	add(130, 1100) // more than one message of segments
	add(2, 1000)
	add(1, 1200)
	add(60, 64)
	add(600, 1000) // past what one flush takes
	var bufs [][]byte
	for i, s := range sizes {
		bufs = append(bufs, numbered(i, s))
	}
	for _, dir := range []struct {
		name string
		from transport.Conn
		to   *rec
	}{{"dialer to listener", dc, ar}, {"listener to dialer", ac, dr}} {
		before := dir.to.count()
		gso := onWorker(t, dir.from, func() bool { return udp.GSO(dir.from) })
		writev(t, dir.from, bufs)
		dir.to.waitCount(t, before+len(bufs))
		dir.to.mu.Lock()
		got := dir.to.packets[before:]
		for i := range bufs {
			if !bytes.Equal(got[i], bufs[i]) {
				t.Errorf("%s: datagram %d is %d bytes starting %x; want %d bytes starting %x",
					dir.name, i, len(got[i]), got[i][:min(4, len(got[i]))], len(bufs[i]), bufs[i][:4])
				break
			}
		}
		dir.to.mu.Unlock()
		if gso && !onWorker(t, dir.from, func() bool { return udp.GSO(dir.from) }) {
			t.Errorf("%s: the kernel refused a segmented message", dir.name)
		}
	}
}

// TestGSOFallback: when the kernel refuses to segment (here because the
// socket sends without UDP checksums, SO_NO_CHECK), the connection sends
// the datagrams one by one instead, loses none, and stops trying.
func TestGSOFallback(t *testing.T) {
	leakCheck(t)
	dc, _, _, ar := pair(t, udp.Config{}, "/ip4/127.0.0.1/udp/0")
	if !onWorker(t, dc, func() bool { return udp.GSO(dc) }) {
		t.Skip("the kernel does not segment UDP (no UDP_SEGMENT)")
	}
	var err error
	onWorker(t, dc, func() bool { err = udp.DisableChecksum(dc); return true })
	if err != nil {
		t.Fatal(err)
	}
	var bufs [][]byte
	for i := range 10 {
		bufs = append(bufs, numbered(i, 1200))
	}
	before := ar.count()
	writev(t, dc, bufs)
	ar.waitCount(t, before+len(bufs))
	if onWorker(t, dc, func() bool { return udp.GSO(dc) }) {
		t.Error("the connection still segments after the kernel refused")
	}
	ar.mu.Lock()
	defer ar.mu.Unlock()
	for i, p := range ar.packets[before:] {
		if !bytes.Equal(p, bufs[i]) {
			t.Fatalf("datagram %d differs", i)
		}
	}
}
