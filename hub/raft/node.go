package raft

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/identity"
)

// Errors callers branch on with errors.Is.
var (
	// ErrClosed: the node is closed.
	ErrClosed = errors.New("raft: node closed")
	// ErrNoLeader: the proposal was dropped because no leader is known
	// (an election is under way); try again shortly.
	ErrNoLeader = errors.New("raft: no leader")
)

// Node is one replica of a replicated log whose messages travel over a
// hub. Every method is safe for concurrent use.
type Node struct {
	cfg     Config
	self    identity.PeerID
	id      uint64
	rn      *raft.RawNode // touched only by run
	storage *raft.MemoryStorage

	recvc   chan *pb.Message
	propc   chan *proposal
	confc   chan *confRequest
	reportc chan uint64 // peers a send failed to
	stop    chan struct{}
	wg      sync.WaitGroup

	props   *proposals
	applyc  chan []Entry
	senders map[uint64]*sender // touched only by run

	peersMu sync.Mutex
	peers   map[uint64]identity.PeerID // raft ID → peer, for every replica ever known
	members atomic.Pointer[[]identity.PeerID]

	lead, term, commit, applied atomic.Uint64
	badMsgs                     atomic.Uint64

	closeOnce sync.Once
}

// ID returns the raft ID of a peer: the first 8 bytes of the SHA-256 of
// its peer ID (never 0). Every replica derives the same IDs, so a raft
// message's sender is checked against the hub member it came from.
func ID(p identity.PeerID) uint64 {
	sum := sha256.Sum256(p.Bytes())
	return max(binary.BigEndian.Uint64(sum[:8]), 1)
}

// New starts a replica. Route the hub's messages to it with Handle.
func New(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	self := cfg.Hub.ID()
	n := &Node{cfg: cfg, self: self, id: ID(self), storage: raft.NewMemoryStorage(),
		recvc: make(chan *pb.Message, 1024), propc: make(chan *proposal, 1024), confc: make(chan *confRequest),
		reportc: make(chan uint64, 256), stop: make(chan struct{}), props: newProposals(),
		applyc: make(chan []Entry, 256), senders: make(map[uint64]*sender), peers: make(map[uint64]identity.PeerID)}
	rn, err := raft.NewRawNode(&raft.Config{ID: n.id, ElectionTick: cfg.ElectionTicks, HeartbeatTick: cfg.HeartbeatTicks,
		Storage: n.storage, MaxSizePerMsg: cfg.MaxEntriesBytes, MaxInflightMsgs: cfg.MaxInflight,
		CheckQuorum: true, PreVote: true, StepDownOnRemoval: true, Logger: slogger{cfg.Logger}})
	if err != nil {
		return nil, fmt.Errorf("raft: %w", err)
	}
	n.rn = rn
	if err := n.bootstrap(); err != nil {
		return nil, err
	}
	n.wg.Add(2)
	go n.run()
	go n.applyLoop()
	return n, nil
}

// bootstrap writes the initial membership as the log's first entries.
func (n *Node) bootstrap() error {
	n.peers[n.id] = n.self
	if n.cfg.Join {
		return nil
	}
	members := n.cfg.Members
	if len(members) == 0 {
		members = n.cfg.Hub.Members()
	}
	if !slices.Contains(members, n.self) {
		members = append(slices.Clone(members), n.self)
	}
	slices.SortFunc(members, identity.PeerID.Compare)
	peers := make([]raft.Peer, 0, len(members))
	for _, m := range members {
		id := ID(m)
		if other, dup := n.peers[id]; dup && other != m {
			return fmt.Errorf("raft: members %s and %s have the same raft ID", m, other)
		}
		n.peers[id] = m
		peers = append(peers, raft.Peer{ID: id, Context: []byte(m.String())})
	}
	if err := n.rn.Bootstrap(peers); err != nil {
		return fmt.Errorf("raft: bootstrap: %w", err)
	}
	return nil
}

// run is the raft loop: ticks, incoming messages and proposals in, Ready
// batches out. It alone touches the RawNode.
func (n *Node) run() {
	defer n.wg.Done()
	defer n.stopSenders()
	defer close(n.applyc)
	tick := time.NewTicker(n.cfg.TickInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			n.rn.Tick()
		case m := <-n.recvc:
			_ = n.rn.Step(m) // errors are stale or foreign messages, which raft ignores
		case p := <-n.propc:
			n.propose(p)
		case cr := <-n.confc:
			n.proposeConf(cr)
		case to := <-n.reportc:
			n.rn.ReportUnreachable(to)
		case <-n.stop:
			return
		}
		n.drainRecv()
		if n.rn.HasReady() && !n.handleReady() {
			return
		}
	}
}

// drainRecv steps a bounded batch of queued messages before the next
// Ready, so one Ready answers many of them.
func (n *Node) drainRecv() {
	for range 256 {
		select {
		case m := <-n.recvc:
			_ = n.rn.Step(m)
		default:
			return
		}
	}
}

// handleReady persists, sends, applies and advances one Ready. It returns
// false when the node is closing.
func (n *Node) handleReady() bool {
	rd := n.rn.Ready()
	if rd.SoftState != nil {
		n.lead.Store(rd.SoftState.Lead)
	}
	if rd.HardState != nil {
		_ = n.storage.SetHardState(rd.HardState)
		n.term.Store(rd.HardState.GetTerm())
		n.commit.Store(rd.HardState.GetCommit())
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		_ = n.storage.ApplySnapshot(rd.Snapshot)
	}
	if err := n.storage.Append(rd.Entries); err != nil {
		n.cfg.Logger.Error("raft: storage append", "err", err)
	}
	n.send(rd.Messages)
	if !n.committed(rd.CommittedEntries) {
		return false
	}
	n.rn.Advance(rd)
	return true
}

// committed hands committed entries to the applier (membership changes
// are applied here, as raft requires). It returns false when the node is
// closing.
func (n *Node) committed(ents []*pb.Entry) bool {
	batch := make([]Entry, 0, len(ents))
	for _, e := range ents {
		switch e.GetType() {
		case pb.EntryNormal:
			if len(e.GetData()) > 0 {
				batch = append(batch, Entry{Index: e.GetIndex(), Term: e.GetTerm(), Data: e.GetData()})
			}
		case pb.EntryConfChange:
			n.applyConf(e)
		}
	}
	if len(batch) == 0 {
		return true
	}
	select {
	case n.applyc <- batch:
		return true
	case <-n.stop:
		return false
	}
}

// applyLoop calls Apply for each committed entry and wakes its proposer.
func (n *Node) applyLoop() {
	defer n.wg.Done()
	for batch := range n.applyc {
		for _, e := range batch {
			seq, data, ours := n.props.unwrap(n.id, e.Data)
			e.Data = data
			n.cfg.Apply(e)
			n.applied.Store(e.Index)
			if ours {
				n.props.resolve(seq, e.Index)
			}
		}
	}
	n.props.failAll(ErrClosed)
}

// Handle takes a message from the hub. It reports whether the message was
// one of this package's; route the others elsewhere:
//
//	h.SetHandler(func(m *hub.Message) {
//		if !node.Handle(m) {
//			app(m)
//		}
//	})
//
// It blocks while the raft loop is busy (which slows that member's lane,
// as the hub intends).
func (n *Node) Handle(m *hub.Message) bool {
	msg, ok, err := decodeMessage(m.Payload)
	if !ok {
		return false
	}
	if err != nil || msg.GetFrom() != ID(m.From) || msg.GetTo() != n.id {
		n.badMsgs.Add(1)
		return true
	}
	select {
	case n.recvc <- msg:
	case <-n.stop:
	}
	return true
}

// Leader returns the current leader's peer ID, or the zero PeerID while
// none is known.
func (n *Node) Leader() identity.PeerID { return n.peerOf(n.lead.Load()) }

// Status returns a snapshot of the node.
func (n *Node) Status() Status {
	lead := n.lead.Load()
	return Status{ID: n.self, Leader: n.peerOf(lead), IsLeader: lead == n.id, Term: n.term.Load(),
		Commit: n.commit.Load(), Applied: n.applied.Load()}
}

// peerOf maps a raft ID to a peer: a replica known from the log, else a
// hub member with that ID (a joining node learns the log's replicas only
// as it catches up, but must answer them before).
func (n *Node) peerOf(id uint64) identity.PeerID {
	n.peersMu.Lock()
	p, ok := n.peers[id]
	n.peersMu.Unlock()
	if ok || id == 0 {
		return p
	}
	for _, m := range n.cfg.Hub.Members() {
		if ID(m) == id {
			n.peersMu.Lock()
			n.peers[id] = m
			n.peersMu.Unlock()
			return m
		}
	}
	return identity.PeerID{}
}

// Close stops the replica: proposals waiting fail with ErrClosed. The hub
// is left open.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { close(n.stop) })
	n.wg.Wait()
	return nil
}
