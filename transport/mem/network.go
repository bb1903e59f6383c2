package mem

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport"
)

// Network is an in-process network: a namespace of /memory/<id>
// addresses, the links between them with their faults, and one scheduler
// goroutine for delayed deliveries. Create one with NewNetwork and Close it
// when done. Every method is safe for concurrent use.
type Network struct {
	cfg   Config
	sched *scheduler
	stats counters

	mu        sync.Mutex
	closed    bool
	nextID    uint64
	nextHost  uint64
	used      map[uint64]bool   // ids held by listeners and dialers
	hostOf    map[uint64]uint64 // address id → Host id, for Host addresses
	listeners map[uint64]*listener
	links     map[dirKey]*link
	overrides map[dirKey]LinkConfig // a zero hostKey means any host
	cuts      map[dirKey]bool       // partitions, keys ordered by pairKey
	conns     map[*conn]bool        // dialer ends of live connections
}

// NewNetwork validates cfg and starts a network.
func NewNetwork(cfg Config) (*Network, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Network{
		cfg:       cfg,
		sched:     newScheduler(),
		nextID:    1,
		nextHost:  1,
		used:      make(map[uint64]bool),
		hostOf:    make(map[uint64]uint64),
		listeners: make(map[uint64]*listener),
		links:     make(map[dirKey]*link),
		overrides: make(map[dirKey]LinkConfig),
		cuts:      make(map[dirKey]bool),
		conns:     make(map[*conn]bool),
	}, nil
}

// Transport returns the Stream or Datagram transport of n. Each address
// it listens or dials from is its own host: Partition and SetLink name it
// alone. Use a Host to group addresses into one machine.
func (n *Network) Transport(kind transport.Kind) transport.Transport {
	return &memTransport{n: n, kind: kind}
}

// Host is a simulated machine: every address its transports listen on or
// dial from belongs to it, so Partition, Heal, SetLink and KillConns given
// any one of its addresses (even of a closed connection) apply to all of
// them, and its links share one fault PRNG and one bandwidth budget per
// direction. The network remembers the host of every address a Host used
// (a map entry per dial) for as long as it lives.
type Host struct {
	n  *Network
	id uint64
}

// NewHost returns a new host of n.
func (n *Network) NewHost() *Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := &Host{n: n, id: n.nextHost}
	n.nextHost++
	return h
}

// Transport returns the Stream or Datagram transport of h.
func (h *Host) Transport(kind transport.Kind) transport.Transport {
	return &memTransport{n: h.n, kind: kind, host: h.id}
}

// Stats counts what the network did. Stream writes are not counted one by
// one (it would slow the hot path); datagrams are.
type Stats struct {
	Datagrams   uint64 // datagrams written
	Delivered   uint64 // datagram copies handed to a receiving connection
	Lost        uint64 // datagrams dropped by LinkConfig.Loss
	Duplicated  uint64 // datagrams sent twice
	Reordered   uint64 // datagram copies held back
	Cut         uint64 // datagrams and stream writes dropped by a partition
	Overflow    uint64 // datagrams dropped at a full receive buffer (Config.RecvBuffer)
	Unreachable uint64 // datagrams to an association nobody accepts (listener closed)
	Killed      uint64 // connections reset by Kill, KillConns, Partition or Close
}

type counters struct {
	datagrams, delivered, lost, duplicated, reordered atomic.Uint64
	cut, overflow, unreachable, killed                atomic.Uint64
}

// Stats returns a snapshot of n's counters.
func (n *Network) Stats() Stats {
	s := &n.stats
	return Stats{
		Datagrams: s.datagrams.Load(), Delivered: s.delivered.Load(), Lost: s.lost.Load(),
		Duplicated: s.duplicated.Load(), Reordered: s.reordered.Load(), Cut: s.cut.Load(),
		Overflow: s.overflow.Load(), Unreachable: s.unreachable.Load(), Killed: s.killed.Load(),
	}
}

// Close resets every connection (their handlers see ErrReset if their
// workers still run), closes every listener, drops what is in flight and
// stops the scheduler goroutine. Dial and Listen fail afterwards.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	conns := n.connsLocked(func(*conn) bool { return true })
	for _, l := range n.listeners {
		l.markClosed()
	}
	n.mu.Unlock()
	n.killAll(conns, errors.New("mem: network closed"))
	n.sched.stop()
	return nil
}

// SetLink configures the direction from → to, overriding Config.Link.
// Either address may be nil, meaning any host; the most specific setting
// wins (both given, then to only, then from only). It applies at once to
// the links that exist (except SendBuffer and MaxDatagram, read when a
// connection opens) and to those made later. To set both directions, call
// it twice.
func (n *Network) SetLink(from, to ma.Multiaddr, cfg LinkConfig) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var key dirKey
	var err error
	if from != nil {
		if key.from, err = n.resolveLocked(from); err != nil {
			return err
		}
	}
	if to != nil {
		if key.to, err = n.resolveLocked(to); err != nil {
			return err
		}
	}
	n.overrides[key] = cfg
	for k, l := range n.links {
		l.setConfig(n.configLocked(k))
	}
	return nil
}

func (n *Network) configLocked(k dirKey) LinkConfig {
	for _, o := range [...]dirKey{k, {to: k.to}, {from: k.from}} {
		if cfg, ok := n.overrides[o]; ok {
			return cfg
		}
	}
	return n.cfg.Link
}

// Partition cuts every link between a and b (their hosts): datagrams
// between them are dropped, their stream connections are reset (ErrReset
// on both sides) and new dials between them fail at once with ErrRefused.
// It lasts until Heal or HealAll.
func (n *Network) Partition(a, b ma.Multiaddr) error {
	n.mu.Lock()
	ka, kb, err := n.pairLocked(a, b)
	if err != nil {
		n.mu.Unlock()
		return err
	}
	n.cuts[pairKey(ka, kb)] = true
	n.setCutLocked(ka, kb, true)
	conns := n.connsLocked(func(c *conn) bool { return c.kind == transport.Stream && between(c, ka, kb) })
	n.mu.Unlock()
	n.killAll(conns, fmt.Errorf("mem: %s and %s partitioned", a, b))
	return nil
}

// Heal removes the partition between a and b.
func (n *Network) Heal(a, b ma.Multiaddr) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	ka, kb, err := n.pairLocked(a, b)
	if err != nil {
		return err
	}
	delete(n.cuts, pairKey(ka, kb))
	n.setCutLocked(ka, kb, false)
	return nil
}

// HealAll removes every partition.
func (n *Network) HealAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cuts)
	for _, l := range n.links {
		l.setCut(false)
	}
}

// Kill resets c abruptly: both sides' OnClose get an error wrapping
// transport.ErrReset and whatever was in flight is lost. c must be a
// connection of n; killing a closed connection does nothing.
func (n *Network) Kill(c transport.Conn) error {
	mc, ok := c.(*conn)
	if !ok || mc.n != n {
		return fmt.Errorf("mem: kill: %v is not a connection of this network", c)
	}
	n.killAll([]*conn{mc}, errors.New("mem: killed"))
	return nil
}

// KillConns resets every connection, stream or datagram, between a and b
// (their hosts) as Kill does, and returns how many it killed.
func (n *Network) KillConns(a, b ma.Multiaddr) (int, error) {
	n.mu.Lock()
	ka, kb, err := n.pairLocked(a, b)
	if err != nil {
		n.mu.Unlock()
		return 0, err
	}
	conns := n.connsLocked(func(c *conn) bool { return between(c, ka, kb) })
	n.mu.Unlock()
	n.killAll(conns, errors.New("mem: killed"))
	return len(conns), nil
}

func (n *Network) killAll(conns []*conn, why error) {
	for _, c := range conns {
		if !c.killed.Load() && !c.in.isDead() {
			n.stats.killed.Add(1)
		}
		n.kill(c, fmt.Errorf("%w: %w", why, transport.ErrReset))
	}
}

// kill resets both ends of c's connection.
func (n *Network) kill(c *conn, err error) {
	ends := [2]*conn{c, c.peer.Load()}
	for _, e := range ends {
		if e != nil {
			e.killed.Store(true)
			e.pushEnd(err, true)
		}
	}
}

func between(c *conn, a, b hostKey) bool {
	return c.host == a && c.remoteHost == b || c.host == b && c.remoteHost == a
}

func (n *Network) connsLocked(keep func(*conn) bool) []*conn {
	var out []*conn
	for c := range n.conns {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

func (n *Network) setCutLocked(a, b hostKey, cut bool) {
	for _, k := range [...]dirKey{{a, b}, {b, a}} {
		if l := n.links[k]; l != nil {
			l.setCut(cut)
		}
	}
}

func pairKey(a, b hostKey) dirKey {
	if b.named && !a.named || b.named == a.named && b.id < a.id {
		a, b = b, a
	}
	return dirKey{a, b}
}

func (n *Network) pairLocked(a, b ma.Multiaddr) (hostKey, hostKey, error) {
	ka, err := n.resolveLocked(a)
	if err != nil {
		return ka, ka, err
	}
	kb, err := n.resolveLocked(b)
	if err != nil {
		return ka, kb, err
	}
	if ka == kb {
		return ka, kb, fmt.Errorf("mem: %s and %s are the same host", a, b)
	}
	return ka, kb, nil
}

// resolveLocked returns the host of an address.
func (n *Network) resolveLocked(a ma.Multiaddr) (hostKey, error) {
	id, err := parseAddr(a)
	if err != nil {
		return hostKey{}, err
	}
	if id == 0 {
		return hostKey{}, fmt.Errorf("mem: %s names no host", a)
	}
	return n.keyLocked(id), nil
}

func (n *Network) keyLocked(id uint64) hostKey {
	if h, ok := n.hostOf[id]; ok {
		return hostKey{id: h, named: true}
	}
	return hostKey{id: id}
}

// allocLocked takes the next free address id for host (0: anonymous).
func (n *Network) allocLocked(host uint64) uint64 {
	for {
		id := n.nextID
		n.nextID++
		if id != 0 && !n.used[id] {
			n.take(id, host)
			return id
		}
	}
}

func (n *Network) take(id, host uint64) {
	n.used[id] = true
	if host != 0 {
		n.hostOf[id] = host
	} else {
		delete(n.hostOf, id)
	}
}

// release frees an id. Its host is remembered (ids are not reused unless
// listened on explicitly), so that a closed connection's address still
// names its host.
func (n *Network) release(id uint64) {
	delete(n.used, id)
}

// linkLocked returns the link from → to, made if needed, with one more
// reference.
func (n *Network) linkLocked(from, to hostKey) *link {
	k := dirKey{from, to}
	l := n.links[k]
	if l == nil {
		l = newLink(n.cfg.Seed, k, n.configLocked(k), n.cfg.Trace)
		if n.cuts[pairKey(from, to)] {
			l.setCut(true)
		}
		n.links[k] = l
	}
	l.refs++
	return l
}

// forget drops a finished connection from the network's books.
func (n *Network) forget(c *conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.conns, c)
	if c.ownsID {
		n.release(c.localID)
	}
	n.unrefLocked(c.out)
}

func (n *Network) unrefLocked(l *link) {
	if l.refs--; l.refs == 0 && n.links[l.key] == l {
		delete(n.links, l.key)
	}
}
