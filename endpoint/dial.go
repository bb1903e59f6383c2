package endpoint

import (
	"context"
	"fmt"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/transport"
)

// codeUnknownSession is the CLOSE code a listener sends when asked to
// resume a session it does not have.
const codeUnknownSession = 1

// Dial opens an endpoint to the peer at addr over tr, on a worker of d
// that it picks. If addr ends in /p2p/<peer-id>, the peer must prove that
// identity or Dial fails with ErrPeerMismatch before any message flows.
// Dial blocks until the endpoint is up or ctx ends; do not call it from a
// worker. Later reconnections happen in the background.
func Dial(ctx context.Context, d *driver.Driver, tr transport.Transport, addr ma.Multiaddr, cfg Config) (*Endpoint, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	taddr, expect, _, err := identity.SplitPeer(addr)
	if err != nil {
		return nil, fmt.Errorf("endpoint: dial: %w", err)
	}
	w := d.Pick()
	ep := newEndpoint(d, tr, w, cfg)
	ep.dialer, ep.addr, ep.expect, ep.session = true, taddr, expect, newSessionID()
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
		return nil, fmt.Errorf("endpoint: dial %s: %w", addr, ctx.Err())
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
// back through adoptDialed. It blocks for the transport dial only.
func (ep *Endpoint) dialOnce(ctx context.Context) error {
	hs, err := handshake.NewInitiator(ep.cfg.handshakeConfig(ep.expect))
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	l := newLink(&ep.cfg, nil, true)
	l.ep = ep
	l.onUp = func(l *link) { _ = ep.mb.Post(func() { ep.adoptDialed(l) }) }
	c, err := ep.tr.Dial(ctx, ep.addr, ep.Owner(), l)
	if err != nil {
		return fmt.Errorf("endpoint: dial: %w", err)
	}
	return c.Post(func() {
		l.conn = c
		l.datagram = c.Kind() == transport.Datagram
		if l.phase == phaseHandshake {
			l.start(hs)
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
