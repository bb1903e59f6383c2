package bench

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
)

// weft runs endpoints over a registered transport: the server's Handler
// counts (Sink) or echoes with TrySend (Echo) on its worker; the sender
// calls SendBatch, the pinger Send then Recv. Server and dialer each have
// their own Driver, as two nodes would.

func init() {
	registerSystem(Weft, systemEntry{open: newWeftSystem, variants: weftVariants})
}

func weftVariants(cfg *Config) []Variant {
	var vs []Variant
	for _, tr := range cfg.Transports {
		for _, sec := range cfg.Security {
			for _, w := range cfg.Workers {
				for _, z := range cfg.Compression {
					vs = append(vs, Variant{System: Weft, Transport: tr, Security: sec, Workers: w, Compression: z})
				}
			}
		}
	}
	return vs
}

// weftSystem keeps the transports of a run: one per node key, or one for
// all nodes of an InProcess transport (mem's two ends share a network).
type weftSystem struct {
	mu  sync.Mutex
	trs map[trKey]transport.Transport
	cl  closers
}

type trKey struct {
	name string
	key  byte // the node's weftKey; 0 for an InProcess transport
}

func newWeftSystem() System { return &weftSystem{trs: map[trKey]transport.Transport{}} }

// transport returns the transport name for the node with key weftKey(node).
func (s *weftSystem) transport(name string, node byte) (transport.Transport, TransportSpec, error) {
	spec, err := lookupTransport(name)
	if err != nil {
		return nil, spec, err
	}
	k := trKey{name, node}
	if spec.InProcess {
		k.key = 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tr, ok := s.trs[k]; ok {
		return tr, spec, nil
	}
	tr, closeFn, err := spec.New(weftKey(node))
	if err != nil {
		return nil, spec, fmt.Errorf("bench: open weft transport %s: %w", name, err)
	}
	if closeFn != nil {
		s.cl.add(closeFn)
	}
	s.trs[k] = tr
	return tr, spec, nil
}

func (s *weftSystem) Close() error { return s.cl.close() }

// The nodes of a run: every server has one fixed key, every dialer
// another, so that a server in another process is dialed by its peer ID.
const (
	serverNode byte = 1
	dialerNode byte = 2
)

// weftKey returns the fixed key of a node.
func weftKey(b byte) identity.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = b
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		panic(err) // a fixed, valid seed
	}
	return k
}

// endpointConfig turns a variant into an endpoint configuration.
func endpointConfig(v Variant, key identity.PrivateKey, max int) (endpoint.Config, error) {
	cfg := endpoint.Config{Identity: key, Compression: v.Compression}
	if max > endpoint.DefaultMaxMessageBytes {
		cfg.MaxMessageBytes = max
	}
	switch v.Security {
	case Secure:
	case AESGCM:
		cfg.Ciphers = []endpoint.Cipher{endpoint.AESGCM}
	case ChaChaPoly:
		cfg.Ciphers = []endpoint.Cipher{endpoint.ChaChaPoly}
	case Plaintext:
		cfg.InsecurePlaintext = true
	default:
		return cfg, fmt.Errorf("bench: weft security %q: %w", v.Security, ErrUnknown)
	}
	return cfg, nil
}

func closeDriver(d *driver.Driver) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return d.Close(ctx)
}

func (s *weftSystem) Listen(ctx context.Context, spec ServerSpec) (Server, error) {
	tr, ts, err := s.transport(spec.Variant.Transport, serverNode)
	if err != nil {
		return nil, err
	}
	key := weftKey(serverNode)
	cfg, err := endpointConfig(spec.Variant, key, spec.MaxMessageBytes)
	if err != nil {
		return nil, err
	}
	d, err := driver.New(driver.Config{Workers: spec.Variant.Workers})
	if err != nil {
		return nil, err
	}
	srv := &weftServer{counter: newCounter(), d: d}
	if spec.Mode == Echo {
		cfg.Handler = func(ep *endpoint.Endpoint, msg []byte) { _ = ep.TrySend(msg) }
	} else {
		cfg.Handler = func(*endpoint.Endpoint, []byte) { srv.add(1) }
	}
	ln, err := endpoint.Listen(d, tr, ma.StringCast(ts.ListenAddr), cfg, srv.accepted)
	if err != nil {
		_ = closeDriver(d)
		return nil, err
	}
	srv.ln = ln
	id := identity.PeerIDFromPublicKey(key.Public())
	srv.addr = ln.Addr().Encapsulate(ma.StringCast("/p2p/" + id.String())).String()
	return srv, nil
}

type weftServer struct {
	*counter
	d    *driver.Driver
	ln   *endpoint.Listener
	addr string
	eps  closers
}

func (s *weftServer) accepted(ep *endpoint.Endpoint) {
	if !s.eps.add(ep.Close) {
		_ = ep.Close()
	}
}

func (s *weftServer) Addr() string { return s.addr }

func (s *weftServer) Close() error {
	err := s.ln.Close()
	_ = s.eps.close()
	return errors.Join(err, closeDriver(s.d))
}

func (s *weftSystem) NewDialer(ctx context.Context, v Variant, max int) (Dialer, error) {
	tr, _, err := s.transport(v.Transport, dialerNode)
	if err != nil {
		return nil, err
	}
	cfg, err := endpointConfig(v, weftKey(dialerNode), max)
	if err != nil {
		return nil, err
	}
	d, err := driver.New(driver.Config{Workers: v.Workers})
	if err != nil {
		return nil, err
	}
	return &weftDialer{d: d, tr: tr, cfg: cfg}, nil
}

type weftDialer struct {
	d   *driver.Driver
	tr  transport.Transport
	cfg endpoint.Config
}

func (d *weftDialer) Dial(ctx context.Context, addr string, mode Mode) (Conn, error) {
	a, err := ma.NewMultiaddr(addr)
	if err != nil {
		return nil, fmt.Errorf("bench: weft address %q: %w", addr, err)
	}
	ep, err := endpoint.Dial(ctx, d.d, d.tr, a, d.cfg)
	if err != nil {
		return nil, err
	}
	return &weftConn{ep: ep}, nil
}

func (d *weftDialer) Close() error { return closeDriver(d.d) }

type weftConn struct {
	ep    *endpoint.Endpoint
	batch [][]byte
}

// Send implements Conn with SendBatch, 256 messages a call.
func (c *weftConn) Send(ctx context.Context, msg []byte, n int) error {
	for n > 0 {
		k := min(n, 256)
		c.batch = c.batch[:0]
		for range k {
			c.batch = append(c.batch, msg)
		}
		if _, err := c.ep.SendBatch(ctx, c.batch); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// RoundTrip implements Conn.
func (c *weftConn) RoundTrip(ctx context.Context, msg []byte) error {
	if err := c.ep.Send(ctx, msg); err != nil {
		return err
	}
	got, err := c.ep.Recv(ctx)
	if err == nil && len(got) != len(msg) {
		err = fmt.Errorf("bench: echo of %d bytes came back as %d", len(msg), len(got))
	}
	return err
}

// Close implements Conn: it waits (a few seconds at most) until the peer
// has acknowledged everything.
func (c *weftConn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.ep.CloseWait(ctx)
}
