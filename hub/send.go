package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
)

// Message is a message or a request from a member, as the Handler gets
// it.
type Message struct {
	From    identity.PeerID
	Lane    Lane
	Payload []byte // valid until the handler returns: copy what you keep

	h        *Hub
	c        *conn
	id       uint64
	request  bool
	answered atomic.Bool
}

// IsRequest reports whether the sender waits for an answer (Reply or
// Fail).
func (m *Message) IsRequest() bool { return m.request }

// errAnswered is returned by a second answer to one request.
var errAnswered = errors.New("hub: request already answered")

var errNotRequest = errors.New("hub: not a request")

// Reply answers a request with payload, on the connection and lane it
// came in on. Call it once, from any goroutine, during or after the
// handler; it blocks like Send.
func (m *Message) Reply(ctx context.Context, payload []byte) error {
	return m.answer(ctx, &Frame{Kind: KindReply, ID: m.id, Payload: payload})
}

// Fail answers a request with an error: the requester gets a *RemoteError
// carrying reason (cut to 1 KiB).
func (m *Message) Fail(ctx context.Context, reason string) error {
	return m.answer(ctx, &Frame{Kind: KindError, ID: m.id, Payload: truncReason(reason)})
}

func (m *Message) answer(ctx context.Context, f *Frame) error {
	if !m.request {
		return errNotRequest
	}
	if m.answered.Swap(true) {
		return errAnswered
	}
	return m.h.sendFrame(ctx, m.c, f)
}

// OnLane is the messaging operations on one lane; Hub.On returns it. The
// Hub's own Send, Broadcast, Request and Quorum use the Control lane.
type OnLane struct {
	h    *Hub
	lane Lane
}

// On returns the operations of lane l.
func (h *Hub) On(l Lane) OnLane { return OnLane{h, l} }

// Send sends msg to member peer on the Control lane; see OnLane.Send.
func (h *Hub) Send(ctx context.Context, peer identity.PeerID, msg []byte) error {
	return h.On(Control).Send(ctx, peer, msg)
}

// Broadcast sends msg to every member on the Control lane; see
// OnLane.Broadcast.
func (h *Hub) Broadcast(ctx context.Context, msg []byte) error {
	return h.On(Control).Broadcast(ctx, msg)
}

// Request sends a request on the Control lane and waits for its answer;
// see OnLane.Request.
func (h *Hub) Request(ctx context.Context, peer identity.PeerID, msg []byte) ([]byte, error) {
	return h.On(Control).Request(ctx, peer, msg)
}

// Quorum asks every member on the Control lane and waits for k replies;
// see OnLane.Quorum.
func (h *Hub) Quorum(ctx context.Context, msg []byte, k int) ([]Reply, error) {
	return h.On(Control).Quorum(ctx, msg, k)
}

// Send queues msg (copied) for member peer. It blocks while the lane's
// send buffer is full, until ctx ends. Messages on one lane to one member
// arrive in Send order, exactly once, for as long as its connection lives
// (a connection survives transport failures shorter than
// Config.Endpoint.ResumeTimeout); a member that is not connected fails at
// once with ErrNotConnected, wrapped in a *PeerError.
func (o OnLane) Send(ctx context.Context, peer identity.PeerID, msg []byte) error {
	c, err := o.h.activeConn(peer, o.lane)
	if err != nil {
		return err
	}
	return o.h.sendFrame(ctx, c, &Frame{Kind: KindMessage, Payload: msg})
}

// Broadcast sends msg to every member. It returns nil when every member
// got it queued, else a *BroadcastError naming each member that did not
// (and why): never a silent partial.
func (o OnLane) Broadcast(ctx context.Context, msg []byte) error {
	h := o.h
	members := h.Members()
	bp := getBuf()
	defer putBuf(bp)
	b := AppendFrame((*bp)[:0], &Frame{Kind: KindMessage, Payload: msg})
	*bp = b
	var failed []*PeerError
	var full []*conn
	for _, id := range members { // first without waiting, so one full member delays no other
		c, err := h.activeConn(id, o.lane)
		if err == nil {
			err = c.ep.TrySend(b)
			if errors.Is(err, endpoint.ErrBufferFull) {
				full = append(full, c)
				continue
			}
		}
		if err != nil {
			failed = append(failed, asPeerError(id, sendErr(err)))
		}
	}
	for _, c := range full {
		if err := c.ep.Send(ctx, b); err != nil {
			failed = append(failed, asPeerError(c.p.id, sendErr(err)))
		}
	}
	if len(failed) > 0 {
		return &BroadcastError{Failed: failed, Sent: len(members) - len(failed)}
	}
	return nil
}

// Request sends msg to member peer as a request and waits for the answer:
// the reply's payload, a *RemoteError if the peer's handler failed it, or
// a *PeerError if the member is not connected or its connection ended
// first. A ctx without deadline gets Config.RequestTimeout.
func (o OnLane) Request(ctx context.Context, peer identity.PeerID, msg []byte) ([]byte, error) {
	ctx, cancel := o.h.withTimeout(ctx)
	defer cancel()
	ch := make(chan answer, 1)
	id, err := o.h.request(ctx, peer, o.lane, msg, ch)
	if err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a.payload, a.err
	case <-ctx.Done():
		if !o.h.pend.cancel(id) {
			a := <-ch // answered meanwhile
			return a.payload, a.err
		}
		return nil, &PeerError{Peer: peer, Err: ctx.Err()}
	}
}

func (h *Hub) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, h.cfg.RequestTimeout)
}

// request queues a request to peer; unless it returns an error, exactly
// one answer will arrive on ch (which must have room for it).
func (h *Hub) request(ctx context.Context, peer identity.PeerID, lane Lane, msg []byte, ch chan<- answer) (uint64, error) {
	c, err := h.activeConn(peer, lane)
	if err != nil {
		return 0, err
	}
	id := h.pend.add(peer, c, ch)
	if c.isEnded() {
		err = asPeerError(peer, ErrNotConnected)
	} else {
		err = h.sendFrame(ctx, c, &Frame{Kind: KindRequest, ID: id, Payload: msg})
	}
	if err != nil && h.pend.cancel(id) {
		return 0, err
	}
	return id, nil // sent, or already answered (the connection ended): the answer is on ch
}

// activeConn returns the connection of peer's lane.
func (h *Hub) activeConn(peer identity.PeerID, lane Lane) (*conn, error) {
	if !lane.valid() {
		return nil, fmt.Errorf("hub: unknown lane %d", uint8(lane))
	}
	p := h.member(peer)
	if p == nil {
		if h.isClosed() {
			return nil, ErrClosed
		}
		return nil, &PeerError{Peer: peer, Err: ErrNotMember}
	}
	c := p.lanes[lane].active.Load()
	if c == nil {
		return nil, &PeerError{Peer: peer, Err: ErrNotConnected}
	}
	return c, nil
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// sendFrame encodes f and queues it on c, blocking like Endpoint.Send.
func (h *Hub) sendFrame(ctx context.Context, c *conn, f *Frame) error {
	bp := getBuf()
	*bp = AppendFrame((*bp)[:0], f)
	err := c.ep.Send(ctx, *bp)
	putBuf(bp)
	if err != nil {
		return asPeerError(c.p.id, sendErr(err))
	}
	return nil
}

// sendErr maps an endpoint's closing to ErrNotConnected.
func sendErr(err error) error {
	if errors.Is(err, endpoint.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	return err
}

func asPeerError(id identity.PeerID, err error) *PeerError {
	var pe *PeerError
	if errors.As(err, &pe) {
		return pe
	}
	return &PeerError{Peer: id, Err: err}
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

// putBuf returns a frame buffer to the pool (sync.Pool lets the garbage
// collector drop idle ones, so large frames may be pooled too: a bulk
// stream then encodes without allocating).
func putBuf(bp *[]byte) { bufPool.Put(bp) }

// deliver hands a message or request from c to the handler.
func (h *Hub) deliver(c *conn, f *Frame) error {
	if !c.activated {
		return fmt.Errorf("%w: %v before activation", errUnexpected, f.Kind)
	}
	if c.p.gone.Load() {
		h.stats.dropped.Add(1)
		return nil
	}
	m := &Message{From: c.p.id, Lane: c.lane, Payload: f.Payload, h: h, c: c, id: f.ID, request: f.Kind == KindRequest}
	fn := h.handler.Load()
	if fn == nil {
		h.stats.dropped.Add(1)
		if m.request {
			_ = m.Fail(h.ctx, "no handler")
		}
		return nil
	}
	(*fn)(m)
	return nil
}

// onAnswer matches a reply or error to the request waiting for it.
func (h *Hub) onAnswer(c *conn, f *Frame) error {
	if !c.activated {
		return fmt.Errorf("%w: %v before activation", errUnexpected, f.Kind)
	}
	a := answer{peer: c.p.id}
	if f.Kind == KindReply {
		a.payload = append([]byte(nil), f.Payload...) // the frame's buffer is reused
	} else {
		a.err = &RemoteError{Peer: c.p.id, Message: string(f.Payload)}
	}
	if !h.pend.resolve(f.ID, a) {
		h.stats.stray.Add(1)
	}
	return nil
}
