package libp2ptest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	golibp2p "github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	yamux "github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	p2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/quicreuse"
	p2ptcp "github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	quicgo "github.com/quic-go/quic-go"
	"go.uber.org/fx"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/libp2p"
)

// DefaultListeners is the number of listening hosts of a Net whose
// Config.Listeners is 0: more than the transport listeners the
// conformance suites keep open at once. (The endpoint suite's BadInput
// opens eight endpoint listeners one after the other, and an endpoint
// listener keeps its transport listener open after Close while sessions
// it accepted may still resume.)
const DefaultListeners = 10

// connectTimeout bounds the connections New makes between its hosts.
const connectTimeout = 10 * time.Second

// NewHost returns a go-libp2p host for tests: TCP on loopback only (no
// listen address unless listen is true), Noise, yamux, no relay, no NAT
// port mapping, no metrics, no resource or connection limits. key is its
// identity (a fresh one if zero).
func NewHost(key identity.PrivateKey, listen bool) (host.Host, error) {
	return newHost(key, listen, nil, nil)
}

// NewQUICHost is NewHost with QUIC instead of TCP (and its TLS instead of
// Noise and yamux), over UDP sockets that suffer f.
func NewQUICHost(key identity.PrivateKey, listen bool, f Faults) (host.Host, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	return newHost(key, listen, &f, new(FaultStats))
}

// newHost makes a TCP host, or a QUIC one if quic is not nil, whose
// faults stats counts.
func newHost(key identity.PrivateKey, listen bool, quic *Faults, stats *FaultStats) (host.Host, error) {
	if key.IsZero() {
		var err error
		if key, err = identity.GenerateKey(rand.Reader); err != nil {
			return nil, err
		}
	}
	sk, err := libp2p.HostKey(key)
	if err != nil {
		return nil, err
	}
	opts := []golibp2p.Option{
		golibp2p.Identity(sk),
		golibp2p.ResourceManager(&network.NullResourceManager{}),
		golibp2p.ConnectionManager(&connmgr.NullConnMgr{}),
		golibp2p.DisableRelay(),
		golibp2p.DisableMetrics(),
		golibp2p.DisableIdentifyAddressDiscovery(),
	}
	listenAddr := "/ip4/127.0.0.1/tcp/0"
	if quic != nil {
		listenAddr = "/ip4/127.0.0.1/udp/0/quic-v1"
		opts = append(opts, golibp2p.Transport(p2pquic.NewTransport))
		if quic.any() {
			opts = append(opts, golibp2p.QUICReuse(faultyConnManager(*quic, stats)))
		}
	} else {
		opts = append(opts,
			golibp2p.Transport(p2ptcp.NewTCPTransport),
			golibp2p.Security(noise.ID, noise.New),
			golibp2p.Muxer(yamux.ID, yamux.DefaultTransport))
	}
	if listen {
		opts = append(opts, golibp2p.ListenAddrStrings(listenAddr))
	} else {
		opts = append(opts, golibp2p.NoListenAddrs)
	}
	h, err := golibp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("libp2ptest: new host: %w", err)
	}
	return h, nil
}

// faultyConnManager returns a constructor of go-libp2p's QUIC connection
// manager whose UDP sockets suffer f. (libp2p.QUICReuse with options
// would leave the manager open when the host closes: this one closes it.)
func faultyConnManager(f Faults, stats *FaultStats) func(quicgo.StatelessResetKey, quicgo.TokenGeneratorKey, fx.Lifecycle) (*quicreuse.ConnManager, error) {
	return func(key quicgo.StatelessResetKey, tokens quicgo.TokenGeneratorKey, lc fx.Lifecycle) (*quicreuse.ConnManager, error) {
		cm, err := quicreuse.NewConnManager(key, tokens, quicreuse.OverrideListenUDP(faultsListener(f, stats)))
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StopHook(cm.Close))
		return cm, nil
	}
}

// Config configures a Net. The zero value is the default of every field.
type Config struct {
	// Listeners is the number of listening hosts. Default DefaultListeners.
	Listeners int
	// Transport is the configuration of every host's transport; its Host
	// is filled in. Default: libp2p's defaults.
	Transport libp2p.Config
	// QUIC makes the hosts QUIC hosts (NewQUICHost) instead of TCP ones.
	QUIC bool
	// Faults, with QUIC, makes every host's UDP sockets lose, duplicate
	// and reorder datagrams.
	Faults Faults
}

// Net is a set of go-libp2p hosts on loopback, each with a weft libp2p
// transport: host 0 dials, hosts 1 to Listeners listen. New connects host
// 0 to every other host before it returns, so a test that checks for
// leaked goroutines after New sees no connection start or end. Net.
// Transport is the transport.Transport a conformance suite runs over.
type Net struct {
	dialer    *libp2p.Transport
	listeners []*libp2p.Transport
	hosts     []host.Host
	tr        *netTransport
	faults    FaultStats
}

// Faults returns what Config.Faults did so far to the datagrams of the
// Net's hosts.
func (n *Net) Faults() *FaultStats { return &n.faults }

// New starts a Net. Close it when done.
func New(cfg Config) (n *Net, err error) {
	if cfg.Listeners < 0 {
		return nil, fmt.Errorf("libp2ptest: Config.Listeners is %d; it must not be negative", cfg.Listeners)
	}
	if cfg.Listeners == 0 {
		cfg.Listeners = DefaultListeners
	}
	if err := cfg.Faults.validate(); err != nil {
		return nil, err
	}
	if cfg.Faults.any() && !cfg.QUIC {
		return nil, fmt.Errorf("libp2ptest: Config.Faults needs Config.QUIC: TCP hosts have no datagrams to lose")
	}
	n = &Net{}
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()
	for i := range cfg.Listeners + 1 {
		var quic *Faults
		if cfg.QUIC {
			f := cfg.Faults
			f.Seed += uint64(i) // each host its own faults
			quic = &f
		}
		h, err := newHost(identity.PrivateKey{}, i > 0, quic, &n.faults)
		if err != nil {
			return nil, err
		}
		n.hosts = append(n.hosts, h)
		tcfg := cfg.Transport
		tcfg.Host = h
		tr, err := libp2p.New(tcfg)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			n.dialer = tr
		} else {
			n.listeners = append(n.listeners, tr)
		}
	}
	if err := n.connect(); err != nil {
		return nil, err
	}
	n.tr = &netTransport{n: n, busy: make(map[*libp2p.Transport]int)}
	return n, nil
}

// connect connects the dialing host to every listening host.
func (n *Net) connect() error {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	for _, h := range n.hosts[1:] {
		if err := n.hosts[0].Connect(ctx, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}); err != nil {
			return fmt.Errorf("libp2ptest: connect to %s: %w", h.ID(), err)
		}
	}
	return nil
}

// Dialer returns the transport of host 0, which Transport dials with.
func (n *Net) Dialer() *libp2p.Transport { return n.dialer }

// Listeners returns the transports of the listening hosts.
func (n *Net) Listeners() []*libp2p.Transport { return n.listeners }

// Transport returns a transport.Transport that dials from host 0 and
// listens on the listening host whose address Listen gets (see
// ListenAddr), so one suite's dialers and listeners are different hosts,
// as libp2p requires.
func (n *Net) Transport() transport.Transport { return n.tr }

// ListenAddr returns the address of a listening host that has no open
// listener (the first, if all have one: Listen there then fails).
func (n *Net) ListenAddr() ma.Multiaddr {
	tr := n.tr.free()
	return tr.Host().Addrs()[0]
}

// ClosedAddr returns a loopback TCP address where nothing listens, with
// the /p2p/ of a fresh peer ID: a dial to it from a TCP Net fails with
// ErrRefused. (A QUIC dial to a closed port is not refused: it times out.)
func (n *Net) ClosedAddr() (ma.Multiaddr, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	key, err := identity.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	id := identity.PeerIDFromPublicKey(key.Public())
	return ma.NewMultiaddr("/ip4/127.0.0.1/tcp/" + strconv.Itoa(port) + "/p2p/" + id.String())
}

// Close closes every host.
func (n *Net) Close() error {
	var errs []error
	for _, h := range n.hosts {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}

// netTransport spreads a suite's listeners over the listening hosts.
type netTransport struct {
	n *Net

	mu   sync.Mutex
	busy map[*libp2p.Transport]int // open listeners per listening host
}

func (t *netTransport) Kind() transport.Kind { return transport.Stream }

func (t *netTransport) Handles(addr ma.Multiaddr) bool { return t.n.dialer.Handles(addr) }

func (t *netTransport) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	return t.n.dialer.Dial(ctx, addr, w, h)
}

// Listen listens on the listening host that addr belongs to.
func (t *netTransport) Listen(addr ma.Multiaddr, d *driver.Driver, accept transport.AcceptFunc) (transport.Listener, error) {
	tr := t.owner(addr)
	if tr == nil {
		return t.n.dialer.Listen(addr, d, accept) // fails with the transport's own error
	}
	ln, err := tr.Listen(addr, d, accept)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.busy[tr]++
	t.mu.Unlock()
	return &netListener{Listener: ln, t: t, tr: tr}, nil
}

// owner returns the listening host's transport that has addr (with or
// without its /p2p/), or nil.
func (t *netTransport) owner(addr ma.Multiaddr) *libp2p.Transport {
	for _, tr := range t.n.listeners {
		self := ma.StringCast("/p2p/" + tr.Host().ID().String())
		for _, a := range tr.Host().Addrs() {
			if addr.Equal(a) || addr.Equal(a.Encapsulate(self)) || addr.Equal(self) {
				return tr
			}
		}
	}
	return nil
}

// free returns a listening host's transport without an open listener.
func (t *netTransport) free() *libp2p.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.n.listeners {
		if t.busy[tr] == 0 {
			return tr
		}
	}
	return t.n.listeners[0]
}

type netListener struct {
	transport.Listener
	t    *netTransport
	tr   *libp2p.Transport
	once sync.Once
}

func (l *netListener) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() {
		l.t.mu.Lock()
		l.t.busy[l.tr]--
		l.t.mu.Unlock()
	})
	return err
}
