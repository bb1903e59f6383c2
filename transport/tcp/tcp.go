package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// Config configures a Transport. Zero values mean the defaults beside them.
type Config struct {
	// CloseTimeout bounds how long Close waits for written bytes to reach
	// the OS before it closes anyway. Default 5s.
	CloseTimeout time.Duration
	// MoveTimeout bounds how long a move waits for the send buffer to
	// drain before it gives up (the connection stays where it was).
	// Default 1s.
	MoveTimeout time.Duration
	// SocketSendBuffer and SocketRecvBuffer set SO_SNDBUF and SO_RCVBUF;
	// 0 keeps the OS's autotuning.
	SocketSendBuffer, SocketRecvBuffer int
}

func (c *Config) validate() error {
	if c.CloseTimeout < 0 || c.MoveTimeout < 0 || c.SocketSendBuffer < 0 || c.SocketRecvBuffer < 0 {
		return errors.New("tcp: Config has a negative field")
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = 5 * time.Second
	}
	if c.MoveTimeout == 0 {
		c.MoveTimeout = time.Second
	}
	return nil
}

// Transport is the TCP transport. Its connections run on driver workers'
// gnet event loops: no goroutine per connection. Dialling uses the
// caller's goroutine; each listener has one accept goroutine.
type Transport struct {
	cfg    Config
	dialer net.Dialer
}

var _ transport.Transport = (*Transport)(nil)

// New returns a TCP transport.
func New(cfg Config) (*Transport, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Transport{cfg: cfg}, nil
}

// Kind returns transport.Stream.
func (t *Transport) Kind() transport.Kind { return transport.Stream }

// Handles reports whether addr is /ip4|ip6/<ip>/tcp/<port>, optionally
// followed by /p2p/<peer-id>.
func (t *Transport) Handles(addr ma.Multiaddr) bool {
	_, err := tcpAddr(addr)
	return err == nil
}

// tcpAddr converts addr into a *net.TCPAddr.
func tcpAddr(addr ma.Multiaddr) (*net.TCPAddr, error) {
	if n := len(addr); n > 0 && addr[n-1].Protocol().Code == ma.P_P2P {
		addr = addr[:n-1]
	}
	if len(addr) != 2 || addr[1].Protocol().Code != ma.P_TCP {
		return nil, fmt.Errorf("%w: %q is not /ip4|ip6/<ip>/tcp/<port>", transport.ErrUnsupportedAddr, addr.String())
	}
	if c := addr[0].Protocol().Code; c != ma.P_IP4 && c != ma.P_IP6 {
		return nil, fmt.Errorf("%w: %q is not /ip4|ip6/<ip>/tcp/<port>", transport.ErrUnsupportedAddr, addr.String())
	}
	na, err := manet.ToNetAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", transport.ErrUnsupportedAddr, addr.String(), err)
	}
	return na.(*net.TCPAddr), nil
}

func fromNetAddr(a net.Addr) ma.Multiaddr {
	m, err := manet.FromNetAddr(a)
	if err != nil {
		return nil
	}
	return m
}

// Dial connects to addr; see transport.Transport.
func (t *Transport) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	ta, err := tcpAddr(addr)
	if err != nil {
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	nc, err := t.dialer.DialContext(ctx, "tcp", ta.String())
	if err != nil {
		return nil, &transport.DialError{Addr: addr, Err: dialErr(ctx, err)}
	}
	if err := t.tune(nc); err != nil {
		nc.Close()
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	c := newConn(t, w, h, nil, nc)
	if err := w.Enroll(nc, c); err != nil {
		return nil, &transport.DialError{Addr: addr, Err: err}
	}
	return c, nil
}

func dialErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w: %w", transport.ErrRefused, err)
	}
	return err
}

func (t *Transport) tune(nc net.Conn) error {
	tc := nc.(*net.TCPConn)
	if t.cfg.SocketSendBuffer > 0 {
		if err := tc.SetWriteBuffer(t.cfg.SocketSendBuffer); err != nil {
			return fmt.Errorf("tcp: SO_SNDBUF: %w", err)
		}
	}
	if t.cfg.SocketRecvBuffer > 0 {
		if err := tc.SetReadBuffer(t.cfg.SocketRecvBuffer); err != nil {
			return fmt.Errorf("tcp: SO_RCVBUF: %w", err)
		}
	}
	return tc.SetNoDelay(true)
}

// Listen accepts TCP connections at addr; see transport.Transport.
func (t *Transport) Listen(addr ma.Multiaddr, d *driver.Driver, accept transport.AcceptFunc) (transport.Listener, error) {
	ta, err := tcpAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.ListenTCP("tcp", ta)
	if err != nil {
		return nil, fmt.Errorf("tcp: listen %s: %w", addr, err)
	}
	l := &listener{t: t, ln: ln, d: d, accept: accept, addr: fromNetAddr(ln.Addr()), done: make(chan struct{})}
	go l.run()
	return l, nil
}

type listener struct {
	t      *Transport
	ln     *net.TCPListener
	d      *driver.Driver
	accept transport.AcceptFunc
	addr   ma.Multiaddr
	done   chan struct{}
	once   sync.Once
}

func (l *listener) Addr() ma.Multiaddr { return l.addr }

func (l *listener) Close() error {
	var err error
	l.once.Do(func() { err = l.ln.Close() })
	<-l.done
	return err
}

// run is the listener's accept goroutine. Each accepted socket goes to the
// least busy worker, where the accept callback runs in OnOpen.
func (l *listener) run() {
	defer close(l.done)
	backoff := time.Duration(0)
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: wait and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if err := l.t.tune(nc); err != nil {
			nc.Close()
			continue
		}
		w := l.d.Pick()
		c := newConn(l.t, w, nil, l.accept, nc)
		if err := w.Enroll(nc, c); err != nil && errors.Is(err, driver.ErrClosed) {
			return
		}
	}
}
