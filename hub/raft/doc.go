// Package raft is a replicated log whose replicas talk over a hub: etcd's
// raft (go.etcd.io/raft/v3) does the consensus, this package runs it —
// ticks, the Ready loop, storage, message transport on the hub's lanes —
// behind a small API: Propose, committed entries through Config.Apply,
// Leader, Members, AddMember and RemoveMember.
//
// Every replica's hub lists the others as members; each replica's raft ID
// is derived from its peer ID (ID), and a raft message is accepted only
// from the hub member whose ID it claims. Votes, heartbeats and appends
// travel on the hub's Control lane, snapshots on Bulk.
//
// Honest limits: the log lives in memory (raft.MemoryStorage) and is
// never compacted, so memory grows with it and a replica that stops loses
// its state: it cannot come back under the same identity; add a fresh
// replica (a new key) with AddMember instead. Propose returns once the
// entry is committed and applied on the proposing replica; a proposal
// whose context ended may still commit, and retrying it may commit it
// twice.
//
// The loop a caller writes:
//
//	h, _ := hub.New(hub.Config{...})     // the replicas are its members
//	node, _ := raft.New(raft.Config{Hub: h, Apply: func(e raft.Entry) {
//		state.apply(e.Data)                 // in log order, once
//	}})
//	h.SetHandler(func(m *hub.Message) { node.Handle(m) })
//	defer node.Close()
//	index, err := node.Propose(ctx, cmd) // committed and applied here
//	fmt.Println(node.Leader(), node.Members())
package raft
