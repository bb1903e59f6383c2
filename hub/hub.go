package hub

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
)

// Hub keeps one connection per lane to every member of a fixed, known set
// of peers, and carries messages, requests and quorum calls between them.
// Every method is safe for concurrent use.
type Hub struct {
	cfg     Config
	self    identity.PeerID
	epoch   uint64
	epCfg   endpoint.Config
	lns     []*endpoint.Listener
	pend    *pending
	stats   counters
	handler atomic.Pointer[func(*Message)]
	events  *eventQueue

	ctx    context.Context // ends at Close: dialers and readers stop
	cancel context.CancelFunc
	wg     sync.WaitGroup // dialers, readers, the event goroutine

	mu      sync.Mutex
	peers   map[identity.PeerID]*peer
	closed  bool
	changed chan struct{} // closed and replaced whenever a member goes up or down
	conns   map[*conn]struct{}
	byEP    map[*endpoint.Endpoint]*conn
}

// peer is one member. Its fields are guarded by Hub.mu, except gone and
// the lanes' active pointers, which readers load without it.
type peer struct {
	id      identity.PeerID
	addrs   []ma.Multiaddr
	gone    atomic.Bool // removed, or the hub closed
	stop    chan struct{}
	lanes   [numLanes]laneState
	up      bool
	since   time.Time
	lastErr error
}

type laneState struct {
	active  atomic.Pointer[conn] // written under Hub.mu
	pending map[*conn]struct{}   // connections not yet activated or refused
	wake    chan struct{}        // wakes the lane's dialer
}

// New starts a hub: it listens on cfg.ListenAddrs and dials every member.
// It returns once listening; members connect in the background
// (WaitConnected waits for them, OnPeerEvent hears them).
func New(cfg Config) (*Hub, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	self := identity.PeerIDFromPublicKey(cfg.Identity.Public())
	for _, c := range cfg.Peers {
		if err := checkContact(self, c); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{cfg: cfg, self: self, epoch: uint64(time.Now().UnixNano()), pend: newPending(),
		ctx: ctx, cancel: cancel, peers: make(map[identity.PeerID]*peer),
		changed: make(chan struct{}), conns: make(map[*conn]struct{}), byEP: make(map[*endpoint.Endpoint]*conn)}
	if cfg.Handler != nil {
		h.handler.Store(&cfg.Handler)
	}
	h.epCfg = cfg.Endpoint
	h.epCfg.OnClose = h.endpointClosed
	h.events = newEventQueue(cfg.OnPeerEvent, &h.wg)
	if err := h.listen(); err != nil {
		h.closeListeners()
		cancel()
		h.events.close()
		return nil, err
	}
	for _, c := range cfg.Peers {
		if err := h.AddPeer(c); err != nil {
			_ = h.Close(context.Background())
			return nil, err
		}
	}
	return h, nil
}

func checkContact(self identity.PeerID, c identity.Contact) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("hub: member: %w", err)
	}
	if c.ID == self {
		return fmt.Errorf("hub: member %s is this node itself", c.ID)
	}
	return nil
}

func (h *Hub) listen() error {
	for _, a := range h.cfg.ListenAddrs {
		tr := h.transportFor(a)
		if tr == nil {
			return fmt.Errorf("hub: no transport handles listen address %s", a)
		}
		ln, err := endpoint.Listen(h.cfg.Driver, tr, a, h.epCfg, h.accept)
		if err != nil {
			return fmt.Errorf("hub: listen on %s: %w", a, err)
		}
		h.lns = append(h.lns, ln)
	}
	return nil
}

func (h *Hub) transportFor(a ma.Multiaddr) transport.Transport {
	for _, t := range h.cfg.Transports {
		if t.Handles(a) {
			return t
		}
	}
	return nil
}

// ID returns this node's peer ID.
func (h *Hub) ID() identity.PeerID { return h.self }

// Addrs returns the addresses the hub listens on (ports resolved).
func (h *Hub) Addrs() []ma.Multiaddr {
	out := make([]ma.Multiaddr, len(h.lns))
	for i, ln := range h.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Contact returns this node's peer ID and listen addresses: what other
// hubs need to add it as a member.
func (h *Hub) Contact() identity.Contact { return identity.Contact{ID: h.self, Addrs: h.Addrs()} }

// SetHandler replaces Config.Handler (nil drops messages). Messages being
// handled keep the handler they started with.
func (h *Hub) SetHandler(fn func(m *Message)) {
	if fn == nil {
		h.handler.Store(nil)
		return
	}
	h.handler.Store(&fn)
}

// AddPeer makes c a member and starts connecting to it. Adding a member
// again updates its addresses, like SetAddrs.
func (h *Hub) AddPeer(c identity.Contact) error {
	if err := checkContact(h.self, c); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	if p, ok := h.peers[c.ID]; ok {
		p.addrs = slices.Clone(c.Addrs)
		return nil
	}
	p := &peer{id: c.ID, addrs: slices.Clone(c.Addrs), stop: make(chan struct{}), since: time.Now()}
	for i := range p.lanes {
		p.lanes[i].pending = make(map[*conn]struct{})
		p.lanes[i].wake = make(chan struct{}, 1)
	}
	h.peers[c.ID] = p
	for _, l := range allLanes {
		h.wg.Add(1)
		go h.dialLoop(p, l)
	}
	return nil
}

// RemovePeer ends membership: the member's connections close, and it is
// refused until added again. Messages it sent that are still being read
// are dropped.
func (h *Hub) RemovePeer(id identity.PeerID) error {
	h.mu.Lock()
	p, ok := h.peers[id]
	if !ok {
		h.mu.Unlock()
		return &PeerError{Peer: id, Err: ErrNotMember}
	}
	delete(h.peers, id)
	p.gone.Store(true)
	close(p.stop)
	var doomed []*conn
	for i := range p.lanes {
		ls := &p.lanes[i]
		if c := ls.active.Load(); c != nil {
			doomed = append(doomed, c)
		}
		for c := range ls.pending {
			doomed = append(doomed, c)
		}
	}
	h.setUpLocked(p, false, ErrNotMember)
	h.mu.Unlock()
	for _, c := range doomed {
		refuse(c.ep, RefuseNotMember, "removed from the hub")
	}
	return nil
}

// SetAddrs replaces the addresses a member is dialed at. A live connection
// is kept; the next dial uses the new addresses.
func (h *Hub) SetAddrs(id identity.PeerID, addrs []ma.Multiaddr) error {
	if err := checkContact(h.self, identity.Contact{ID: id, Addrs: addrs}); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.peers[id]
	if !ok {
		return &PeerError{Peer: id, Err: ErrNotMember}
	}
	p.addrs = slices.Clone(addrs)
	return nil
}

// Close closes the hub: it stops dialing and accepting, closes every
// connection (flushing what was queued) and waits for the lanes'
// connections to end, or for ctx (connections still being set up carry
// nothing of the application's and are not waited for). A member that
// does not acknowledge keeps its endpoint alive for at most
// Config.Endpoint.ResumeTimeout after Close returns. The driver is left
// running.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for _, p := range h.peers {
		p.gone.Store(true)
		close(p.stop)
	}
	conns := make([]*conn, 0, len(h.conns))
	var flush []*conn // connections that carried the application's messages
	for c := range h.conns {
		conns = append(conns, c)
		if c.activated {
			flush = append(flush, c)
		}
	}
	h.mu.Unlock()
	h.cancel()
	for _, c := range conns {
		_ = c.ep.Close()
	}
	var err error
	for _, c := range flush {
		select {
		case <-c.ep.Done():
		case <-ctx.Done():
			err = fmt.Errorf("hub: close: %w", ctx.Err())
		}
		if err != nil {
			break
		}
	}
	// The listeners resume the endpoints closing above (a connection may
	// die as they flush): close them last.
	h.closeListeners()
	h.events.close()
	h.wg.Wait()
	return err
}

func (h *Hub) closeListeners() {
	for _, ln := range h.lns {
		_ = ln.Close()
	}
}

// member returns the member id, or nil.
func (h *Hub) member(id identity.PeerID) *peer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peers[id]
}

// Members returns the members' peer IDs, sorted.
func (h *Hub) Members() []identity.PeerID {
	h.mu.Lock()
	out := make([]identity.PeerID, 0, len(h.peers))
	for id := range h.peers {
		out = append(out, id)
	}
	h.mu.Unlock()
	slices.SortFunc(out, identity.PeerID.Compare)
	return out
}
