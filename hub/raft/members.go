package raft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/identity"
)

// confRequest is a membership change waiting to be applied.
type confRequest struct {
	cc *pb.ConfChange
	p  *proposal // its waiter; p.data unused
}

// Members returns the replicas (voters) of the log, sorted, as of the
// last membership change this node applied.
func (n *Node) Members() []identity.PeerID {
	if m := n.members.Load(); m != nil {
		return slices.Clone(*m)
	}
	return nil
}

// AddMember adds a replica, reachable at c, and returns once the change
// is applied here. Every replica adds c to its hub when it applies the
// change. Start the new replica with Config.Join, its hub listing the
// current members.
func (n *Node) AddMember(ctx context.Context, c identity.Contact) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("raft: add member: %w", err)
	}
	return n.changeMembers(ctx, pb.ConfChangeAddNode, c)
}

// RemoveMember removes a replica and returns once the change is applied
// here. Every replica removes it from its hub when it applies the change.
func (n *Node) RemoveMember(ctx context.Context, id identity.PeerID) error {
	return n.changeMembers(ctx, pb.ConfChangeRemoveNode, identity.Contact{ID: id})
}

// The context of our membership changes: proposer's raft ID, proposal
// number, then the contact in its text form.
func (n *Node) changeMembers(ctx context.Context, typ pb.ConfChangeType, c identity.Contact) error {
	p := n.props.add(n.id, nil)
	cctx := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, n.id), p.seq)
	cc := &pb.ConfChange{Type: typ.Enum(), NodeId: new(ID(c.ID)), Context: append(cctx, c.String()...)}
	select {
	case n.confc <- &confRequest{cc: cc, p: p}:
	case <-ctx.Done():
		n.props.cancel(p.seq)
		return ctx.Err()
	case <-n.stop:
		n.props.cancel(p.seq)
		return ErrClosed
	}
	select {
	case r := <-p.done:
		return r.err
	case <-ctx.Done():
		n.props.cancel(p.seq)
		return ctx.Err()
	}
}

// proposeConf runs on the raft loop.
func (n *Node) proposeConf(cr *confRequest) {
	if err := n.rn.ProposeConfChange(cr.cc); err != nil {
		n.props.finish(cr.p.seq, result{err: fmt.Errorf("raft: membership change: %w", err)})
	}
}

// applyConf applies a committed membership change (on the raft loop): to
// raft, to the peer table, and to the hub's members.
func (n *Node) applyConf(e *pb.Entry) {
	var cc pb.ConfChange
	if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
		n.cfg.Logger.Error("raft: undecodable membership change", "index", e.GetIndex(), "err", err)
		return
	}
	cs := n.rn.ApplyConfChange(&cc)
	proposer, seq, contact := parseConfContext(cc.GetContext())
	if !contact.ID.IsZero() && ID(contact.ID) == cc.GetNodeId() {
		n.peersMu.Lock()
		n.peers[cc.GetNodeId()] = contact.ID
		n.peersMu.Unlock()
		n.updateHub(cc.GetType(), contact)
	}
	n.setMembers(cs.GetVoters())
	if proposer == n.id && seq != 0 {
		n.props.resolve(seq, e.GetIndex())
	}
}

// parseConfContext reads a change's context: ours (proposer, number,
// contact), or a bootstrap entry's (a bare peer ID).
func parseConfContext(b []byte) (proposer, seq uint64, c identity.Contact) {
	if len(b) >= 16 {
		if parsed, err := identity.ParseContact(string(b[16:])); err == nil {
			return binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]), parsed
		}
	}
	if parsed, err := identity.ParseContact(string(b)); err == nil {
		return 0, 0, parsed
	}
	return 0, 0, identity.Contact{}
}

func (n *Node) updateHub(typ pb.ConfChangeType, c identity.Contact) {
	if c.ID == n.self {
		return
	}
	var err error
	switch typ {
	case pb.ConfChangeAddNode, pb.ConfChangeAddLearnerNode:
		if len(c.Addrs) > 0 {
			err = n.cfg.Hub.AddPeer(c)
		} else if _, known := n.cfg.Hub.Peer(c.ID); !known {
			err = n.cfg.Hub.AddPeer(c) // accepted only, until its addresses are known
		}
	case pb.ConfChangeRemoveNode:
		if err = n.cfg.Hub.RemovePeer(c.ID); errors.Is(err, hub.ErrNotMember) {
			err = nil
		}
	}
	if err != nil {
		n.cfg.Logger.Warn("raft: could not apply a membership change to the hub", "peer", c.ID, "err", err)
	}
}

func (n *Node) setMembers(voters []uint64) {
	out := make([]identity.PeerID, 0, len(voters))
	for _, v := range voters {
		if p := n.peerOf(v); !p.IsZero() {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, identity.PeerID.Compare)
	n.members.Store(&out)
}
