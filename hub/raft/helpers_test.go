package raft

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
	"github.com/weftnet/weft/transport/tcp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		// and idle workers of that pool, which gnet uses for some closes.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
	)
}

const waitFor = 30 * time.Second

func testKey(b byte) identity.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0], seed[1] = b, 0x77
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		panic(err)
	}
	return k
}

// replica is one node of a test group: driver, hub, raft node, and the
// entries its Apply saw.
type replica struct {
	d    *driver.Driver
	h    *hub.Hub
	n    *Node
	mu   sync.Mutex
	log  []Entry
	dead bool
}

func (r *replica) apply(e Entry) {
	r.mu.Lock()
	r.log = append(r.log, Entry{Index: e.Index, Term: e.Term, Data: append([]byte(nil), e.Data...)})
	r.mu.Unlock()
}

func (r *replica) entries() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Entry(nil), r.log...)
}

// group is n replicas on one network, each hub a member of all others.
type group struct {
	t    testing.TB
	reps []*replica
	nw   *mem.Network
	tr   func() transport.Transport
	any  ma.Multiaddr
}

// newReplica starts the driver and hub of replica i (no raft node yet).
func (g *group) newReplica(i int) *replica {
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		g.t.Fatal(err)
	}
	h, err := hub.New(hub.Config{Driver: d, Identity: testKey(byte(i + 1)), Transports: []transport.Transport{g.tr()},
		ListenAddrs: []ma.Multiaddr{g.any}, Endpoint: endpoint.Config{ResumeTimeout: 3 * time.Second}})
	if err != nil {
		g.t.Fatal(err)
	}
	return &replica{d: d, h: h}
}

func newGroup(t testing.TB, netName string, n int) *group {
	t.Helper()
	g := &group{t: t}
	var tr func() transport.Transport
	var any ma.Multiaddr
	switch netName {
	case "tcp":
		tt, err := tcp.New(tcp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		tr, any = func() transport.Transport { return tt }, ma.StringCast("/ip4/127.0.0.1/tcp/0")
	case "mem":
		nw, err := mem.NewNetwork(mem.Config{Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		g.nw = nw
		tr, any = func() transport.Transport { return nw.NewHost().Transport(transport.Stream) }, ma.StringCast("/memory/0")
	}
	g.tr, g.any = tr, any
	t.Cleanup(g.close)
	for i := range n {
		g.reps = append(g.reps, g.newReplica(i))
	}
	for _, a := range g.reps {
		for _, b := range g.reps {
			if a != b {
				if err := a.h.AddPeer(b.h.Contact()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, r := range g.reps {
		node, err := New(Config{Hub: r.h, Apply: r.apply})
		if err != nil {
			t.Fatal(err)
		}
		r.n = node
		r.h.SetHandler(func(m *hub.Message) { node.Handle(m) })
	}
	return g
}

// kill stops replica r: raft node, hub and driver.
func (g *group) kill(r *replica) {
	r.mu.Lock()
	dead := r.dead
	r.dead = true
	r.mu.Unlock()
	if dead {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.n.Close()
	_ = r.h.Close(ctx)
	_ = r.d.Close(ctx)
}

func (g *group) close() {
	var wg sync.WaitGroup
	for _, r := range g.reps {
		wg.Add(1)
		go func() { defer wg.Done(); g.kill(r) }()
	}
	wg.Wait()
	if g.nw != nil {
		_ = g.nw.Close()
	}
}

func (r *replica) isDead() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dead
}

func (g *group) live() []*replica {
	var out []*replica
	for _, r := range g.reps {
		if !r.isDead() {
			out = append(out, r)
		}
	}
	return out
}

// leader waits until the live replicas agree on a live leader.
func (g *group) leader() *replica {
	g.t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		live := g.live()
		lead := live[0].n.Leader()
		agree := !lead.IsZero()
		for _, r := range live {
			agree = agree && r.n.Leader() == lead
		}
		for _, r := range live {
			if agree && r.h.ID() == lead {
				return r
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	g.t.Fatal("no leader elected")
	return nil
}

// seqData is the payload of test entry s.
func seqData(s uint64) []byte { return binary.BigEndian.AppendUint64(nil, s) }

func seqOf(e Entry) uint64 { return binary.BigEndian.Uint64(e.Data) }

// waitApplied waits until every live replica applied at least index.
func (g *group) waitApplied(index uint64) {
	g.t.Helper()
	deadline := time.Now().Add(waitFor)
	for _, r := range g.live() {
		for r.n.Status().Applied < index {
			if time.Now().After(deadline) {
				g.t.Fatalf("replica %s applied %d, want %d", r.h.ID(), r.n.Status().Applied, index)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (g *group) String() string { return fmt.Sprintf("group of %d", len(g.reps)) }
