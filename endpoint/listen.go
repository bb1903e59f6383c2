package endpoint

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/record"
	"github.com/weftnet/weft/transport"
)

// acceptBacklog bounds the sessions waiting for Accept.
const acceptBacklog = 128

// Listener accepts endpoints. It also resumes the sessions it accepted when
// their dialers reconnect, so keep it open while they live.
type Listener struct {
	d        *driver.Driver
	cfg      Config
	onAccept func(*Endpoint)
	backlog  chan *Endpoint

	mu       sync.Mutex
	sessions map[sessionKey]*Endpoint
	ended    map[sessionKey]tombstone // sessions that ended, refused until a time
	closed   bool
	tlns     []transport.Listener

	badLinks atomic.Uint64 // handshakes or first records that failed
	refused  atomic.Uint64 // sessions refused: backlog full, unknown resume
}

type sessionKey struct {
	peer identity.PeerID
	id   [16]byte
}

// Listen accepts endpoints at addr over tr. Each new endpoint goes to
// onAccept, called on the endpoint's worker (it must not block), or, when
// onAccept is nil, waits for Accept.
func Listen(d *driver.Driver, tr transport.Transport, addr ma.Multiaddr, cfg Config, onAccept func(*Endpoint)) (*Listener, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	ln := &Listener{d: d, cfg: cfg, onAccept: onAccept, sessions: make(map[sessionKey]*Endpoint), ended: make(map[sessionKey]tombstone)}
	if onAccept == nil {
		ln.backlog = make(chan *Endpoint, acceptBacklog)
	}
	if err := ln.Listen(tr, addr); err != nil {
		return nil, err
	}
	return ln, nil
}

// Listen makes ln accept at addr over tr too, into the same sessions: a
// dialer (DialContact) may start a session over one transport and resume
// it over another.
func (ln *Listener) Listen(tr transport.Transport, addr ma.Multiaddr) error {
	tln, err := tr.Listen(addr, ln.d, ln.acceptConn)
	if err != nil {
		return fmt.Errorf("endpoint: listen: %w", err)
	}
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.closed {
		_ = tln.Close()
		return fmt.Errorf("endpoint: listen: %w", ErrClosed)
	}
	ln.tlns = append(ln.tlns, tln)
	return nil
}

// Addr returns the first listening address.
func (ln *Listener) Addr() ma.Multiaddr { return ln.Addrs()[0] }

// Addrs returns every listening address, in the order they were added.
func (ln *Listener) Addrs() []ma.Multiaddr {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	addrs := make([]ma.Multiaddr, len(ln.tlns))
	for i, t := range ln.tlns {
		addrs[i] = t.Addr()
	}
	return addrs
}

// Accept waits for the next new endpoint (when Listen had no onAccept).
func (ln *Listener) Accept(ctx context.Context) (*Endpoint, error) {
	if ln.backlog == nil {
		return nil, fmt.Errorf("endpoint: Accept on a listener with an accept callback")
	}
	select {
	case ep, ok := <-ln.backlog:
		if !ok {
			return nil, fmt.Errorf("endpoint: accept: %w", ErrClosed)
		}
		return ep, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops accepting connections, new or resuming. Endpoints already
// accepted stay open until their connection dies and cannot be resumed.
func (ln *Listener) Close() error {
	ln.mu.Lock()
	if ln.closed {
		ln.mu.Unlock()
		return nil
	}
	ln.closed = true
	tlns := ln.tlns
	if ln.backlog != nil {
		close(ln.backlog)
	}
	ln.mu.Unlock()
	var errs []error
	for _, t := range tlns {
		errs = append(errs, t.Close())
	}
	err := errors.Join(errs...)
	return err
}

// BadConnections returns how many incoming connections failed their
// handshake or first record.
func (ln *Listener) BadConnections() uint64 { return ln.badLinks.Load() }

// acceptConn runs on the new connection's worker: the link runs the
// responder side of the handshake.
func (ln *Listener) acceptConn(c transport.Conn) transport.Handler {
	hc := ln.cfg.handshakeConfig(identity.PeerID{})
	if hc.Check() != nil {
		return nil
	}
	l := newLink(&ln.cfg, c, false)
	l.ln = ln
	l.start(handshakeFor(c, hc, false))
	return l
}

// adopt runs on the link's worker once the dialer's HELLO arrived: it finds
// the session the dialer resumes, or makes a new endpoint.
func (ln *Listener) adopt(l *link, h record.Hello) {
	key := sessionKey{l.res.Peer, h.SessionID}
	ln.mu.Lock()
	ep, known := ln.sessions[key]
	closed := ln.closed
	// A dialer resuming a session that ended here must not start it over:
	// what it resends would be delivered twice.
	tomb, ended := ln.ended[key]
	if !known && !closed && h.RecvOffset == 0 && !ended {
		ep = newEndpoint(ln.d, l.conn.Owner(), ln.cfg)
		ep.peer, ep.session, ep.ln = l.res.Peer, h.SessionID, ln
		ln.sessions[key] = ep
	}
	ln.mu.Unlock()
	switch {
	case closed:
		l.fail(fmt.Errorf("endpoint: listener closed: %w", ErrClosed))
	case known:
		_ = ep.mb.Post(func() { ep.adopt(l) })
	case ep == nil:
		ln.refused.Add(1)
		l.refuseResume(h, tomb, ended)
	default:
		ep.Owner().Track(ep)
		ep.adopt(l)
		if !ep.isClosed() {
			ln.deliver(ep)
		}
	}
}

func (ln *Listener) deliver(ep *Endpoint) {
	if ln.onAccept != nil {
		ln.onAccept(ep)
		return
	}
	// Under mu: Close closes the backlog under it, and a send on a closed
	// channel panics.
	ln.mu.Lock()
	queued := false
	if !ln.closed {
		select {
		case ln.backlog <- ep:
			queued = true
		default:
		}
	}
	ln.mu.Unlock()
	if !queued {
		ln.refused.Add(1)
		ep.st.shutdown(fmt.Errorf("endpoint: accept backlog full or listener closed: %w", ErrClosed))
	}
}

func (ln *Listener) forget(ep *Endpoint, recvd uint64) {
	key := sessionKey{ep.peer, ep.session}
	now := time.Now()
	ln.mu.Lock()
	if ln.sessions[key] == ep {
		delete(ln.sessions, key)
	}
	for k, t := range ln.ended {
		if now.After(t.until) {
			delete(ln.ended, k)
		}
	}
	// The dialer gives up resuming after its own ResumeTimeout.
	ln.ended[key] = tombstone{until: now.Add(2 * ln.cfg.ResumeTimeout), recvd: recvd}
	ln.mu.Unlock()
}

// tombstone remembers a session that ended here: how much of the dialer's
// log it had received, so that a dialer whose last acknowledgements were
// lost learns that they arrived (see refuseResume).
type tombstone struct {
	until time.Time
	recvd uint64
}

// refuseResume tells a dialer that this side does not have the session it
// resumes, then closes the link. If the session ended here (ended), the
// answer says how much of the dialer's log arrived before it did: a dialer
// that was closing and lost only our last acknowledgements (a link killed
// as the session ended) then knows everything arrived. Otherwise this side
// restarted and the session is lost.
func (l *link) refuseResume(h record.Hello, tomb tombstone, ended bool) {
	f := &l.frame
	*f = record.Frame{HasHello: true, HasClose: true}
	f.Hello = record.Hello{SessionID: h.SessionID}
	f.Close = record.Close{Code: codeUnknownSession}
	if ended {
		f.Hello.RecvOffset = tomb.recvd
		f.Close.Code = codeSessionEnded
	}
	pt := record.AppendPlaintext(nil, f, false, &l.zbuf)
	if out, _, err := l.seal(nil, pt); err == nil {
		_ = l.conn.Write(out)
	}
	l.close()
}
