package hub

import (
	"sync"

	"github.com/weftnet/weft/identity"
)

// answer is the outcome of one request: a reply's payload, or an error.
type answer struct {
	id      uint64
	peer    identity.PeerID
	payload []byte
	err     error
}

// call is a request waiting for its answer.
type call struct {
	peer identity.PeerID
	conn *conn // the connection the request went out on
	ch   chan<- answer
}

// pending is the correlation table: requests sent and not yet answered,
// by id. An answer is delivered at most once; a reply from another peer
// than the one asked, or for an unknown id, is dropped and reported. Safe
// for concurrent use.
type pending struct {
	mu    sync.Mutex
	next  uint64
	calls map[uint64]call
}

func newPending() *pending { return &pending{calls: make(map[uint64]call)} }

// add registers a call and returns its id. ch must have room for the
// answer: delivery never blocks.
func (p *pending) add(peer identity.PeerID, c *conn, ch chan<- answer) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	p.calls[p.next] = call{peer: peer, conn: c, ch: ch}
	return p.next
}

// resolve delivers the answer to call id from peer. It reports false when
// no such call waits for that peer (late, duplicated or forged).
func (p *pending) resolve(id uint64, a answer) bool {
	p.mu.Lock()
	c, ok := p.calls[id]
	if ok && c.peer == a.peer {
		delete(p.calls, id)
	}
	p.mu.Unlock()
	if !ok || c.peer != a.peer {
		return false
	}
	a.id = id
	c.ch <- a
	return true
}

// cancel forgets call id (its caller gave up). It reports whether the call
// was still waiting.
func (p *pending) cancel(id uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.calls[id]
	delete(p.calls, id)
	return ok
}

// failConn answers every call sent on c with err and returns how many.
func (p *pending) failConn(c *conn, err error) int {
	p.mu.Lock()
	failed := make(map[uint64]call)
	for id, cl := range p.calls {
		if cl.conn == c {
			failed[id] = cl
			delete(p.calls, id)
		}
	}
	p.mu.Unlock()
	for id, cl := range failed {
		cl.ch <- answer{id: id, peer: cl.peer, err: err}
	}
	return len(failed)
}

// len returns how many calls wait.
func (p *pending) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}
