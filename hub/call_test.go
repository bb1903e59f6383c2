package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weftnet/weft/identity"
)

// newStar builds a client hub (node 0) with n members that each know only
// the client; members answer requests with their index.
func newStar(t *testing.T, net string, n int) *cluster {
	c := &cluster{t: t, net: newNetwork(t, net), events: make(map[int][]PeerEvent)}
	c.tune = func(i int, cfg *Config) {
		cfg.Handler = func(m *Message) {
			switch {
			case string(m.Payload) == "fail":
				_ = m.Fail(context.Background(), fmt.Sprintf("member %d says no", i))
			case string(m.Payload) == "ignore":
			default:
				_ = m.Reply(context.Background(), []byte(fmt.Sprint(i)))
			}
		}
	}
	for i := range n + 1 {
		c.keys = append(c.keys, testKey(byte(i+1)))
		c.hubs, c.ds, c.addrs = append(c.hubs, nil), append(c.ds, nil), append(c.addrs, nil)
		c.start(i, c.net.anyAddr(), nil)
		c.addrs[i] = c.hubs[i].Addrs()[0]
	}
	for i := 1; i <= n; i++ {
		if err := c.hubs[0].AddPeer(c.contact(i)); err != nil {
			t.Fatal(err)
		}
		if err := c.hubs[i].AddPeer(c.contact(0)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(c.closeAll)
	c.waitMesh()
	return c
}

func TestQuorumThreeOfFiveAlive(t *testing.T) {
	c := newStar(t, "mem", 5)
	c.stop(4)
	c.stop(5)
	waitUntil(t, "the client sees two members down", func() bool { return c.hubs[0].Stats().Up == 3 })
	replies, err := c.hubs[0].Quorum(ctxFor(t), []byte("vote?"), 3)
	if err != nil || len(replies) != 3 {
		t.Fatalf("quorum of 3 with 3 alive: %d replies, %v", len(replies), err)
	}
	seen := map[string]bool{}
	for _, r := range replies {
		seen[string(r.Payload)] = true
	}
	if len(seen) != 3 || seen["4"] || seen["5"] {
		t.Errorf("replies from %v, want members 1, 2 and 3", seen)
	}
}

func TestQuorumTwoOfFiveAlive(t *testing.T) {
	c := newStar(t, "tcp", 5)
	for _, i := range []int{3, 4, 5} {
		c.stop(i)
	}
	waitUntil(t, "the client sees three members down", func() bool { return c.hubs[0].Stats().Up == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	replies, err := c.hubs[0].Quorum(ctx, []byte("vote?"), 3)
	var qe *QuorumError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrNoQuorum) || !errors.As(err, &qe) || qe.Got != 2 || qe.Need != 3 {
		t.Fatalf("quorum of 3 with 2 alive: %v", err)
	}
	if len(replies) != 2 {
		t.Fatalf("got %d replies, want the 2 it got", len(replies))
	}
}

// TestQuorumAsksLateMembers: a member that connects during the call is
// asked then, and its reply counts.
func TestQuorumAsksLateMembers(t *testing.T) {
	c := newStar(t, "mem", 3)
	c.stop(3)
	waitUntil(t, "member 3 down", func() bool { return c.hubs[0].Stats().Up == 2 })
	done := make(chan error, 1)
	var replies []Reply
	go func() {
		var err error
		replies, err = c.hubs[0].Quorum(ctxFor(t), []byte("vote?"), 3)
		done <- err
	}()
	c.start(3, c.addrs[3], []identity.Contact{c.contact(0)})
	if err := <-done; err != nil || len(replies) != 3 {
		t.Fatalf("quorum of 3 with a late member: %d replies, %v", len(replies), err)
	}
}

// TestQuorumHopeless: when too many members answer with errors, Quorum
// returns at once with ErrNoQuorum and their errors.
func TestQuorumHopeless(t *testing.T) {
	c := newStar(t, "mem", 3)
	_, err := c.hubs[0].Quorum(context.Background(), []byte("fail"), 2)
	var qe *QuorumError
	if !errors.As(err, &qe) || !errors.Is(err, ErrNoQuorum) || errors.Is(err, context.DeadlineExceeded) || len(qe.Failed) < 2 {
		t.Fatalf("quorum where everyone fails: %v", err)
	}
	if !errors.Is(qe.Failed[0], ErrRemote) {
		t.Errorf("failure %v is not a remote error", qe.Failed[0])
	}
	if _, err := c.hubs[0].Quorum(context.Background(), nil, 4); !errors.Is(err, ErrNoQuorum) {
		t.Errorf("quorum of 4 among 3: %v", err)
	}
}

func TestRequest(t *testing.T) {
	c := newStar(t, "tcp", 2)
	h, m1 := c.hubs[0], c.hubs[1].ID()
	for _, l := range allLanes {
		got, err := h.On(l).Request(ctxFor(t), m1, []byte("hi"))
		if err != nil || string(got) != "1" {
			t.Errorf("request on %v: %q, %v", l, got, err)
		}
	}
	_, err := h.Request(ctxFor(t), m1, []byte("fail"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Peer != m1 || !strings.Contains(re.Message, "member 1 says no") {
		t.Errorf("failed request: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := h.Request(ctx, m1, []byte("ignore")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered request: %v", err)
	}
	if n := h.pend.len(); n != 0 {
		t.Errorf("%d calls still pending after every request returned", n)
	}
	if _, err := h.Request(ctxFor(t), testKeyID(77), nil); !errors.Is(err, ErrNotMember) {
		t.Errorf("request to a stranger: %v", err)
	}
}

// TestRequestFailsWhenPeerGoes: a request outstanding when the member's
// connection ends fails at once with ErrNotConnected.
func TestRequestFailsWhenPeerGoes(t *testing.T) {
	c := newStar(t, "mem", 1)
	h, m1 := c.hubs[0], c.hubs[1].ID()
	done := make(chan error, 1)
	go func() {
		_, err := h.Request(ctxFor(t), m1, []byte("ignore"))
		done <- err
	}()
	waitUntil(t, "the request is out", func() bool { return h.pend.len() == 1 })
	c.stop(1)
	if err := <-done; !errors.Is(err, ErrNotConnected) {
		t.Errorf("request to a member that left: %v", err)
	}
}

func TestBroadcastReportsEveryFailure(t *testing.T) {
	got := make([]*seqChecker, 4)
	c := newStar(t, "mem", 3)
	for i := 1; i <= 3; i++ {
		got[i] = newSeqChecker()
		c.hubs[i].SetHandler(got[i].handle)
	}
	if err := c.hubs[0].Broadcast(ctxFor(t), make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	gone := c.hubs[2].ID()
	c.stop(2)
	waitUntil(t, "member 2 down", func() bool { return c.hubs[0].Stats().Up == 2 })
	err := c.hubs[0].On(Bulk).Broadcast(ctxFor(t), make([]byte, 8))
	var be *BroadcastError
	if !errors.As(err, &be) || be.Sent != 2 || len(be.Failed) != 1 || be.Failed[0].Peer != gone || !errors.Is(err, ErrNotConnected) {
		t.Fatalf("broadcast with a member down: %v", err)
	}
	for _, i := range []int{1, 3} {
		waitUntil(t, "both broadcasts arrive", func() bool { return got[i].count() == 2 })
	}
}

// TestNoHandler: without a handler, messages are dropped (counted) and
// requests fail with a remote error.
func TestNoHandler(t *testing.T) {
	c := newStar(t, "mem", 1)
	c.hubs[1].SetHandler(nil)
	if err := c.hubs[0].Send(ctxFor(t), c.hubs[1].ID(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.hubs[0].Request(ctxFor(t), c.hubs[1].ID(), []byte("x")); !errors.Is(err, ErrRemote) {
		t.Errorf("request without a handler: %v", err)
	}
	if d := c.hubs[1].Stats().Dropped; d != 2 {
		t.Errorf("dropped %d, want 2", d)
	}
}
