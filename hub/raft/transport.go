package raft

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/identity"
)

// msgMagic starts every hub message this package sends: then a raft
// message in its protobuf encoding.
const msgMagic = 0xA7

// decodeMessage parses a hub payload. ok is false when the payload is not
// one of this package's.
func decodeMessage(b []byte) (m *pb.Message, ok bool, err error) {
	if len(b) == 0 || b[0] != msgMagic {
		return nil, false, nil
	}
	m = new(pb.Message)
	if err := proto.Unmarshal(b[1:], m); err != nil {
		return nil, true, fmt.Errorf("raft: bad message: %w", err)
	}
	return m, true, nil
}

func encodeMessage(m *pb.Message) ([]byte, error) {
	return proto.MarshalOptions{}.MarshalAppend([]byte{msgMagic}, m)
}

// sender carries one peer's messages on one lane, on its own goroutine,
// so the raft loop never waits for the network. Its queue is bounded: a
// full queue drops the message, and raft retries (it is told the peer is
// unreachable).
type sender struct {
	n    *Node
	peer identity.PeerID
	id   uint64
	lane hub.Lane
	q    chan []byte
}

const senderQueue = 4096

// send queues msgs to their peers (on the raft loop). Snapshots go on the
// Bulk lane, everything else (votes, heartbeats, appends) on Control, so
// that a snapshot transfer never delays an election.
func (n *Node) send(msgs []*pb.Message) {
	for _, m := range msgs {
		to := m.GetTo()
		lane := hub.Control
		if m.GetType() == pb.MsgSnap {
			lane = hub.Bulk
		}
		s := n.sender(to, lane)
		b, err := encodeMessage(m)
		if s == nil || err != nil {
			n.unreachable(m)
			continue
		}
		select {
		case s.q <- b:
			if m.GetType() == pb.MsgSnap {
				// Queued is as far as we track it: a lost snapshot is
				// noticed by raft and sent again.
				n.rn.ReportSnapshot(to, raft.SnapshotFinish)
			}
		default:
			n.unreachable(m)
		}
	}
}

func (n *Node) unreachable(m *pb.Message) {
	n.rn.ReportUnreachable(m.GetTo())
	if m.GetType() == pb.MsgSnap {
		n.rn.ReportSnapshot(m.GetTo(), raft.SnapshotFailure)
	}
}

// sender returns the sender for raft ID to on lane, starting it if needed;
// nil for an unknown ID.
func (n *Node) sender(to uint64, lane hub.Lane) *sender {
	key := to<<1 | uint64(lane)
	if s, ok := n.senders[key]; ok {
		return s
	}
	peer := n.peerOf(to)
	if peer.IsZero() {
		return nil
	}
	s := &sender{n: n, peer: peer, id: to, lane: lane, q: make(chan []byte, senderQueue)}
	n.senders[key] = s
	n.wg.Add(1)
	go s.run()
	return s
}

func (s *sender) run() {
	defer s.n.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.n.stop
		cancel()
	}()
	for b := range s.q {
		if err := s.n.cfg.Hub.On(s.lane).Send(ctx, s.peer, b); err != nil {
			select {
			case s.n.reportc <- s.id:
			default:
			}
		}
	}
}

// stopSenders ends every sender (on the raft loop, as it exits).
func (n *Node) stopSenders() {
	for _, s := range n.senders {
		close(s.q)
	}
}
