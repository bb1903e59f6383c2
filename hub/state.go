package hub

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftnet/weft/identity"
)

// PeerEvent reports a member going up (every lane connected) or down.
type PeerEvent struct {
	Peer identity.PeerID
	Up   bool
	Err  error // why it went down, when known
}

// PeerState is a snapshot of one member.
type PeerState struct {
	Contact identity.Contact
	Up      bool           // every lane is connected
	Lanes   [numLanes]bool // per lane (indexed by Lane): connected
	Since   time.Time      // when Up last changed
	LastErr error          // why it last went down or failed to connect
}

// Peers returns a snapshot of every member, sorted by peer ID.
func (h *Hub) Peers() []PeerState {
	h.mu.Lock()
	out := make([]PeerState, 0, len(h.peers))
	for _, p := range h.peers {
		out = append(out, p.stateLocked())
	}
	h.mu.Unlock()
	slices.SortFunc(out, func(a, b PeerState) int { return a.Contact.ID.Compare(b.Contact.ID) })
	return out
}

// Peer returns a snapshot of member id.
func (h *Hub) Peer(id identity.PeerID) (PeerState, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.peers[id]
	if !ok {
		return PeerState{}, false
	}
	return p.stateLocked(), true
}

func (p *peer) stateLocked() PeerState {
	s := PeerState{Contact: identity.Contact{ID: p.id, Addrs: slices.Clone(p.addrs)}, Up: p.up, Since: p.since, LastErr: p.lastErr}
	for i := range p.lanes {
		s.Lanes[i] = p.lanes[i].active.Load() != nil
	}
	return s
}

// Connected reports whether member id is up on lane.
func (h *Hub) Connected(id identity.PeerID, lane Lane) bool {
	p := h.member(id)
	return p != nil && lane.valid() && p.lanes[lane].active.Load() != nil
}

// WaitConnected waits until at least n members are up (n ≤ 0: all of
// them), or ctx ends.
func (h *Hub) WaitConnected(ctx context.Context, n int) error {
	for {
		h.mu.Lock()
		up, want := 0, n
		for _, p := range h.peers {
			if p.up {
				up++
			}
		}
		if want <= 0 {
			want = len(h.peers)
		}
		ch, closed := h.changed, h.closed
		h.mu.Unlock()
		if closed {
			return ErrClosed
		}
		if up >= want {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// refreshUpLocked recomputes whether p is up after a lane changed.
func (h *Hub) refreshUpLocked(p *peer, why error) {
	up := true
	for i := range p.lanes {
		up = up && p.lanes[i].active.Load() != nil
	}
	h.setUpLocked(p, up, why)
}

func (h *Hub) setUpLocked(p *peer, up bool, why error) {
	if why != nil {
		p.lastErr = why
	}
	if p.up == up {
		return
	}
	p.up, p.since = up, time.Now()
	if !up {
		h.stats.downs.Add(1)
	}
	close(h.changed)
	h.changed = make(chan struct{})
	ev := PeerEvent{Peer: p.id, Up: up}
	if !up {
		ev.Err = why
	}
	h.events.push(ev)
}

// changes returns a channel closed at the next member state change.
func (h *Hub) changes() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// Stats counts what the hub did.
type Stats struct {
	Members, Up      int
	Dials            uint64 // dial attempts (transport dial and handshake)
	DialFailures     uint64
	Accepted         uint64 // connections accepted from members
	RefusedNotMember uint64 // connections from peers that are not members (unknown or removed), refused
	RefusedDuplicate uint64 // second connections on a lane (simultaneous dials), refused by us as arbiter
	RefusedByPeer    uint64 // our connections a peer refused
	Downs            uint64 // times a member went down
	BadFrames        uint64 // frames that did not parse or broke the protocol; the connection closed
	Undelivered      uint64 // messages queued on connections that ended before the peer acknowledged them
	StrayReplies     uint64 // replies to no waiting request (after a timeout) or from the wrong peer
	Dropped          uint64 // messages dropped: no handler, or from a member being removed
}

type counters struct {
	dials, dialFailures, accepted                 atomic.Uint64
	refusedNotMember, refusedDuplicate, refusedBy atomic.Uint64
	downs, badFrames, undelivered, stray, dropped atomic.Uint64
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() Stats {
	s := &h.stats
	st := Stats{Dials: s.dials.Load(), DialFailures: s.dialFailures.Load(), Accepted: s.accepted.Load(),
		RefusedNotMember: s.refusedNotMember.Load(), RefusedDuplicate: s.refusedDuplicate.Load(), RefusedByPeer: s.refusedBy.Load(),
		Downs: s.downs.Load(), BadFrames: s.badFrames.Load(), Undelivered: s.undelivered.Load(),
		StrayReplies: s.stray.Load(), Dropped: s.dropped.Load()}
	h.mu.Lock()
	st.Members = len(h.peers)
	for _, p := range h.peers {
		if p.up {
			st.Up++
		}
	}
	h.mu.Unlock()
	return st
}

// eventQueue delivers peer events in order on one goroutine, without
// making the code that raises them wait.
type eventQueue struct {
	fn     func(PeerEvent)
	mu     sync.Mutex
	q      []PeerEvent
	wake   chan struct{}
	done   chan struct{}
	closed bool
}

func newEventQueue(fn func(PeerEvent), wg *sync.WaitGroup) *eventQueue {
	e := &eventQueue{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if fn != nil {
		wg.Add(1)
		go e.run(wg)
	}
	return e
}

func (e *eventQueue) push(ev PeerEvent) {
	if e.fn == nil {
		return
	}
	e.mu.Lock()
	if !e.closed {
		e.q = append(e.q, ev)
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *eventQueue) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		e.mu.Lock()
		q := e.q
		e.q = nil
		closed := e.closed
		e.mu.Unlock()
		for _, ev := range q {
			e.fn(ev)
		}
		if closed && len(q) == 0 {
			return
		}
		select {
		case <-e.wake:
		case <-e.done:
		}
	}
}

// close delivers what is queued, then stops.
func (e *eventQueue) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	close(e.done)
}
