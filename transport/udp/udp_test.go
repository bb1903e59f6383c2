package udp_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/udpwire"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/udp"
)

const wait = 10 * time.Second

// leakCheck fails t if goroutines started during it outlive it (an idle
// worker of gnet's ants pool excepted, as in transporttest).
func leakCheck(t *testing.T) {
	opts := []goleak.Option{goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1")}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

func newDriver(t *testing.T, workers int) *driver.Driver {
	d, err := driver.New(driver.Config{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("driver.Close: %v", err)
		}
	})
	return d
}

func newTransport(t *testing.T, cfg udp.Config) *udp.Transport {
	tr, err := udp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// rec records a connection's packets and its OnClose.
type rec struct {
	mu      sync.Mutex
	packets [][]byte
	got     chan struct{} // cap 1: a packet arrived
	closed  chan error    // cap 1
	reply   func(c transport.Conn, b []byte)
}

func newRec() *rec { return &rec{got: make(chan struct{}, 1), closed: make(chan error, 1)} }

func (r *rec) OnData(c transport.Conn, b []byte) {
	r.mu.Lock()
	r.packets = append(r.packets, bytes.Clone(b))
	r.mu.Unlock()
	if r.reply != nil {
		r.reply(c, b)
	}
	select {
	case r.got <- struct{}{}:
	default:
	}
}

func (r *rec) OnClose(_ transport.Conn, err error) { r.closed <- err }

func (r *rec) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.packets)
}

func (r *rec) waitCount(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(wait)
	for r.count() < n {
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("%d packets arrived in %v; want %d", r.count(), wait, n)
		}
	}
}

func listen(t *testing.T, tr *udp.Transport, d *driver.Driver, accept transport.AcceptFunc) transport.Listener {
	ln, err := tr.Listen(ma.StringCast("/ip4/127.0.0.1/udp/0"), d, accept)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// rawSocket is a plain UDP socket connected to ln, speaking the header by
// hand.
func rawSocket(t *testing.T, ln transport.Listener) *net.UDPConn {
	na, err := manet.ToNetAddr(ln.Addr())
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.DialUDP("udp4", nil, na.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = uc.Close() })
	return uc
}

// readAll reads what arrives on uc within d.
func readAll(uc *net.UDPConn, d time.Duration) [][]byte {
	var out [][]byte
	buf := make([]byte, 1<<16)
	_ = uc.SetReadDeadline(time.Now().Add(d))
	for {
		n, err := uc.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, bytes.Clone(buf[:n]))
	}
}

func write(t *testing.T, c transport.Conn, b []byte) {
	t.Helper()
	errc := make(chan error, 1)
	if err := c.Post(func() { errc <- c.Write(b) }); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestUnknownAddressDropped: datagrams from a new address that are not a
// valid INITIAL (garbage, a DATA, a short INITIAL) make no connection and
// get no answer bigger than themselves; each is counted.
func TestUnknownAddressDropped(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	tr := newTransport(t, udp.Config{})
	accepted := make(chan struct{}, 10)
	ln := listen(t, tr, d, func(transport.Conn) transport.Handler { accepted <- struct{}{}; return newRec() })
	uc := rawSocket(t, ln)
	short := udpwire.Append(nil, udpwire.Packet{Type: udpwire.Initial, Payload: []byte("hi")})[:udpwire.MinInitialBytes-1]
	probes := [][]byte{[]byte("garbage"), {0x50, 1, 2, 3}, short, make([]byte, 1500)}
	for _, p := range probes {
		if _, err := uc.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the probes to be counted", func() bool { return tr.Stats().DroppedUnknown == uint64(len(probes)) })
	for _, r := range readAll(uc, 50*time.Millisecond) {
		p, err := udpwire.Parse(r)
		if err != nil || p.Type != udpwire.Reset {
			t.Errorf("an unknown address got %x back; want nothing or a RESET", r)
		}
	}
	if len(accepted) != 0 {
		t.Errorf("%d connections accepted from garbage", len(accepted))
	}
}

// TestNoAmplification: before the dialer's address is validated the
// listener's connection sends it no more bytes than it received; after
// the RESPONSE it sends freely.
func TestNoAmplification(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	tr := newTransport(t, udp.Config{})
	big := bytes.Repeat([]byte{7}, udp.DefaultMaxDatagramBytes)
	ln := listen(t, tr, d, func(transport.Conn) transport.Handler {
		r := newRec()
		r.reply = func(c transport.Conn, _ []byte) { _ = c.Writev([][]byte{big, big, big}) }
		return r
	})
	uc := rawSocket(t, ln)
	first := udpwire.Append(nil, udpwire.Packet{Type: udpwire.Initial, Payload: []byte("hello")})
	if _, err := uc.Write(first); err != nil {
		t.Fatal(err)
	}
	got := readAll(uc, 100*time.Millisecond)
	total := 0
	var token [udpwire.TokenLen]byte
	for _, b := range got {
		total += len(b)
		if p, err := udpwire.Parse(b); err == nil && p.Type == udpwire.Challenge {
			token = p.Token
		}
	}
	if total > len(first) {
		t.Errorf("the listener sent %d bytes to an unvalidated address that sent %d", total, len(first))
	}
	if token == ([udpwire.TokenLen]byte{}) {
		t.Fatalf("no CHALLENGE among the %d datagrams that came back", len(got))
	}
	if tr.Stats().DroppedAmplification == 0 {
		t.Errorf("Stats.DroppedAmplification is 0; the replies beyond the limit should count")
	}
	// Validate, then a DATA draws the whole reply.
	if _, err := uc.Write(udpwire.Append(nil, udpwire.Packet{Type: udpwire.Response, Token: token})); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the RESPONSE goes first
	if _, err := uc.Write(udpwire.Append(nil, udpwire.Packet{Type: udpwire.Data, Payload: []byte("again")})); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range readAll(uc, 200*time.Millisecond) {
		if p, err := udpwire.Parse(b); err == nil && p.Type == udpwire.Data && bytes.Equal(p.Payload, big) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d of 3 full datagrams arrived after validation", n)
	}
}

// TestResetClosesDialer: when the listener's side closes, the dialer's
// next datagram draws a RESET that closes its connection with ErrReset.
func TestResetClosesDialer(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 2)
	tr := newTransport(t, udp.Config{})
	conns := make(chan transport.Conn, 1)
	ln := listen(t, tr, d, func(c transport.Conn) transport.Handler { conns <- c; return newRec() })
	r := newRec()
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], r)
	if err != nil {
		t.Fatal(err)
	}
	write(t, c, []byte("one"))
	ac := <-conns
	eventually(t, "the CHALLENGE exchange", func() bool { return tr.Stats().DatagramsReceived == 1 })
	time.Sleep(20 * time.Millisecond)
	_ = ac.Close()
	eventually(t, "the accepted side to close", func() bool { return ac.Post(func() {}) != nil })
	// Its socket closes a moment after its mailbox: a datagram that comes
	// meanwhile is lost there, so the dialer sends until it is reset.
	deadline := time.After(wait)
	for done := false; !done; {
		// A smaller one draws none. Write fails once the RESET has come.
		_ = c.Post(func() { _ = c.Write([]byte("two: longer than a RESET")) })
		select {
		case err := <-r.closed:
			if !errors.Is(err, transport.ErrReset) || !strings.Contains(err.Error(), "RESET") {
				t.Errorf("dialer OnClose(%v); want an error wrapping ErrReset that names the RESET", err)
			}
			done = true
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("the dialer was not reset (stats %+v)", tr.Stats())
		}
	}
	if s := tr.Stats(); s.ResetsSent == 0 || s.ResetsReceived == 0 {
		t.Errorf("stats %+v; want ResetsSent and ResetsReceived counted", s)
	}
}

// TestConnLimit: a listener keeps at most MaxConns connections; the
// INITIALs of further addresses are dropped and counted.
func TestConnLimit(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	tr := newTransport(t, udp.Config{MaxConns: 2})
	accepted := make(chan transport.Conn, 10)
	ln := listen(t, tr, d, func(c transport.Conn) transport.Handler { accepted <- c; return newRec() })
	for i := range 3 {
		c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], newRec())
		if err != nil {
			t.Fatal(err)
		}
		write(t, c, []byte{byte(i)})
	}
	eventually(t, "the third INITIAL to be dropped", func() bool { return tr.Stats().DroppedConnLimit == 1 })
	if len(accepted) != 2 {
		t.Errorf("%d connections accepted; want MaxConns = 2", len(accepted))
	}
	// Closing one makes room.
	(<-accepted).Close()
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], newRec())
	if err != nil {
		t.Fatal(err)
	}
	write(t, c, []byte("room"))
	select {
	case <-accepted:
	case <-time.After(wait):
		t.Fatal("no connection accepted after one closed")
	}
}

// TestFaults: Loss 1 drops everything a connection sends, Duplicate 1
// sends everything twice.
func TestFaults(t *testing.T) {
	leakCheck(t)
	d := newDriver(t, 1)
	for _, tc := range []struct {
		name   string
		faults udp.Faults
		pkts   int // written: 1 with Write, more with one Writev
		want   int
	}{
		{"loss", udp.Faults{Loss: 1}, 1, 0}, {"duplicate", udp.Faults{Duplicate: 1}, 1, 2},
		{"loss/writev", udp.Faults{Loss: 1}, 3, 0}, {"duplicate/writev", udp.Faults{Duplicate: 1}, 3, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransport(t, udp.Config{Faults: tc.faults})
			r := newRec()
			ln := listen(t, tr, d, func(transport.Conn) transport.Handler { return r })
			c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], newRec())
			if err != nil {
				t.Fatal(err)
			}
			bufs := [][]byte{[]byte("x"), []byte("y"), []byte("z")}[:tc.pkts]
			if tc.pkts == 1 {
				write(t, c, bufs[0])
			} else {
				writev(t, c, bufs)
			}
			if tc.want > 0 {
				r.waitCount(t, tc.want)
			} else {
				eventually(t, "the loss to be counted", func() bool { return tr.Stats().DroppedByFaults == uint64(tc.pkts) })
			}
			time.Sleep(20 * time.Millisecond)
			if n := r.count(); n != tc.want {
				t.Errorf("%d packets arrived; want %d", n, tc.want)
			}
			if tc.want > 0 {
				r.mu.Lock()
				for i, p := range r.packets {
					if w := bufs[i/2]; !bytes.Equal(p, w) {
						t.Errorf("packet %d is %q; want %q (each twice, in order)", i, p, w)
					}
				}
				r.mu.Unlock()
			}
			c.Close()
		})
	}
}

// TestMoveWhileEchoing moves both ends of a connection between workers
// while packets are echoed: every packet comes back exactly once, and the
// handlers run on the connection's owner.
func TestMoveWhileEchoing(t *testing.T) {
	leakCheck(t)
	const packets, window = 3000, 16
	d := newDriver(t, 2)
	tr := newTransport(t, udp.Config{})
	conns := make(chan transport.Conn, 1)
	ln := listen(t, tr, d, func(c transport.Conn) transport.Handler {
		conns <- c
		r := newRec()
		r.reply = func(c transport.Conn, b []byte) { _ = c.Write(b) }
		return r
	})
	r := newRec()
	var next int
	send := func(c transport.Conn) {
		for ; next < packets && next < r.count()+window; next++ {
			_ = c.Write([]byte{byte(next >> 8), byte(next)})
		}
	}
	r.reply = func(c transport.Conn, _ []byte) { send(c) }
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], r)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Post(func() { send(c) }); err != nil {
		t.Fatal(err)
	}
	ac := <-conns
	ws := d.Workers()
	moves := 0
	for i := 0; r.count() < packets; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		m := []transport.Conn{c, ac}[i%2]
		// ErrNotOwner: the last move's socket is not on its new loop yet.
		if err := d.Move(ctx, m, ws[(i/2)%2]); err != nil && !errors.Is(err, driver.ErrMoving) && !errors.Is(err, driver.ErrNotOwner) {
			cancel()
			t.Fatalf("move %d: %v", i, err)
		}
		cancel()
		moves++
		if i > 100000 {
			t.Fatalf("only %d of %d packets came back", r.count(), packets)
		}
		// A packet may be lost on loopback only if a socket buffer
		// overflows, which a 16-packet window never does; kick the
		// sender anyway so that a loss shows as a wrong count, not a hang.
		_ = c.Post(func() { send(c) })
	}
	seen := map[int]bool{}
	r.mu.Lock()
	for _, p := range r.packets {
		n := int(p[0])<<8 | int(p[1])
		if seen[n] {
			t.Errorf("packet %d came back twice", n)
		}
		seen[n] = true
	}
	r.mu.Unlock()
	t.Logf("%d packets echoed across %d moves", len(seen), moves)
	c.Close()
}

// TestConfigValidate names the bad field.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  udp.Config
		want string
	}{
		{udp.Config{MaxDatagramBytes: -1}, "MaxDatagramBytes"},
		{udp.Config{MaxDatagramBytes: 70000}, "MaxDatagramBytes"},
		{udp.Config{MaxConns: -1}, "MaxConns"},
		{udp.Config{Faults: udp.Faults{Loss: 1.5}}, "Faults.Loss"},
	} {
		if _, err := udp.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v; want an error naming %s", tc.cfg, err, tc.want)
		}
	}
}
