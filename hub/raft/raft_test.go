package raft

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCommitMem(t *testing.T) { testCommitAndFailover(t, "mem") }
func TestCommitTCP(t *testing.T) { testCommitAndFailover(t, "tcp") }

// testCommitAndFailover: five replicas commit many entries (100,000
// without -short) proposed by concurrent clients; halfway the leader is
// killed. A new leader is elected, and every surviving replica ends with
// the same log, which holds every acknowledged entry at the index Propose
// returned, each exactly once, and begins with everything the dead leader
// had applied.
func testCommitAndFailover(t *testing.T, net string) {
	total := 100_000
	if testing.Short() {
		total = 5_000
	}
	g := newGroup(t, net, 5)
	old := g.leader()
	var next atomic.Uint64
	acked := make(map[uint64]uint64) // index → seq
	var mu sync.Mutex
	var committed atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for c := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			propose(ctx, t, g, c, &next, &committed, total, func(index, seq uint64) {
				mu.Lock()
				acked[index] = seq
				mu.Unlock()
			})
		}()
	}
	for committed.Load() < int64(total/2) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	oldLog := func() []Entry { g.kill(old); return old.entries() }()
	lead := g.leader()
	if lead == old {
		t.Fatal("the dead leader is still the leader")
	}
	wg.Wait()
	if committed.Load() < int64(total) {
		t.Fatalf("clients did not finish: %d of %d committed", committed.Load(), total)
	}
	last := uint64(0)
	for index := range acked {
		last = max(last, index)
	}
	g.waitApplied(last)
	checkLogs(t, g, acked, oldLog)
}

// propose has client c propose fresh entries until total were
// acknowledged in all, retrying through another replica when one fails. A
// proposal that timed out may still commit, so its number is never reused.
func propose(ctx context.Context, t *testing.T, g *group, c int, next *atomic.Uint64, committed *atomic.Int64, total int, ack func(index, seq uint64)) {
	for try := c; committed.Load() < int64(total) && ctx.Err() == nil; try++ {
		r := g.reps[try%len(g.reps)]
		if r.isDead() {
			continue
		}
		for committed.Load() < int64(total) {
			seq := next.Add(1)
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			index, err := r.n.Propose(pctx, seqData(seq))
			cancel()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, ErrNoLeader) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrClosed) {
					t.Errorf("propose: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
				break // try the next replica
			}
			committed.Add(1)
			ack(index, seq)
		}
	}
}

// checkLogs compares the surviving replicas' logs with each other, with
// what was acknowledged and with the dead leader's log.
func checkLogs(t *testing.T, g *group, acked map[uint64]uint64, oldLog []Entry) {
	t.Helper()
	live := g.live()
	ref := live[0].entries()
	for _, r := range live[1:] {
		log := r.entries()
		if len(log) != len(ref) {
			t.Fatalf("replicas applied %d and %d entries", len(ref), len(log))
		}
		for i := range log {
			if log[i].Index != ref[i].Index || seqOf(log[i]) != seqOf(ref[i]) {
				t.Fatalf("replicas differ at position %d: index %d seq %d vs index %d seq %d", i, ref[i].Index, seqOf(ref[i]), log[i].Index, seqOf(log[i]))
			}
		}
	}
	byIndex := make(map[uint64]uint64, len(ref))
	seen := make(map[uint64]bool, len(ref))
	for i, e := range ref {
		if i > 0 && e.Index <= ref[i-1].Index {
			t.Fatalf("indexes not increasing at %d", i)
		}
		if seen[seqOf(e)] {
			t.Fatalf("entry %d committed twice", seqOf(e))
		}
		seen[seqOf(e)] = true
		byIndex[e.Index] = seqOf(e)
	}
	for index, seq := range acked {
		if got, ok := byIndex[index]; !ok || got != seq {
			t.Fatalf("acknowledged entry %d at index %d: the log has %d (present %v)", seq, index, got, ok)
		}
	}
	for i, e := range oldLog {
		if i >= len(ref) || ref[i].Index != e.Index || seqOf(ref[i]) != seqOf(e) {
			t.Fatalf("the dead leader applied index %d (entry %d), which the survivors lost or changed", e.Index, seqOf(e))
		}
	}
	t.Logf("%d entries acknowledged, %d in the log, the dead leader had applied %d", len(acked), len(ref), len(oldLog))
}
