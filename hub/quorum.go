package hub

import (
	"github.com/weftnet/weft/identity"
)

// Reply is one member's successful answer to a request.
type Reply struct {
	Peer    identity.PeerID
	Payload []byte
}

// qphase is where one member stands in a quorum call.
type qphase uint8

const (
	qWaiting qphase = iota // not asked yet: not connected
	qAsked                 // request queued, no answer yet
	qReplied               // answered successfully
	qFailed                // answered with an error, or its connection ended: final
)

// quorumState is the bookkeeping of one quorum call, without sockets or
// clocks: which members to ask, who answered, and whether the call is over.
// A member is asked once it is connected, at most once per call unless the
// request could not even be queued; a member whose connection ends after
// its request was queued counts as failed (it may or may not have seen the
// request, so it is not asked again).
type quorumState struct {
	need    int
	order   []identity.PeerID
	phase   map[identity.PeerID]qphase
	replies []Reply
	failed  []*PeerError
}

func newQuorumState(members []identity.PeerID, need int) *quorumState {
	q := &quorumState{need: need, order: members, phase: make(map[identity.PeerID]qphase, len(members))}
	for _, m := range members {
		q.phase[m] = qWaiting
	}
	return q
}

// toAsk returns the waiting members that are connected now and marks them
// asked.
func (q *quorumState) toAsk(connected func(identity.PeerID) bool) []identity.PeerID {
	var out []identity.PeerID
	for _, m := range q.order {
		if q.phase[m] == qWaiting && connected(m) {
			q.phase[m] = qAsked
			out = append(out, m)
		}
	}
	return out
}

// sendFailed: the request to m could not be queued; m waits to be asked
// again once connected.
func (q *quorumState) sendFailed(m identity.PeerID) {
	if q.phase[m] == qAsked {
		q.phase[m] = qWaiting
	}
}

// answer records m's answer. Answers from members not asked, or a second
// answer, are ignored; answer reports whether it counted.
func (q *quorumState) answer(a answer) bool {
	if q.phase[a.peer] != qAsked {
		return false
	}
	if a.err != nil {
		q.phase[a.peer] = qFailed
		q.failed = append(q.failed, &PeerError{Peer: a.peer, Err: a.err})
		return true
	}
	q.phase[a.peer] = qReplied
	q.replies = append(q.replies, Reply{Peer: a.peer, Payload: a.payload})
	return true
}

// done reports whether enough members replied.
func (q *quorumState) done() bool { return len(q.replies) >= q.need }

// hopeless reports whether the quorum can no longer be reached: too many
// members failed for good.
func (q *quorumState) hopeless() bool { return len(q.order)-len(q.failed) < q.need }

// outstanding reports whether an answer is still expected from a member
// already asked.
func (q *quorumState) outstanding() bool {
	for _, p := range q.phase {
		if p == qAsked {
			return true
		}
	}
	return false
}
