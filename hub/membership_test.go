package hub

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
)

func TestRestartRejoinsTCP(t *testing.T)  { testRestartRejoins(t, "tcp") }
func TestRestartRejoinsMem(t *testing.T)  { testRestartRejoins(t, "mem") }
func TestRestartRejoinsQUIC(t *testing.T) { testRestartRejoins(t, "quic") }

// testRestartRejoins: a member closed and started again (a new hub
// instance with the same key and address) rejoins the mesh; the others
// saw it go down and come back, and can talk to it.
func testRestartRejoins(t *testing.T, net string) {
	c := newCluster(t, net, 5, func(i int, cfg *Config) {
		cfg.Handler = func(m *Message) { _ = m.Reply(context.Background(), m.Payload) }
	})
	c.waitMesh()
	for _, victim := range []int{0, 3} { // the lowest peer ID decides for all its pairs; 3 does not
		id := c.hubs[victim].ID()
		c.stop(victim)
		waitUntil(t, "the others see the member down", func() bool {
			for i, h := range c.hubs {
				if i != victim && h.Connected(id, Control) {
					return false
				}
			}
			return true
		})
		c.restart(victim)
		c.waitMesh()
		for i, h := range c.hubs {
			if i == victim {
				continue
			}
			got, err := h.Request(ctxFor(t), id, []byte("ping"))
			if err != nil || string(got) != "ping" {
				t.Fatalf("hub %d → restarted %d: %q, %v", i, victim, got, err)
			}
			got, err = c.hubs[victim].Request(ctxFor(t), h.ID(), []byte("pong"))
			if err != nil || string(got) != "pong" {
				t.Fatalf("restarted %d → hub %d: %q, %v", victim, i, got, err)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if evs := c.events[1]; len(evs) < 4+2*2 {
		t.Errorf("hub 1 saw %d events, want 4 ups, then a down and an up per restart: %+v", len(evs), evs)
	}
}

// TestRestartAfterCrashMem: a member vanishes without closing anything
// (cut off, then its hub and driver dropped), so the others' endpoints
// still wait to resume (for 30 s by default); its new instance dials in
// with a newer epoch and replaces them at once.
func TestRestartAfterCrashMem(t *testing.T) {
	c := newCluster(t, "mem", 5, func(i int, cfg *Config) {
		cfg.Handler = func(m *Message) { _ = m.Reply(context.Background(), m.Payload) }
		// Long enough that only the epoch can explain a quick rejoin; short
		// enough that the stale endpoints are gone by the drivers' close.
		cfg.Endpoint = endpoint.Config{ResumeTimeout: 4 * time.Second}
	})
	c.waitMesh()
	for _, victim := range []int{0, 2} {
		c.crash(victim)
		c.restart(victim)
		c.waitMesh()
		// The others may still hold the dead instance's connections as up:
		// wait until each has replaced them.
		waitUntil(t, "every member replaced the old connections", func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			for i := range c.hubs {
				if i != victim && !sawDownThenUp(c.events[i], c.hubs[victim].ID(), c.hubs[i].Connected) {
					return false
				}
			}
			return true
		})
		for i, h := range c.hubs {
			if i == victim {
				continue
			}
			got, err := h.Request(ctxFor(t), c.hubs[victim].ID(), []byte("ping"))
			if err != nil || string(got) != "ping" {
				t.Fatalf("hub %d → restarted %d: %q, %v", i, victim, got, err)
			}
		}
		c.checkDownReasons(victim)
	}
}

// sawDownThenUp reports whether events hold a down of id and id is now
// connected on every lane.
func sawDownThenUp(events []PeerEvent, id identity.PeerID, connected func(identity.PeerID, Lane) bool) bool {
	down := false
	for _, ev := range events {
		down = down || (ev.Peer == id && !ev.Up)
	}
	return down && connected(id, Control) && connected(id, Bulk)
}

// checkDownReasons checks that every member saw victim go down because
// its new instance replaced the old connections, or because the old
// session was refused on redial: never by waiting out ResumeTimeout.
func (c *cluster) checkDownReasons(victim int) {
	c.t.Helper()
	id := c.hubs[victim].ID()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.hubs {
		if i == victim {
			continue
		}
		downs := 0
		for _, ev := range c.events[i] {
			if ev.Peer != id || ev.Up {
				continue
			}
			downs++
			if !errors.Is(ev.Err, ErrPeerRestarted) && !errors.Is(ev.Err, endpoint.ErrSessionLost) {
				c.t.Errorf("hub %d saw %d go down because %v", i, victim, ev.Err)
			}
		}
		if downs == 0 {
			c.t.Errorf("hub %d never saw %d go down", i, victim)
		}
	}
}

// crash makes node i vanish: its links are cut, its hub and driver
// dropped without a goodbye, then the cut is healed.
func (c *cluster) crash(i int) {
	for j := range c.hubs {
		if j != i {
			_ = c.net.nw.Partition(c.addrs[i], c.addrs[j])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = c.hubs[i].Close(ctx) // cannot flush: everything is cut
	_ = c.ds[i].Close(ctx)
	c.hubs[i], c.ds[i] = nil, nil
	c.net.nw.HealAll()
}

// TestPartitionMem: a partition cuts two members off the other three;
// each side sees the other go down (once the endpoints give up resuming),
// keeps its own side, and after Heal the mesh is whole again.
func TestPartitionMem(t *testing.T) {
	c := newCluster(t, "mem", 5, func(i int, cfg *Config) {
		cfg.Handler = func(m *Message) { _ = m.Reply(context.Background(), nil) }
	})
	c.waitMesh()
	minority, majority := []int{0, 1}, []int{2, 3, 4}
	for _, a := range minority {
		for _, b := range majority {
			if err := c.net.nw.Partition(c.addrs[a], c.addrs[b]); err != nil {
				t.Fatal(err)
			}
		}
	}
	split := func() bool {
		for _, side := range [][]int{minority, majority} {
			for _, i := range side {
				st := c.hubs[i].Stats()
				if st.Up != len(side)-1 {
					return false
				}
			}
		}
		return true
	}
	waitUntil(t, "each side sees only itself", split)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if replies, err := c.hubs[0].Quorum(ctx, []byte("q"), 3); !errors.Is(err, context.DeadlineExceeded) || len(replies) != 1 {
		t.Errorf("minority quorum of 3: %d replies, %v; want 1 and the deadline", len(replies), err)
	}
	if replies, err := c.hubs[2].Quorum(ctxFor(t), []byte("q"), 2); err != nil || len(replies) != 2 {
		t.Errorf("majority quorum of 2: %d replies, %v", len(replies), err)
	}
	c.net.nw.HealAll()
	c.waitMesh()
	if replies, err := c.hubs[0].Quorum(ctxFor(t), []byte("q"), 4); err != nil || len(replies) != 4 {
		t.Errorf("after heal, quorum of 4: %d replies, %v", len(replies), err)
	}
}

// stranger starts a hub that is no member of c, listing c's members.
func (c *cluster) stranger(key identity.PrivateKey) *Hub {
	c.t.Helper()
	i := len(c.keys)
	c.keys = append(c.keys, key)
	c.hubs = append(c.hubs, nil)
	c.ds = append(c.ds, nil)
	c.addrs = append(c.addrs, nil)
	var peers []identity.Contact
	for j := range i {
		peers = append(peers, c.contact(j))
	}
	c.start(i, c.net.anyAddr(), peers)
	c.addrs[i] = c.hubs[i].Addrs()[0]
	return c.hubs[i]
}

func TestUnknownPeerRefused(t *testing.T) {
	for _, net := range []string{"tcp", "mem"} {
		t.Run(net, func(t *testing.T) {
			c := newCluster(t, net, 3, nil)
			c.waitMesh()
			s := c.stranger(testKey(99))
			waitUntil(t, "every member refused the stranger", func() bool {
				for _, h := range c.hubs[:3] {
					if h.Stats().RefusedNotMember == 0 {
						return false
					}
				}
				for _, ps := range s.Peers() {
					if !errors.Is(ps.LastErr, ErrRefused) {
						return false
					}
				}
				return true
			})
			for i, h := range c.hubs[:3] {
				if _, ok := h.Peer(s.ID()); ok || h.Stats().Up != 2 {
					t.Errorf("hub %d: stranger listed, or mesh disturbed: %+v", i, h.Stats())
				}
			}
			for _, ps := range s.Peers() {
				if ps.Up || ps.Lanes[Control] || ps.Lanes[Bulk] {
					t.Errorf("stranger's view of %s: %+v", ps.Contact.ID, ps)
				}
			}
			if err := s.Send(ctxFor(t), c.hubs[0].ID(), []byte("hi")); !errors.Is(err, ErrNotConnected) {
				t.Errorf("stranger's send: %v, want ErrNotConnected", err)
			}
		})
	}
}

// TestRemovedPeerRefused: a removed member is cut off and refused (while
// it keeps trying); added again, it is back.
func TestRemovedPeerRefused(t *testing.T) {
	var got [3]*seqChecker
	c := newCluster(t, "tcp", 3, func(i int, cfg *Config) {
		got[i] = newSeqChecker()
		cfg.Handler = got[i].handle
	})
	c.waitMesh()
	h0, h1 := c.hubs[0], c.hubs[1]
	if err := h0.RemovePeer(h1.ID()); err != nil {
		t.Fatal(err)
	}
	if err := h0.RemovePeer(h1.ID()); !errors.Is(err, ErrNotMember) {
		t.Errorf("second RemovePeer: %v", err)
	}
	waitUntil(t, "the removed member sees us down and is refused", func() bool {
		return !h1.Connected(h0.ID(), Control) && !h1.Connected(h0.ID(), Bulk) && h0.Stats().RefusedNotMember >= 2
	})
	if err := h1.Send(ctxFor(t), h0.ID(), make([]byte, 8)); !errors.Is(err, ErrNotConnected) {
		t.Errorf("removed member's send: %v", err)
	}
	if err := h0.Send(ctxFor(t), h1.ID(), make([]byte, 8)); !errors.Is(err, ErrNotMember) {
		t.Errorf("send to a removed member: %v", err)
	}
	if h0.Stats().Members != 1 || !h0.Connected(c.hubs[2].ID(), Control) {
		t.Errorf("hub 0 after removal: %+v", h0.Stats())
	}
	if err := h0.AddPeer(c.contact(1)); err != nil {
		t.Fatal(err)
	}
	c.waitMesh()
	if err := h1.Send(ctxFor(t), h0.ID(), make([]byte, 8)); err != nil {
		t.Errorf("re-added member's send: %v", err)
	}
	waitUntil(t, "the message arrives", func() bool { return got[0].count() == 1 })
}

// TestSetAddrs: a member that moved is reached at its new address once
// told.
func TestSetAddrs(t *testing.T) {
	c := newCluster(t, "tcp", 2, nil)
	c.waitMesh()
	id1 := c.hubs[1].ID()
	c.stop(1)
	c.start(1, c.net.anyAddr(), []identity.Contact{c.contact(0)}) // new port; it knows 0
	if err := c.hubs[0].SetAddrs(id1, c.hubs[1].Addrs()); err != nil {
		t.Fatal(err)
	}
	c.waitMesh()
	if err := c.hubs[0].SetAddrs(testKeyID(77), c.hubs[1].Addrs()); !errors.Is(err, ErrNotMember) {
		t.Errorf("SetAddrs of a stranger: %v", err)
	}
}

func testKeyID(b byte) identity.PeerID { return idOf(testKey(b)) }
