package endpoint

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
)

// codeUnknownSession is the CLOSE code a listener sends when asked to
// resume a session it does not have.
const codeUnknownSession = 1

// codeSessionEnded is the CLOSE code a listener sends when asked to resume
// a session that ended there; its HELLO says how much of the dialer's log
// had arrived.
const codeSessionEnded = 2

// Dial opens an endpoint to the peer at addr over tr, on a worker of d
// that it picks. If addr ends in /p2p/<peer-id>, the peer must prove that
// identity or Dial fails with ErrPeerMismatch before any message flows.
// Dial blocks until the endpoint is up or ctx ends; do not call it from a
// worker. Later reconnections happen in the background.
func Dial(ctx context.Context, d *driver.Driver, tr transport.Transport, addr ma.Multiaddr, cfg Config) (*Endpoint, error) {
	taddr, expect, _, err := identity.SplitPeer(addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint: dial: %w", err)
	}
	return dial(ctx, d, []route{{tr, taddr}}, expect, cfg)
}

// DialContact opens an endpoint to the peer c names, which must prove that
// identity, over whichever of trs handles each of its addresses. It tries
// c.Addrs in order, happy-eyeballs style: when an attempt has not
// connected within DialStagger the next one starts beside it, the first
// transport connection up carries the handshake and the others are closed.
// Every reconnection starts over from the first address, so an endpoint
// whose connection died resumes over whichever transport answers now (a
// TCP session may carry on over QUIC), exactly once and in order.
// Addresses no transport in trs handles are skipped; if none is left,
// DialContact fails with transport.ErrUnsupportedAddr.
func DialContact(ctx context.Context, d *driver.Driver, trs []transport.Transport, c identity.Contact, cfg Config) (*Endpoint, error) {
	if c.ID.IsZero() {
		return nil, fmt.Errorf("endpoint: dial contact: the contact has no peer ID")
	}
	var routes []route
	for _, a := range c.Addrs {
		taddr, id, _, err := identity.SplitPeer(a)
		if err != nil {
			return nil, fmt.Errorf("endpoint: dial contact: %w", err)
		}
		if !id.IsZero() && id != c.ID {
			return nil, fmt.Errorf("endpoint: dial contact: address %s names peer %s, the contact is %s", a, id, c.ID)
		}
		for _, tr := range trs {
			if tr.Handles(taddr) {
				routes = append(routes, route{tr, taddr})
				break
			}
		}
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("endpoint: dial contact %s: none of its %d addresses has a transport here: %w", c.ID, len(c.Addrs), transport.ErrUnsupportedAddr)
	}
	return dial(ctx, d, routes, c.ID, cfg)
}

// DialStagger is how long DialContact waits for one address to connect
// before it also tries the next.
const DialStagger = 250 * time.Millisecond

// route is one way to reach the peer: an address and a transport for it.
type route struct {
	tr   transport.Transport
	addr ma.Multiaddr
}

func dial(ctx context.Context, d *driver.Driver, routes []route, expect identity.PeerID, cfg Config) (*Endpoint, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := d.Pick()
	ep := newEndpoint(d, w, cfg)
	ep.dialer, ep.routes, ep.expect, ep.session = true, routes, expect, newSessionID()
	ep.firstUp = make(chan error, 1)
	w.Track(ep)
	up := ep.firstUp
	if err := ep.dialOnce(ctx); err != nil {
		ep.abort(err)
		return nil, err
	}
	select {
	case err := <-up:
		if err != nil {
			ep.abort(err)
			return nil, err
		}
		return ep, nil
	case <-ctx.Done():
		ep.abort(ctx.Err())
		return nil, fmt.Errorf("endpoint: dial %s: %w", routes[0].addr, ctx.Err())
	}
}

// abort ends an endpoint whose first connection failed.
func (ep *Endpoint) abort(err error) {
	if ep.mb.Post(func() { ep.st.shutdown(err) }) != nil {
		return
	}
	<-ep.closed
}

// dialOnce dials one connection and starts its handshake; the link reports
// back through adoptDialed. It blocks for the transport dial only. With
// several routes it races them, staggered by DialStagger.
func (ep *Endpoint) dialOnce(ctx context.Context) error {
	if len(ep.routes) == 1 {
		return ep.dialRoute(ctx, ep.routes[0], nil)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var won atomic.Bool
	results := make(chan error, len(ep.routes))
	next, running := 0, 0
	start := func() {
		r := ep.routes[next]
		next++
		running++
		go func() { results <- ep.dialRoute(ctx, r, &won) }()
	}
	start()
	stagger := time.NewTimer(DialStagger)
	defer stagger.Stop()
	var errs []error
	for running > 0 {
		select {
		case err := <-results:
			running--
			if err == nil {
				return nil
			}
			errs = append(errs, err)
		case <-stagger.C:
		}
		if next < len(ep.routes) {
			start()
			stagger.Reset(DialStagger)
		}
	}
	return errors.Join(errs...)
}

// errLostRace: another route connected first.
var errLostRace = errors.New("endpoint: another address connected first")

// dialRoute dials r. With won set, only the first route to connect starts
// a handshake: a later one closes its connection and fails with
// errLostRace.
func (ep *Endpoint) dialRoute(ctx context.Context, r route, won *atomic.Bool) error {
	hc := ep.cfg.handshakeConfig(ep.expect)
	if err := hc.Check(); err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	l := newLink(&ep.cfg, nil, true)
	l.ep = ep
	l.onUp = func(l *link) { _ = ep.mb.Post(func() { ep.adoptDialed(l) }) }
	c, err := r.tr.Dial(ctx, r.addr, ep.Owner(), l)
	if err != nil {
		return fmt.Errorf("endpoint: dial: %w", err)
	}
	if won != nil && !won.CompareAndSwap(false, true) {
		_ = c.Post(func() {
			l.conn = c
			l.close() // silently: the winner reports
		})
		return errLostRace
	}
	// Here, not on the worker, and only now that c's type is known: a
	// Noise state costs a key generation and a signature.
	hs, hsErr := handshakeFor(c, hc, true)
	return c.Post(func() {
		l.conn = c
		l.datagram = c.Kind() == transport.Datagram
		if l.phase == phaseHandshake {
			l.start(hs, hsErr)
		}
	})
}

// redial runs on the worker: it dials in the background.
func (ep *Endpoint) redial() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ep.cfg.HandshakeTimeout)
		defer cancel()
		if err := ep.dialOnce(ctx); err != nil {
			_ = ep.mb.Post(func() { ep.linkFailed(err) })
		}
	}()
}

// adoptDialed runs on the endpoint's worker when a dialed link finished
// its handshake, or failed.
func (ep *Endpoint) adoptDialed(l *link) {
	if l.phase == phaseClosed {
		ep.linkFailed(l.err)
		return
	}
	ep.adopt(l)
}

// adopt takes a link whose handshake is done: it brings the connection to
// the endpoint's worker first if needed, then attaches it to the session.
func (ep *Endpoint) adopt(l *link) {
	if ep.isClosed() {
		_ = l.conn.Post(l.close)
		return
	}
	if w := ep.Owner(); l.conn.Owner() != w {
		err := ep.d.MoveAsync(l.conn, w, func(err error) {
			if err != nil {
				_ = l.conn.Post(func() { l.fail(err) })
				return
			}
			_ = ep.mb.Post(func() { ep.adopt(l) })
		})
		if err != nil {
			_ = l.conn.Post(func() { l.fail(err) })
		}
		return
	}
	if ep.peer.IsZero() {
		ep.peer, ep.expect = l.res.Peer, l.res.Peer
	} else if l.res.Peer != ep.peer {
		l.fail(fmt.Errorf("%w: resumed by %s, session belongs to %s", ErrPeerMismatch, l.res.Peer, ep.peer))
		return
	}
	if ep.st.everUp {
		ep.stats.resumes.Add(1)
	}
	l.attach(&ep.st)
}

// linkFailed: a dial or handshake failed (on the worker).
func (ep *Endpoint) linkFailed(err error) {
	if ep.firstUp != nil {
		ep.connected(err)
		return
	}
	if ep.st.link == nil && !ep.isClosed() {
		ep.cfg.Logger.Debug("endpoint: redial failed", "err", err)
		ep.st.armResume()
		ep.st.scheduleRedial()
	}
}

// connected reports the outcome of the first connection to Dial.
func (ep *Endpoint) connected(err error) {
	if err == nil {
		ep.st.everUp = true
	}
	if ep.firstUp != nil {
		ep.firstUp <- err
		ep.firstUp = nil
	}
}
