package udp_test

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/weftnet/weft/internal/udpwire"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/udp"
)

// window is what the hook of TestStraysOfNewSocket needs: the address
// whose new socket's bind it waits for, and the socket that then sends.
type window struct {
	remote netip.AddrPort
	other  *net.UDPConn
	n      int
}

// TestStraysOfNewSocket: datagrams another address sends while a new
// connection's socket is bound but not yet connected (on Linux 6.13 and
// later that socket gets all of them once an accepted socket is
// connected, whatever the listener's reuseport program says) reach that
// address's own connection, never the new one. More of them than
// Config.MaxQueued are sent, so a sweep that stops there leaves some to
// the new connection.
func TestStraysOfNewSocket(t *testing.T) {
	leakCheck(t)
	const maxQueued, burst = 4, 12
	var armed atomic.Pointer[window]
	udp.SetTestHookBound(func(remote netip.AddrPort) {
		if w := armed.Load(); w != nil && w.remote == remote {
			for i := range w.n {
				_, _ = w.other.Write(initial(fmt.Sprintf("c %d", i)))
			}
		}
	})
	t.Cleanup(func() { udp.SetTestHookBound(nil) }) // after the listener's Close
	d := newDriver(t, 2)
	tr := newTransport(t, udp.Config{MaxQueued: maxQueued})
	var mu sync.Mutex
	recs := make(map[string]*rec) // by remote address
	ln := listen(t, tr, d, func(c transport.Conn) transport.Handler {
		r := newRec()
		mu.Lock()
		recs[c.RemoteAddr().String()] = r
		mu.Unlock()
		return r
	})
	recOf := func(uc *net.UDPConn) *rec {
		m, err := manet.FromNetAddr(uc.LocalAddr())
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return recs[m.String()]
	}

	a := rawSocket(t, ln) // an accepted socket that is connected
	if _, err := a.Write(initial("a")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first connection", func() bool { return recOf(a) != nil })
	c, b := rawSocket(t, ln), rawSocket(t, ln)
	armed.Store(&window{remote: b.LocalAddr().(*net.UDPAddr).AddrPort(), other: c, n: burst})
	if _, err := b.Write(initial("b")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "b's connection and its packet", func() bool { return recOf(b) != nil && recOf(b).count() > 0 })
	deadline := time.Now().Add(wait)
	for {
		rc := recOf(c)
		if rc != nil && uint64(rc.count())+tr.Stats().DroppedQueueFull == burst {
			break
		}
		if time.Now().After(deadline) {
			n := -1
			if rc != nil {
				n = rc.count()
			}
			t.Fatalf("c sent %d datagrams: its connection got %d, %d were dropped (queue full), b's got %q",
				burst, n, tr.Stats().DroppedQueueFull, packets(recOf(b)))
		}
		time.Sleep(time.Millisecond)
	}
	if got := packets(recOf(b)); !slices.Equal(got, []string{"b"}) {
		t.Errorf("b's connection got %q; want [b]", got)
	}
	for _, p := range packets(recOf(c)) {
		if len(p) < 2 || p[:2] != "c " {
			t.Errorf("c's connection got %q", p)
		}
	}
}

func initial(payload string) []byte {
	return udpwire.Append(nil, udpwire.Packet{Type: udpwire.Initial, Payload: []byte(payload)})
}

func packets(r *rec) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, p := range r.packets {
		out = append(out, string(p))
	}
	return out
}
