package hub

import (
	"errors"
	"fmt"
	"time"

	"github.com/weftnet/weft/endpoint"
)

// conn is one endpoint to a member, on one lane. Its fields are guarded by
// Hub.mu except ended, and p and lane once the Hello arrived.
type conn struct {
	h         *Hub
	ep        *endpoint.Endpoint
	p         *peer
	lane      Lane
	dialed    bool
	helloRecv bool   // the peer's Hello arrived
	epoch     uint64 // the peer's hub instance, from its Hello
	activated bool   // became its lane's connection at some point
	ended     bool
	timer     *time.Timer // closes the connection if it is not activated in time
}

// accept runs on the endpoint's worker for each endpoint a listener
// accepted: members get a connection, others are refused.
func (h *Hub) accept(ep *endpoint.Endpoint) {
	h.mu.Lock()
	p, member := h.peers[ep.Peer()]
	closed := h.closed
	h.mu.Unlock()
	if closed {
		_ = ep.Close()
		return
	}
	if !member {
		h.stats.refusedNotMember.Add(1)
		h.cfg.Logger.Info("hub: refused a connection from a peer that is not a member", "peer", ep.Peer())
		refuse(ep, RefuseNotMember, "not a member")
		return
	}
	h.stats.accepted.Add(1)
	h.adopt(ep, p, 0, false)
}

// refuse tells the peer why, then closes the endpoint (gracefully: the
// Refuse frame is delivered first).
func refuse(ep *endpoint.Endpoint, code uint8, reason string) {
	f := Frame{Kind: KindRefuse, Code: code, Payload: truncReason(reason)}
	_ = ep.TrySend(AppendFrame(nil, &f))
	_ = ep.Close()
}

// adopt registers a new endpoint to member p and starts reading it. A
// dialer sends its Hello at once; the accepting side answers the dialer's.
func (h *Hub) adopt(ep *endpoint.Endpoint, p *peer, lane Lane, dialed bool) {
	c := &conn{h: h, ep: ep, p: p, lane: lane, dialed: dialed}
	h.mu.Lock()
	if h.closed || p.gone.Load() {
		h.mu.Unlock()
		refuse(ep, RefuseNotMember, "not a member")
		return
	}
	h.conns[c] = struct{}{}
	h.byEP[ep] = c
	if dialed {
		p.lanes[lane].pending[c] = struct{}{}
		c.sendLocked(&Frame{Kind: KindHello, Epoch: h.epoch, Lane: lane})
	}
	c.timer = time.AfterFunc(h.cfg.HelloTimeout, c.helloTimedOut)
	h.wg.Add(1)
	h.mu.Unlock()
	go c.read()
	select {
	case <-ep.Done(): // ended before we registered it: OnClose may have missed it
		h.connEnded(c, ep.Err())
	default:
	}
}

// sendLocked queues a set-up frame without blocking (the endpoint is new,
// its buffer has room).
func (c *conn) sendLocked(f *Frame) {
	_ = c.ep.TrySend(AppendFrame(nil, f))
}

func (c *conn) helloTimedOut() {
	c.h.mu.Lock()
	late := !c.activated && !c.ended
	c.h.mu.Unlock()
	if late {
		c.h.cfg.Logger.Debug("hub: connection not activated in time", "peer", c.ep.Peer())
		_ = c.ep.Close()
	}
}

// read runs on its own goroutine: it hands each frame of the endpoint to
// the hub, in order, until the endpoint ends or the hub closes.
func (c *conn) read() {
	h := c.h
	defer h.wg.Done()
	var f Frame
	for {
		msg, err := c.ep.Recv(h.ctx)
		if err != nil {
			return // the endpoint ended (OnClose reports it) or the hub closed
		}
		if err := ParseFrame(msg, &f); err != nil {
			h.protocolError(c, err)
			return
		}
		if err := h.handleFrame(c, &f); err != nil {
			h.protocolError(c, err)
			return
		}
		// The handler is done with the payload (it copies what it keeps):
		// the buffer goes back to the endpoint's pool.
		c.ep.Release(msg)
	}
}

func (h *Hub) protocolError(c *conn, err error) {
	h.stats.badFrames.Add(1)
	h.cfg.Logger.Info("hub: closing a connection that broke the protocol", "peer", c.ep.Peer(), "err", err)
	_ = c.ep.Close()
}

var errUnexpected = errors.New("hub: unexpected frame")

// handleFrame acts on one frame from c.
func (h *Hub) handleFrame(c *conn, f *Frame) error {
	switch f.Kind {
	case KindHello:
		return h.onHello(c, f)
	case KindActivate:
		return h.onActivate(c)
	case KindRefuse:
		h.onRefuse(c, f)
		return nil
	case KindMessage, KindRequest:
		return h.deliver(c, f)
	case KindReply, KindError:
		return h.onAnswer(c, f)
	}
	return fmt.Errorf("%w: %v", errUnexpected, f.Kind)
}

// arbiter reports whether this node decides for the pair (h, p).
func (h *Hub) arbiter(p *peer) bool { return h.self.Compare(p.id) < 0 }

func (h *Hub) onHello(c *conn, f *Frame) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case c.helloRecv:
		return fmt.Errorf("%w: second hello", errUnexpected)
	case c.dialed && f.Lane != c.lane:
		return fmt.Errorf("%w: hello for lane %v on a %v connection", errUnexpected, f.Lane, c.lane)
	case c.ended || c.p.gone.Load():
		return nil
	}
	c.helloRecv, c.epoch = true, f.Epoch
	if !c.dialed {
		c.lane = f.Lane
		c.p.lanes[c.lane].pending[c] = struct{}{}
		c.sendLocked(&Frame{Kind: KindHello, Epoch: h.epoch, Lane: c.lane})
	}
	ls := &c.p.lanes[c.lane]
	act := ls.active.Load()
	var actEpoch uint64
	if act != nil {
		actEpoch = act.epoch
	}
	switch decideHello(h.arbiter(c.p), act != nil, actEpoch, c.epoch) {
	case actActivate:
		h.activateLocked(c)
	case actReplace:
		h.retireLocked(act)
		h.activateLocked(c)
	case actDropActive:
		h.retireLocked(act)
	case actRefuseDuplicate:
		h.stats.refusedDuplicate.Add(1)
		h.dropPendingLocked(c)
		refuse(c.ep, RefuseDuplicate, "the lane is connected")
	case actRefuseStale:
		h.dropPendingLocked(c)
		refuse(c.ep, RefuseStale, "a newer instance is connected")
	}
	return nil
}

// onActivate: the arbiter chose c for its lane.
func (h *Hub) onActivate(c *conn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.arbiter(c.p) || !c.helloRecv || c.activated {
		return fmt.Errorf("%w: activate", errUnexpected)
	}
	if c.ended || c.p.gone.Load() {
		return nil
	}
	if act := c.p.lanes[c.lane].active.Load(); act != nil && act != c {
		h.retireLocked(act)
	}
	h.activateLocked(c)
	return nil
}

func (h *Hub) activateLocked(c *conn) {
	ls := &c.p.lanes[c.lane]
	delete(ls.pending, c)
	c.activated = true
	c.timer.Stop()
	if h.arbiter(c.p) {
		c.sendLocked(&Frame{Kind: KindActivate})
	}
	ls.active.Store(c)
	h.separateLanesLocked(c.p)
	h.refreshUpLocked(c.p, nil)
	h.cfg.Logger.Debug("hub: lane connected", "peer", c.p.id, "lane", c.lane, "dialed", c.dialed)
}

// separateLanesLocked keeps a member's Control and Bulk connections apart:
// the Control connection moves (live, losing nothing) to the driver's
// urgent worker, which carries only such connections and which busy
// workers hand the CPU to when it has I/O waiting (driver.Driver.Urgent),
// so a worker busy encrypting and writing a bulk transfer never holds up a
// vote or a heartbeat, even when the transfer keeps every CPU busy.
func (h *Hub) separateLanesLocked(p *peer) {
	ctl := p.lanes[Control].active.Load()
	dst := h.cfg.Driver.Urgent()
	if ctl == nil || dst == nil || ctl.ep.Owner() == dst {
		return
	}
	_ = h.cfg.Driver.MoveAsync(ctl.ep, dst, func(err error) {
		if err != nil {
			h.cfg.Logger.Debug("hub: could not move a control connection to the urgent worker", "peer", p.id, "err", err)
		}
	})
}

// deactivateLocked takes c off its lane; the caller closes it.
func (h *Hub) deactivateLocked(c *conn, why error) {
	ls := &c.p.lanes[c.lane]
	if ls.active.Load() == c {
		ls.active.Store(nil)
		h.refreshUpLocked(c.p, why)
		wake(ls.wake)
	}
}

// retireLocked takes off its lane a connection to an instance of the peer
// that has since restarted, and closes it. Nothing on it can be delivered
// any more, so Close does not wait for it (its endpoint ends within
// ResumeTimeout, or at once if it was the dialing side).
func (h *Hub) retireLocked(c *conn) {
	h.deactivateLocked(c, ErrPeerRestarted)
	delete(h.conns, c)
	_ = c.ep.Close()
}

func (h *Hub) dropPendingLocked(c *conn) {
	delete(c.p.lanes[c.lane].pending, c)
}

func (h *Hub) onRefuse(c *conn, f *Frame) {
	h.stats.refusedBy.Add(1)
	err := fmt.Errorf("%w: code %d: %s", ErrRefused, f.Code, f.Payload)
	h.mu.Lock()
	if f.Code == RefuseNotMember {
		c.p.lastErr = err
	}
	h.mu.Unlock()
	h.cfg.Logger.Debug("hub: connection refused by peer", "peer", c.p.id, "err", err)
	_ = c.ep.Close()
}

// endpointClosed is every hub endpoint's OnClose.
// Undelivered set-up frames (on a connection refused or replaced before
// activation) are not counted: they carried nothing of the application's.
func (h *Hub) endpointClosed(ep *endpoint.Endpoint, err error, undelivered int) {
	h.mu.Lock()
	c := h.byEP[ep]
	if c == nil || c.activated {
		h.stats.undelivered.Add(uint64(undelivered))
	}
	h.mu.Unlock()
	if c != nil {
		h.connEnded(c, err)
	}
}

// connEnded forgets a connection that ended, once: its lane goes down if it
// was the lane's, and requests sent on it fail.
func (h *Hub) connEnded(c *conn, err error) {
	h.mu.Lock()
	if c.ended {
		h.mu.Unlock()
		return
	}
	c.ended = true
	c.timer.Stop()
	delete(h.conns, c)
	delete(h.byEP, c.ep)
	ls := &c.p.lanes[c.lane]
	delete(ls.pending, c)
	if err == nil {
		err = endpoint.ErrClosed
	}
	h.deactivateLocked(c, err)
	wake(ls.wake)
	h.mu.Unlock()
	h.pend.failConn(c, &PeerError{Peer: c.p.id, Err: fmt.Errorf("%w: connection ended: %w", ErrNotConnected, err)})
}

func (c *conn) isEnded() bool {
	c.h.mu.Lock()
	defer c.h.mu.Unlock()
	return c.ended
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
