package hub

import (
	"context"
	"crypto/ed25519"
	"sync"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
	"github.com/weftnet/weft/transport/quic"
	"github.com/weftnet/weft/transport/tcp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// gnet's shared ants pool keeps a purge goroutine for the process.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		// and idle workers of that pool, which gnet uses for some closes.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
	)
}

// waitFor bounds every wait in these tests.
const waitFor = 20 * time.Second

func testKey(b byte) identity.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0], seed[1] = b, 0x42
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		panic(err)
	}
	return k
}

func idOf(k identity.PrivateKey) identity.PeerID { return identity.PeerIDFromPublicKey(k.Public()) }

// network is where a test cluster lives: loopback tcp, or a mem network
// where each node is a host (so Partition cuts a node off whichever side
// dialed).
type network struct {
	t     *testing.T
	name  string
	nw    *mem.Network
	tcp   transport.Transport
	hosts map[int]*mem.Host
	quic  map[int]transport.Transport // per node: a QUIC transport carries its node's key
}

func newNetwork(t *testing.T, name string) *network {
	t.Helper()
	n := &network{t: t, name: name, hosts: make(map[int]*mem.Host), quic: make(map[int]transport.Transport)}
	switch name {
	case "quic":
	case "tcp":
		tr, err := tcp.New(tcp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		n.tcp = tr
	case "mem":
		nw, err := mem.NewNetwork(mem.Config{Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nw.Close() })
		n.nw = nw
	default:
		t.Fatalf("unknown network %q", name)
	}
	return n
}

// node i's transport and a fresh listen address.
func (n *network) transport(i int) transport.Transport {
	if n.name == "quic" {
		if tr, ok := n.quic[i]; ok {
			return tr
		}
		tr, err := quic.New(quic.Config{Identity: testKey(byte(i + 1))})
		if err != nil {
			n.t.Fatal(err)
		}
		n.quic[i] = tr
		return tr
	}
	if n.nw == nil {
		return n.tcp
	}
	h, ok := n.hosts[i]
	if !ok {
		h = n.nw.NewHost()
		n.hosts[i] = h
	}
	return h.Transport(transport.Stream)
}

func (n *network) anyAddr() ma.Multiaddr {
	if n.name == "quic" {
		return ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1")
	}
	if n.nw == nil {
		return ma.StringCast("/ip4/127.0.0.1/tcp/0")
	}
	return ma.StringCast("/memory/0")
}

// cluster is n hubs that are all members of each other.
type cluster struct {
	t      *testing.T
	net    *network
	keys   []identity.PrivateKey
	hubs   []*Hub
	ds     []*driver.Driver
	addrs  []ma.Multiaddr
	tune   func(i int, cfg *Config)
	mu     sync.Mutex
	events map[int][]PeerEvent
}

// fastEndpoint makes dead connections noticed, and given up, within a
// few seconds.
func fastEndpoint() endpoint.Config {
	return endpoint.Config{ResumeTimeout: 2 * time.Second, KeepAlive: 300 * time.Millisecond, IdleTimeout: 1500 * time.Millisecond}
}

func newCluster(t *testing.T, netName string, n int, tune func(i int, cfg *Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, net: newNetwork(t, netName), tune: tune, events: make(map[int][]PeerEvent),
		keys: make([]identity.PrivateKey, n), hubs: make([]*Hub, n), ds: make([]*driver.Driver, n), addrs: make([]ma.Multiaddr, n)}
	for i := range n {
		c.keys[i] = testKey(byte(i + 1))
		c.start(i, c.net.anyAddr(), nil)
		c.addrs[i] = c.hubs[i].Addrs()[0]
	}
	for i := range n {
		for j := range n {
			if i != j {
				if err := c.hubs[i].AddPeer(c.contact(j)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	t.Cleanup(c.closeAll)
	return c
}

func (c *cluster) contact(i int) identity.Contact {
	return identity.Contact{ID: idOf(c.keys[i]), Addrs: []ma.Multiaddr{c.addrs[i]}}
}

// start starts node i listening on addr with the given members.
func (c *cluster) start(i int, addr ma.Multiaddr, peers []identity.Contact) {
	c.t.Helper()
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := Config{Driver: d, Identity: c.keys[i], Transports: []transport.Transport{c.net.transport(i)},
		ListenAddrs: []ma.Multiaddr{addr}, Peers: peers, Endpoint: fastEndpoint(),
		RedialMin: 10 * time.Millisecond, RedialMax: 200 * time.Millisecond,
		OnPeerEvent: func(ev PeerEvent) { c.mu.Lock(); c.events[i] = append(c.events[i], ev); c.mu.Unlock() }}
	if c.tune != nil {
		c.tune(i, &cfg)
	}
	h, err := New(cfg)
	if err != nil {
		_ = d.Close(context.Background())
		c.t.Fatal(err)
	}
	c.hubs[i], c.ds[i] = h, d
}

// free waits until addr can be listened on again: in one process, a QUIC
// transport releases the UDP socket of a closed listener only once its
// last connection is gone, a moment after the hub and driver closed.
func (c *cluster) free(i int, addr ma.Multiaddr) {
	if c.net.name != "quic" {
		return
	}
	var d *driver.Driver
	for _, live := range c.ds {
		if live != nil {
			d = live
		}
	}
	waitUntil(c.t, "the old UDP socket is released", func() bool {
		ln, err := c.net.transport(i).Listen(addr, d, func(transport.Conn) transport.Handler { return nil })
		if err != nil {
			return false
		}
		_ = ln.Close()
		return true
	})
}

// forget drops the events node i heard so far (before it restarts).
func (c *cluster) forget(i int) {
	c.mu.Lock()
	delete(c.events, i)
	c.mu.Unlock()
}

// restart starts node i again, on its old address, knowing every member.
func (c *cluster) restart(i int) {
	c.forget(i)
	delete(c.net.quic, i) // a new process has a new transport
	c.free(i, c.addrs[i])
	var peers []identity.Contact
	for j := range c.hubs {
		if j != i {
			peers = append(peers, c.contact(j))
		}
	}
	c.start(i, c.addrs[i], peers)
}

// stop closes node i's hub and driver.
func (c *cluster) stop(i int) {
	if c.hubs[i] == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.hubs[i].Close(ctx); err != nil {
		c.t.Errorf("hub %d close: %v", i, err)
	}
	if err := c.ds[i].Close(ctx); err != nil {
		c.t.Errorf("driver %d close: %v", i, err)
	}
	c.hubs[i], c.ds[i] = nil, nil
}

func (c *cluster) closeAll() {
	var wg sync.WaitGroup
	for i := range c.hubs {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop(i) }()
	}
	wg.Wait()
}

// waitMesh waits until every live hub has every member up.
func (c *cluster) waitMesh() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for i, h := range c.hubs {
		if h == nil {
			continue
		}
		if err := h.WaitConnected(ctx, 0); err != nil {
			c.t.Fatalf("hub %d: mesh not complete: %v; peers %+v", i, err, h.Peers())
		}
	}
}

// waitUntil polls cond (a state that changes by events elsewhere) until it
// holds or waitFor passes.
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

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}
