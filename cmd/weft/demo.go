package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/hub/raft"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/tcp"
)

// runDemo runs a local tour of weft on loopback: five hub members form a
// mesh over TCP, run a raft log, lose their leader and carry on.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "[flags]", stderr)
	entries := fs.Int("entries", 20_000, "entries to commit before and again after the leader stops")
	clients := fs.Int("clients", 64, "concurrent proposers")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *entries < 1 || *entries > 1_000_000 || *clients < 1 || *clients > 1024 {
		return &usageError{msg: "-entries must be 1..1000000 and -clients 1..1024"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	fmt.Fprint(stdout, "weft demo: five hub members on loopback TCP, a raft log on top\n\n")
	c, err := startDemoCluster(ctx, stdout, 5)
	if err != nil {
		return err
	}
	defer c.close()
	if err := c.run(ctx, stdout, *entries, *clients); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ndone in %v\n", time.Since(start).Round(10*time.Millisecond))
	return nil
}

// demoMember is one member: its driver, hub, raft replica and the entries
// the replica applied.
type demoMember struct {
	name string
	d    *driver.Driver
	h    *hub.Hub
	node *raft.Node

	mu      sync.Mutex
	applied []raft.Entry
	stopped bool
	downs   []string // members seen going down after the stop, as text
}

type demoCluster struct {
	members []*demoMember
	stopAt  atomic.Int64 // unix ns when the leader was stopped
	answers atomic.Int64 // demo messages handled (not raft's)
}

func startDemoCluster(ctx context.Context, out io.Writer, n int) (*demoCluster, error) {
	tr, err := tcp.New(tcp.Config{})
	if err != nil {
		return nil, err
	}
	c := &demoCluster{}
	for i := range n {
		if err := c.startMember(tr, fmt.Sprintf("m%d", i+1)); err != nil {
			c.close()
			return nil, err
		}
	}
	fmt.Fprintln(out, "members")
	t0 := time.Now()
	for _, m := range c.members {
		for _, o := range c.members {
			if o != m {
				if err := m.h.AddPeer(o.h.Contact()); err != nil {
					c.close()
					return nil, err
				}
			}
		}
	}
	for _, m := range c.members {
		if err := m.h.WaitConnected(ctx, 0); err != nil {
			c.close()
			return nil, fmt.Errorf("demo: %s did not connect: %w", m.name, err)
		}
		id := m.h.ID().String()
		fmt.Fprintf(out, "  %s  %s…%s  %-28s  %d of %d members up (control and bulk lanes) after %v\n",
			m.name, id[:8], id[len(id)-4:], m.h.Addrs()[0], m.h.Stats().Up, n-1, time.Since(t0).Round(time.Millisecond))
	}
	return c, c.startRaft()
}

func (c *demoCluster) startMember(tr transport.Transport, name string) error {
	key, err := identity.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		return err
	}
	m := &demoMember{name: name, d: d}
	c.members = append(c.members, m)
	m.h, err = hub.New(hub.Config{Driver: d, Identity: key, Transports: []transport.Transport{tr},
		ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")},
		OnPeerEvent: func(ev hub.PeerEvent) { c.peerEvent(m, ev) }})
	return err
}

// startRaft starts a replica on every member; the hub hands raft its
// messages and answers the demo's own requests.
func (c *demoCluster) startRaft() error {
	for _, m := range c.members {
		node, err := raft.New(raft.Config{Hub: m.h, Apply: m.apply})
		if err != nil {
			return err
		}
		m.node = node
		m.h.SetHandler(func(msg *hub.Message) {
			if node.Handle(msg) {
				return
			}
			c.answers.Add(1)
			if msg.IsRequest() {
				_ = msg.Reply(context.Background(), nil)
			}
		})
	}
	return nil
}

func (m *demoMember) apply(e raft.Entry) {
	m.mu.Lock()
	m.applied = append(m.applied, raft.Entry{Index: e.Index, Term: e.Term, Data: slices.Clone(e.Data)})
	m.mu.Unlock()
}

func (c *demoCluster) peerEvent(m *demoMember, ev hub.PeerEvent) {
	at := c.stopAt.Load()
	if ev.Up || at == 0 {
		return
	}
	who := c.nameOf(ev.Peer)
	m.mu.Lock()
	m.downs = append(m.downs, fmt.Sprintf("%s go down %v after the stop", who, time.Since(time.Unix(0, at)).Round(100*time.Microsecond)))
	m.mu.Unlock()
}

func (c *demoCluster) nameOf(id identity.PeerID) string {
	for _, m := range c.members {
		if m.h.ID() == id {
			return m.name
		}
	}
	return id.String()
}

func (c *demoCluster) live() []*demoMember {
	var out []*demoMember
	for _, m := range c.members {
		m.mu.Lock()
		if !m.stopped {
			out = append(out, m)
		}
		m.mu.Unlock()
	}
	return out
}

// leader waits until the live members agree on a live leader.
func (c *demoCluster) leader(ctx context.Context) (*demoMember, error) {
	for ctx.Err() == nil {
		live := c.live()
		lead := live[0].node.Leader()
		for _, m := range live {
			if m.h.ID() == lead && !slices.ContainsFunc(live, func(o *demoMember) bool { return o.node.Leader() != lead }) {
				return m, nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil, fmt.Errorf("demo: no leader: %w", ctx.Err())
}

// stop stops a member: raft replica, hub (its connections close) and
// driver.
func (c *demoCluster) stop(m *demoMember) {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m.node != nil {
		_ = m.node.Close()
	}
	if m.h != nil {
		_ = m.h.Close(ctx)
	}
	_ = m.d.Close(ctx)
}

func (c *demoCluster) close() {
	var wg sync.WaitGroup
	for _, m := range c.members {
		wg.Add(1)
		go func() { defer wg.Done(); c.stop(m) }()
	}
	wg.Wait()
}

// run is the tour: elect, commit, stop the leader, elect, commit, check,
// measure.
func (c *demoCluster) run(ctx context.Context, out io.Writer, entries, clients int) error {
	t0 := time.Now()
	lead, err := c.leader(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nraft: %s is the leader (term %d), elected in %v\n", lead.name, lead.node.Status().Term, time.Since(t0).Round(time.Millisecond))
	w := &demoWorkload{c: c, acked: make(map[uint64]uint64)}
	if err := w.commit(ctx, out, entries, clients); err != nil {
		return err
	}
	old, err := c.failover(ctx, out, lead)
	if err != nil {
		return err
	}
	if err := w.commit(ctx, out, entries, clients); err != nil {
		return err
	}
	if err := w.check(ctx, out, old); err != nil {
		return err
	}
	return c.measureHub(ctx, out)
}

// failover stops the leader and waits for the survivors to elect another.
func (c *demoCluster) failover(ctx context.Context, out io.Writer, lead *demoMember) ([]raft.Entry, error) {
	fmt.Fprintf(out, "\nstopping the leader %s\n", lead.name)
	c.stopAt.Store(time.Now().UnixNano())
	t0 := time.Now()
	c.stop(lead)
	lead.mu.Lock()
	oldLog := lead.applied
	lead.mu.Unlock()
	next, err := c.leader(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range c.live() {
		m.mu.Lock()
		fmt.Fprintf(out, "  %s saw %s\n", m.name, strings.Join(m.downs, ", "))
		m.mu.Unlock()
	}
	fmt.Fprintf(out, "  %s is the new leader (term %d), %v after the stop\n", next.name, next.node.Status().Term, time.Since(t0).Round(time.Millisecond))
	return oldLog, nil
}

// demoWorkload proposes numbered entries and remembers where each
// acknowledged one landed.
type demoWorkload struct {
	c     *demoCluster
	next  atomic.Uint64
	mu    sync.Mutex
	acked map[uint64]uint64 // index → entry number
}

func (w *demoWorkload) commit(ctx context.Context, out io.Writer, entries, clients int) error {
	fmt.Fprintf(out, "\ncommitting %s entries from %d concurrent clients\n", thousands(entries), clients)
	var done atomic.Int64
	lat := make([][]time.Duration, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); lat[i] = w.client(ctx, i, &done, int64(entries)) }()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("demo: %d of %d entries committed: %w", done.Load(), entries, err)
	}
	el := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	fmt.Fprintf(out, "  %s committed in %v: %s commits/s; commit latency p50 %v, p99 %v\n", thousands(len(all)), el.Round(time.Millisecond),
		thousands(int(float64(len(all))/el.Seconds())), all[len(all)/2].Round(10*time.Microsecond), all[len(all)*99/100].Round(10*time.Microsecond))
	return nil
}

// client proposes through the live members in turn until the round's
// quota is done; a proposal that fails (no leader, or its replica
// stopped) moves it to the next member, with a fresh entry number.
func (w *demoWorkload) client(ctx context.Context, i int, done *atomic.Int64, quota int64) []time.Duration {
	var lat []time.Duration
	for try := i; done.Load() < quota && ctx.Err() == nil; try++ {
		live := w.c.live()
		m := live[try%len(live)]
		for done.Load() < quota {
			seq := w.next.Add(1)
			t0 := time.Now()
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			index, err := m.node.Propose(pctx, binary.BigEndian.AppendUint64(nil, seq))
			cancel()
			if err != nil {
				time.Sleep(5 * time.Millisecond)
				break
			}
			if done.Add(1) > quota {
				done.Add(-1) // another client filled the quota first; the entry still counts below
			} else {
				lat = append(lat, time.Since(t0))
			}
			w.mu.Lock()
			w.acked[index] = seq
			w.mu.Unlock()
		}
	}
	return lat
}

// check verifies, on every surviving replica, that the logs are
// identical, hold every acknowledged entry where Propose said, once each,
// and start with everything the stopped leader had applied.
func (w *demoWorkload) check(ctx context.Context, out io.Writer, oldLog []raft.Entry) error {
	var last uint64
	for index := range w.acked {
		last = max(last, index)
	}
	live := w.c.live()
	for _, m := range live {
		for m.node.Status().Applied < last {
			if ctx.Err() != nil {
				return fmt.Errorf("demo: %s applied %d of %d", m.name, m.node.Status().Applied, last)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	ref := live[0].entriesCopy()
	for _, m := range live[1:] {
		if !slices.EqualFunc(ref, m.entriesCopy(), sameEntry) {
			return fmt.Errorf("demo: %s and %s applied different logs", live[0].name, m.name)
		}
	}
	if err := checkAcked(ref, w.acked); err != nil {
		return err
	}
	if len(oldLog) > len(ref) || !slices.EqualFunc(oldLog, ref[:len(oldLog)], sameEntry) {
		return errors.New("demo: the survivors lost or changed entries the old leader had applied")
	}
	fmt.Fprintf(out, "\nchecked: the %d surviving replicas hold the same %s entries; all %s acknowledged entries are there,\n"+
		"  at the index Propose returned, once each; the %s entries the stopped leader had applied come first, unchanged\n",
		len(live), thousands(len(ref)), thousands(len(w.acked)), thousands(len(oldLog)))
	return nil
}

func (m *demoMember) entriesCopy() []raft.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.applied)
}

func sameEntry(a, b raft.Entry) bool { return a.Index == b.Index && string(a.Data) == string(b.Data) }

func checkAcked(log []raft.Entry, acked map[uint64]uint64) error {
	byIndex := make(map[uint64]uint64, len(log))
	seen := make(map[uint64]bool, len(log))
	for _, e := range log {
		seq := binary.BigEndian.Uint64(e.Data)
		if seen[seq] {
			return fmt.Errorf("demo: entry %d is in the log twice", seq)
		}
		seen[seq], byIndex[e.Index] = true, seq
	}
	for index, seq := range acked {
		if byIndex[index] != seq {
			return fmt.Errorf("demo: acknowledged entry %d is not at index %d", seq, index)
		}
	}
	return nil
}

// measureHub times the hub itself on a survivor: a broadcast stream (the
// stopped member is still listed: each broadcast reports it) and quorum
// calls.
func (c *demoCluster) measureHub(ctx context.Context, out io.Writer) error {
	m := c.live()[0]
	h := m.h
	members, up := len(h.Members()), h.Stats().Up
	const n = 20_000
	want := c.answers.Load() + int64(n*up)
	msg := make([]byte, 64)
	t0 := time.Now()
	for range n {
		var be *hub.BroadcastError
		if err := h.Broadcast(ctx, msg); err != nil && (!errors.As(err, &be) || be.Sent != up || !errors.Is(err, hub.ErrNotConnected)) {
			return err
		}
	}
	for c.answers.Load() < want && ctx.Err() == nil {
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(t0)
	fmt.Fprintf(out, "\nhub, from %s (%d members, %d up):\n  broadcast of 64 B: %s deliveries/s\n", m.name, members, up, thousands(int(float64(n*up)/el.Seconds())))
	k := members/2 + 1
	lat := make([]time.Duration, 0, 1000)
	for range cap(lat) {
		t := time.Now()
		if _, err := h.Quorum(ctx, msg, k); err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	fmt.Fprintf(out, "  quorum call, %d of %d replies: p50 %v, p99 %v\n", k, members,
		lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
	return nil
}

// thousands formats n with commas: 12,345.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
