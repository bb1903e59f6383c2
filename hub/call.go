package hub

import (
	"context"
	"errors"
	"fmt"

	"github.com/weftnet/weft/identity"
)

// Quorum sends msg as a request to every member and returns as soon as k
// of them replied successfully, with those replies (in arrival order). A
// member that is not connected is asked when it connects, if that happens
// before the call ends; a member is asked at most once per call. If ctx
// ends first (a ctx without deadline gets Config.RequestTimeout), Quorum
// returns the replies it got and a *QuorumError wrapping ctx's error; if
// so many members answered with errors (or lost their connection after
// being asked) that k replies can no longer come, it returns at once with
// a *QuorumError wrapping ErrNoQuorum. The hub itself is not a member: it
// does not answer its own call.
func (o OnLane) Quorum(ctx context.Context, msg []byte, k int) ([]Reply, error) {
	h := o.h
	members := h.Members()
	if k < 1 || k > len(members) {
		return nil, fmt.Errorf("hub: quorum of %d among %d members: %w", k, len(members), ErrNoQuorum)
	}
	ctx, cancel := h.withTimeout(ctx)
	defer cancel()
	qc := &quorumCall{o: o, q: newQuorumState(members, k), ch: make(chan answer, len(members)), ids: make(map[identity.PeerID]uint64)}
	defer qc.cancelOutstanding()
	for {
		changed := h.changes()
		qc.askConnected(ctx, msg)
		switch {
		case qc.q.done():
			return qc.q.replies, nil
		case qc.q.hopeless():
			return qc.q.replies, qc.fail(ErrNoQuorum)
		}
		select {
		case a := <-qc.ch:
			qc.q.answer(a)
		case <-changed:
		case <-ctx.Done():
			return qc.q.replies, qc.fail(ctx.Err())
		}
	}
}

// quorumCall is one Quorum in progress: its state machine plus the
// requests it has out.
type quorumCall struct {
	o   OnLane
	q   *quorumState
	ch  chan answer
	ids map[identity.PeerID]uint64
}

func (qc *quorumCall) askConnected(ctx context.Context, msg []byte) {
	h, lane := qc.o.h, qc.o.lane
	for _, m := range qc.q.toAsk(func(id identity.PeerID) bool { return h.Connected(id, lane) }) {
		id, err := h.request(ctx, m, lane, msg, qc.ch)
		if err != nil {
			if errors.Is(err, ErrNotConnected) {
				qc.q.sendFailed(m)
			} else {
				qc.q.answer(answer{peer: m, err: err})
			}
			continue
		}
		qc.ids[m] = id
	}
}

func (qc *quorumCall) fail(err error) error {
	return &QuorumError{Need: qc.q.need, Got: len(qc.q.replies), Err: err, Failed: qc.q.failed}
}

// cancelOutstanding forgets the requests still unanswered: their late
// replies are dropped (and counted as stray).
func (qc *quorumCall) cancelOutstanding() {
	for _, id := range qc.ids {
		qc.o.h.pend.cancel(id)
	}
}
