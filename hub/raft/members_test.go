package raft

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/identity"
)

// TestMembership: a fourth replica joins a running group of three,
// catches up on the whole log, takes part in later commits, and is
// removed again (and dropped from every hub).
func TestMembership(t *testing.T) {
	g := newGroup(t, "mem", 3)
	lead := g.leader()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for s := range 100 {
		if _, err := lead.n.Propose(ctx, seqData(uint64(s))); err != nil {
			t.Fatal(err)
		}
	}
	joiner := g.newReplica(len(g.reps))
	g.reps = append(g.reps, joiner)
	for _, r := range g.reps[:3] {
		if err := joiner.h.AddPeer(r.h.Contact()); err != nil {
			t.Fatal(err)
		}
	}
	node, err := New(Config{Hub: joiner.h, Apply: joiner.apply, Join: true})
	if err != nil {
		t.Fatal(err)
	}
	joiner.n = node
	joiner.h.SetHandler(func(m *hub.Message) { node.Handle(m) })
	if err := lead.n.AddMember(ctx, joiner.h.Contact()); err != nil {
		t.Fatal(err)
	}
	want := []identity.PeerID{}
	for _, r := range g.reps {
		want = append(want, r.h.ID())
	}
	slices.SortFunc(want, identity.PeerID.Compare)
	if got := lead.n.Members(); !slices.Equal(got, want) {
		t.Fatalf("members after AddMember: %v, want %v", got, want)
	}
	var last uint64
	for s := 100; s < 200; s++ {
		if last, err = lead.n.Propose(ctx, seqData(uint64(s))); err != nil {
			t.Fatal(err)
		}
	}
	g.waitApplied(last)
	if got, ref := joiner.entries(), lead.entries(); len(got) != 200 || !sameLog(got, ref) {
		t.Fatalf("the joiner applied %d entries, the leader %d; equal: %v", len(got), len(ref), sameLog(got, ref))
	}
	if err := lead.n.RemoveMember(ctx, joiner.h.ID()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "every hub dropped the removed replica", func() bool {
		for _, r := range g.reps[:3] {
			if _, ok := r.h.Peer(joiner.h.ID()); ok || len(r.n.Members()) != 3 {
				return false
			}
		}
		return true
	})
	if _, err := lead.n.Propose(ctx, seqData(1000)); err != nil {
		t.Fatalf("propose after removal: %v", err)
	}
}

func sameLog(a, b []Entry) bool {
	return slices.EqualFunc(a, b, func(x, y Entry) bool { return x.Index == y.Index && seqOf(x) == seqOf(y) })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
