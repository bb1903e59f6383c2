package hub

import (
	"testing"
)

func TestMeshTCP(t *testing.T) { testMesh(t, "tcp") }
func TestMeshMem(t *testing.T) { testMesh(t, "mem") }

// TestMeshQUIC: the same over QUIC, whose connections TLS already
// secures (the endpoint then skips Noise).
func TestMeshQUIC(t *testing.T) { testMesh(t, "quic") }

// testMesh: five hubs that list each other reach a full mesh with exactly
// one active connection per member and lane on each side, the same one on
// both sides.
func testMesh(t *testing.T, net string) {
	c := newCluster(t, net, 5, nil)
	c.waitMesh()
	for i, h := range c.hubs {
		for j, g := range c.hubs {
			if i == j {
				continue
			}
			for _, l := range allLanes {
				a := h.member(g.ID()).lanes[l].active.Load()
				b := g.member(h.ID()).lanes[l].active.Load()
				if a == nil || b == nil {
					t.Fatalf("%d→%d lane %v: not active on both sides", i, j, l)
				}
				if a.dialed == b.dialed {
					t.Errorf("%d→%d lane %v: both sides dialed=%v: not the same connection", i, j, l, a.dialed)
				}
			}
		}
		if st := h.Stats(); st.Up != 4 || st.Members != 4 || st.Downs != 0 {
			t.Errorf("hub %d stats %+v", i, st)
		}
		// Duplicates from simultaneous dials are refused and closed: what
		// stays is one connection per member and lane.
		waitUntil(t, "duplicate connections closed", func() bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return len(h.conns) == 4*numLanes
		})
	}
	refused := uint64(0)
	for _, h := range c.hubs {
		refused += h.Stats().RefusedDuplicate
	}
	t.Logf("%d duplicate connections refused by arbiters", refused)
}
