package raft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// entryMagic marks the entries Propose makes: magic, the proposer's raft
// ID and its proposal number, then the caller's data. The header lets the
// proposer recognise its own entry when it commits.
const (
	entryMagic  = 0xE7
	entryHeader = 1 + 8 + 8
)

type proposal struct {
	seq  uint64
	data []byte // with the header
	done chan result
}

type result struct {
	index uint64
	err   error
}

// proposals are the node's proposals waiting to be applied, by number.
type proposals struct {
	mu      sync.Mutex
	next    uint64
	waiting map[uint64]*proposal
}

func newProposals() *proposals { return &proposals{waiting: make(map[uint64]*proposal)} }

func (ps *proposals) add(self uint64, data []byte) *proposal {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.next++
	b := make([]byte, entryHeader, entryHeader+len(data))
	b[0] = entryMagic
	binary.BigEndian.PutUint64(b[1:], self)
	binary.BigEndian.PutUint64(b[9:], ps.next)
	p := &proposal{seq: ps.next, data: append(b, data...), done: make(chan result, 1)}
	ps.waiting[p.seq] = p
	return p
}

// unwrap strips the header of a committed entry's data, reporting the
// proposal number when self proposed it.
func (ps *proposals) unwrap(self uint64, data []byte) (seq uint64, user []byte, ours bool) {
	if len(data) < entryHeader || data[0] != entryMagic {
		return 0, data, false
	}
	return binary.BigEndian.Uint64(data[9:]), data[entryHeader:], binary.BigEndian.Uint64(data[1:]) == self
}

func (ps *proposals) resolve(seq, index uint64) { ps.finish(seq, result{index: index}) }

func (ps *proposals) finish(seq uint64, r result) {
	ps.mu.Lock()
	p := ps.waiting[seq]
	delete(ps.waiting, seq)
	ps.mu.Unlock()
	if p != nil {
		p.done <- r
	}
}

func (ps *proposals) cancel(seq uint64) {
	ps.mu.Lock()
	delete(ps.waiting, seq)
	ps.mu.Unlock()
}

func (ps *proposals) failAll(err error) {
	ps.mu.Lock()
	all := ps.waiting
	ps.waiting = make(map[uint64]*proposal)
	ps.mu.Unlock()
	for _, p := range all {
		p.done <- result{err: err}
	}
}

// Propose appends data to the log and returns its index once it is
// committed and this node's Apply has returned for it. It fails with
// ErrNoLeader (at once) during an election, and with ctx's error when ctx
// ends first: the entry may then still commit later. Retrying such a
// proposal may commit it twice; make entries idempotent (or carry an id)
// if that matters.
func (n *Node) Propose(ctx context.Context, data []byte) (uint64, error) {
	p := n.props.add(n.id, data)
	select {
	case n.propc <- p:
	case <-ctx.Done():
		n.props.cancel(p.seq)
		return 0, ctx.Err()
	case <-n.stop:
		n.props.cancel(p.seq)
		return 0, ErrClosed
	}
	select {
	case r := <-p.done:
		return r.index, r.err
	case <-ctx.Done():
		n.props.cancel(p.seq)
		return 0, ctx.Err()
	}
}

// propose (on the raft loop) steps p and the proposals queued behind it
// as one message.
func (n *Node) propose(p *proposal) {
	batch := []*proposal{p}
	ents := []*pb.Entry{{Data: p.data}}
	for len(batch) < 512 {
		select {
		case q := <-n.propc:
			batch = append(batch, q)
			ents = append(ents, &pb.Entry{Data: q.data})
			continue
		default:
		}
		break
	}
	err := n.rn.Step(&pb.Message{Type: pb.MsgProp.Enum(), From: new(n.id), Entries: ents})
	if err == nil {
		return
	}
	if errors.Is(err, raft.ErrProposalDropped) {
		err = fmt.Errorf("%w: %w", ErrNoLeader, err)
	}
	for _, q := range batch {
		n.props.finish(q.seq, result{err: err})
	}
}
