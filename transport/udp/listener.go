package udp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/udpwire"
	"github.com/weftnet/weft/transport"
)

// listener is one UDP socket bound to the listening address. Its goroutine
// reads only what the kernel does not deliver to a connection's own
// socket: first datagrams from new addresses, and the few that arrived
// before that connection's socket was connected.
type listener struct {
	t      *Transport
	uc     *net.UDPConn
	d      *driver.Driver
	accept transport.AcceptFunc
	bound  netip.AddrPort // the listening socket's address, port resolved
	addr   ma.Multiaddr
	secret [32]byte // keys the tokens: HMAC(secret, remote address)
	done   chan struct{}
	once   sync.Once

	mu     sync.Mutex
	conns  map[netip.AddrPort]*conn
	closed bool

	// Touched only by the read goroutine.
	buf        []byte
	stray      []stray // see sweep
	strayBytes int     // of the datagrams in stray
	resetAllow float64 // token bucket of RESETs
	resetAt    time.Time
}

func newListener(t *Transport, uc *net.UDPConn, d *driver.Driver, accept transport.AcceptFunc) (*listener, error) {
	ap := boundAddr(uc)
	l := &listener{t: t, uc: uc, d: d, accept: accept, bound: ap, addr: fromAddrPort(ap),
		done: make(chan struct{}), conns: make(map[netip.AddrPort]*conn), buf: make([]byte, 1<<16)}
	if _, err := rand.Read(l.secret[:]); err != nil {
		return nil, fmt.Errorf("udp: listen: %w", err)
	}
	return l, nil
}

func (l *listener) Addr() ma.Multiaddr { return l.addr }

// Close stops accepting: the listening socket closes, so datagrams from
// addresses without a connection get no answer from now on. Connections
// already accepted keep their own sockets and are not affected.
func (l *listener) Close() error {
	var err error
	l.once.Do(func() {
		l.mu.Lock()
		l.closed = true
		l.mu.Unlock()
		err = l.uc.Close()
		notListening(l.bound)
	})
	<-l.done
	return err
}

// token returns the token of remote address ap: a dialer echoes it to
// prove it receives what is sent there, and a RESET carries it so that
// the dialer can tell it came from this listener. It depends only on the
// listener's secret and ap, so a RESET needs no state.
func (l *listener) token(ap netip.AddrPort) (tok [udpwire.TokenLen]byte) {
	m := hmac.New(sha256.New, l.secret[:])
	b, _ := ap.MarshalBinary()
	m.Write(b)
	copy(tok[:], m.Sum(nil))
	return tok
}

// run is the read goroutine.
func (l *listener) run() {
	defer close(l.done)
	for {
		n, from, err := l.uc.ReadFromUDPAddrPort(l.buf)
		if err != nil {
			if isClosedErr(err) {
				return
			}
			continue // an ICMP error reported on the socket, say
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if !l.dispatch(from, l.buf[:n]) {
			return
		}
		for len(l.stray) > 0 {
			s := l.stray[0]
			l.stray[0] = stray{}
			l.stray = l.stray[1:]
			l.strayBytes -= len(s.b)
			if !l.dispatch(s.from, s.b) {
				return
			}
		}
		l.stray = nil // no backing array kept
	}
}

// dispatch routes one datagram that the listening socket received. It
// reports false once the driver has closed.
func (l *listener) dispatch(from netip.AddrPort, b []byte) bool {
	l.mu.Lock()
	c, known := l.conns[from]
	closed, full := l.closed, len(l.conns) >= l.t.cfg.MaxConns
	l.mu.Unlock()
	if known {
		l.handOver(c, b)
		return true
	}
	p, err := udpwire.Parse(b)
	switch {
	case err == nil && p.Type == udpwire.Initial:
		if closed || full {
			l.t.stats.connLimit.Add(1)
			return true
		}
		return l.open(from, b)
	case err == nil && (p.Type == udpwire.Data || p.Type == udpwire.Response):
		l.t.stats.unknown.Add(1)
		l.reset(from, len(b))
	default:
		l.t.stats.unknown.Add(1)
	}
	return true
}

// handOver queues a copy of b for c's worker, within Config.MaxQueued.
func (l *listener) handOver(c *conn, b []byte) {
	if int(c.queued.Add(1)) > l.t.cfg.MaxQueued {
		c.queued.Add(-1)
		l.t.stats.queueFull.Add(1)
		return
	}
	b = append([]byte(nil), b...)
	if c.mb.Post(func() { c.handOver(b) }) != nil {
		c.queued.Add(-1) // closed meanwhile
	}
}

// reset tells from that this listener has no connection for it, unless
// the RESET would be bigger than what came (no amplification) or the rate
// limit is spent.
func (l *listener) reset(from netip.AddrPort, got int) {
	if got <= udpwire.ControlLen || !l.allowReset() {
		return
	}
	pkt := udpwire.Append(nil, udpwire.Packet{Type: udpwire.Reset, Token: l.token(from)})
	l.t.stats.resetsS.Add(1) // before it can arrive: tests read both counters
	if _, err := l.uc.WriteToUDPAddrPort(pkt, from); err != nil {
		l.t.stats.resetsS.Add(^uint64(0))
	}
}

func (l *listener) allowReset() bool {
	now := time.Now()
	rate := float64(l.t.cfg.ResetsPerSecond)
	burst := max(rate/10, 1)
	l.resetAllow = min(burst, l.resetAllow+now.Sub(l.resetAt).Seconds()*rate)
	l.resetAt = now
	if l.resetAllow < 1 {
		return false
	}
	l.resetAllow--
	return true
}

// open makes the connection of a new remote address: a socket bound to
// the listening address and connected to from, so that the kernel hands
// it from's datagrams from now on, enrolled on a worker where the
// AcceptFunc runs and then gets the first datagram.
func (l *listener) open(from netip.AddrPort, first []byte) bool {
	uc, err := l.socketFor(from)
	if err != nil {
		l.t.cfg.Logger.Debug("udp: listener: socket for a new address", "remote", from, "err", err)
		l.t.stats.connLimit.Add(1)
		return true
	}
	holdPort(l.bound)
	w := l.d.Pick()
	c, err := newConn(l.t, w, uc, roleAccepted)
	if err != nil {
		uc.Close()
		releasePort(l.bound)
		l.t.stats.connLimit.Add(1)
		return true
	}
	c.ln, c.accept, c.token, c.port = l, l.accept, l.token(from), l.bound
	c.first = [][]byte{append([]byte(nil), first...)}
	l.sweep(uc, c)
	l.mu.Lock()
	l.conns[from] = c
	l.mu.Unlock()
	if err := w.Enroll(uc, c); err != nil {
		l.remove(c)
		c.closeFD()
		return !errors.Is(err, driver.ErrClosed)
	}
	return true
}

// remove forgets c (when it closes).
func (l *listener) remove(c *conn) {
	l.mu.Lock()
	if l.conns[c.remoteAP] == c {
		delete(l.conns, c.remoteAP)
	}
	l.mu.Unlock()
}
