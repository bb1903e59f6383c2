package hub

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/weftnet/weft/identity"
)

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range []Frame{
		{Kind: KindHello, Epoch: 1 << 62, Lane: Bulk},
		{Kind: KindActivate},
		{Kind: KindRefuse, Code: RefuseNotMember, Payload: []byte("not a member")},
		{Kind: KindMessage, Payload: []byte("payload")},
		{Kind: KindMessage},
		{Kind: KindRequest, ID: 1<<63 + 5, Payload: []byte{0}},
		{Kind: KindReply, ID: 0},
		{Kind: KindError, ID: 300, Payload: []byte("no")},
	} {
		b := AppendFrame(nil, &f)
		var g Frame
		if err := ParseFrame(b, &g); err != nil {
			t.Fatalf("%v: %v", f.Kind, err)
		}
		if g.Kind != f.Kind || g.Epoch != f.Epoch || g.Lane != f.Lane || g.Code != f.Code || g.ID != f.ID || !bytes.Equal(g.Payload, f.Payload) {
			t.Errorf("%+v came back as %+v", f, g)
		}
		if !bytes.Equal(AppendFrame(nil, &g), b) {
			t.Errorf("%v: not canonical", f.Kind)
		}
	}
}

func TestFrameRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":              {},
		"version 0":          {0x04},
		"version 2":          {0x24},
		"kind 0":             {0x10},
		"kind 8":             {0x18},
		"short hello":        {0x11, 0, 0, 0, 0, 0, 0, 0, 1},
		"long hello":         {0x11, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
		"hello lane 2":       {0x11, 0, 0, 0, 0, 0, 0, 0, 1, 2},
		"activate with body": {0x12, 1},
		"refuse no code":     {0x13},
		"request no id":      {0x15},
		"truncated id":       {0x16, 0x80},
		"non-minimal id":     {0x15, 0x80, 0x00},
		"id overflow":        {0x15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},
		"long error":         append([]byte{0x17, 1}, make([]byte, maxReasonBytes+1)...),
		"long refuse":        append([]byte{0x13, 1}, make([]byte, maxReasonBytes+1)...),
	} {
		var f Frame
		err := ParseFrame(b, &f)
		var fe *FrameError
		if !errors.Is(err, ErrMalformed) || !errors.As(err, &fe) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(10*time.Millisecond, 100*time.Millisecond, 1)
	for i, ceil := range []time.Duration{10, 20, 40, 80, 100, 100, 100} {
		ceil *= time.Millisecond
		d := b.next()
		if d < ceil/2 || d > ceil {
			t.Errorf("attempt %d: %v, want within [%v, %v]", i+1, d, ceil/2, ceil)
		}
	}
	b.reset()
	if d := b.next(); d > 10*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
	seen := map[time.Duration]bool{}
	for range 20 {
		b.reset()
		b.fails = 10
		seen[b.next()] = true
	}
	if len(seen) < 10 {
		t.Errorf("jitter gives only %d distinct delays in 20 draws", len(seen))
	}
}

func TestPending(t *testing.T) {
	p := newPending()
	a, b := testKeyID(1), testKeyID(2)
	ca, cb := &conn{}, &conn{}
	ch := make(chan answer, 3)
	id1 := p.add(a, ca, ch)
	id2 := p.add(b, cb, ch)
	id3 := p.add(a, ca, ch)
	if id1 == id2 || id2 == id3 {
		t.Fatal("ids repeat")
	}
	if p.resolve(id1, answer{peer: b}) {
		t.Error("a reply from the wrong peer was accepted")
	}
	if !p.resolve(id1, answer{peer: a, payload: []byte("x")}) || p.resolve(id1, answer{peer: a}) {
		t.Error("first reply refused or second accepted")
	}
	if got := <-ch; got.id != id1 || string(got.payload) != "x" {
		t.Errorf("answer %+v", got)
	}
	if n := p.failConn(ca, ErrNotConnected); n != 1 {
		t.Errorf("failConn failed %d calls, want 1", n)
	}
	if got := <-ch; got.id != id3 || !errors.Is(got.err, ErrNotConnected) {
		t.Errorf("failed answer %+v", got)
	}
	if !p.cancel(id2) || p.cancel(id2) || p.len() != 0 {
		t.Error("cancel")
	}
}

func TestQuorumState(t *testing.T) {
	m := []identity.PeerID{testKeyID(1), testKeyID(2), testKeyID(3), testKeyID(4), testKeyID(5)}
	up := map[identity.PeerID]bool{m[0]: true, m[1]: true}
	connected := func(id identity.PeerID) bool { return up[id] }
	q := newQuorumState(m, 3)
	if got := q.toAsk(connected); len(got) != 2 {
		t.Fatalf("asked %d, want the 2 connected", len(got))
	}
	if again := q.toAsk(connected); len(again) != 0 {
		t.Fatalf("asked %d again", len(again))
	}
	q.answer(answer{peer: m[0], payload: []byte("a")})
	q.answer(answer{peer: m[0], payload: []byte("dup")})
	q.answer(answer{peer: m[4], payload: []byte("not asked")})
	if len(q.replies) != 1 || q.done() {
		t.Fatalf("replies %d", len(q.replies))
	}
	up[m[2]], up[m[3]] = true, true
	ask := q.toAsk(connected)
	if len(ask) != 2 {
		t.Fatalf("late members asked: %d", len(ask))
	}
	q.sendFailed(m[3]) // could not queue: asked again later
	if again := q.toAsk(connected); len(again) != 1 || again[0] != m[3] {
		t.Fatalf("re-ask after a failed send: %v", again)
	}
	q.answer(answer{peer: m[1], err: ErrRemote})
	q.answer(answer{peer: m[2], err: ErrNotConnected})
	if q.hopeless() {
		t.Fatal("hopeless with 1 reply, 2 failures and 2 members left")
	}
	q.answer(answer{peer: m[3], err: ErrRemote})
	if !q.hopeless() || len(q.failed) != 3 {
		t.Fatalf("3 failures of 5 for a quorum of 3: hopeless=%v", q.hopeless())
	}
	q2 := newQuorumState(m[:3], 2)
	q2.toAsk(func(identity.PeerID) bool { return true })
	q2.answer(answer{peer: m[0]})
	q2.answer(answer{peer: m[2]})
	if !q2.done() || q2.outstanding() != true {
		t.Fatalf("done=%v outstanding=%v", q2.done(), q2.outstanding())
	}
}

func TestDecideHello(t *testing.T) {
	for _, c := range []struct {
		arbiter, hasActive bool
		activeEpoch, epoch uint64
		want               action
	}{
		{true, false, 0, 5, actActivate},
		{true, true, 5, 5, actRefuseDuplicate},
		{true, true, 5, 6, actReplace},
		{true, true, 5, 4, actRefuseStale},
		{false, false, 0, 5, actWait},
		{false, true, 5, 5, actWait},
		{false, true, 5, 6, actDropActive},
		{false, true, 5, 4, actRefuseStale},
	} {
		if got := decideHello(c.arbiter, c.hasActive, c.activeEpoch, c.epoch); got != c.want {
			t.Errorf("decideHello(%+v) = %v, want %v", c, got, c.want)
		}
	}
}
