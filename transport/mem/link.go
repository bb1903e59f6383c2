package mem

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind says what the network decided for one write or packet.
type EventKind uint8

const (
	// EventDeliver: scheduled for delivery after Event.Delay.
	EventDeliver EventKind = iota + 1
	// EventDrop: a datagram lost (LinkConfig.Loss).
	EventDrop
	// EventDuplicate: the second copy of a duplicated datagram.
	EventDuplicate
	// EventReorder: a datagram held back so later ones overtake it.
	EventReorder
	// EventCut: a datagram dropped, or a stream write discarded, because
	// its link is partitioned.
	EventCut
)

func (k EventKind) String() string {
	switch k {
	case EventDeliver:
		return "deliver"
	case EventDrop:
		return "drop"
	case EventDuplicate:
		return "dup"
	case EventReorder:
		return "reorder"
	case EventCut:
		return "cut"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one fault decision, passed to Config.Trace. Every field but At
// is a function of the seed, the link configuration and the sequence of
// writes on the link direction: the same inputs give the same events.
type Event struct {
	From, To uint64        // address ids of the sending and receiving connections
	Seq      uint64        // number of the write or packet on its link direction, from 0
	Kind     EventKind     // what happened to it
	Size     int           // bytes
	Delay    time.Duration // latency, jitter and reorder hold drawn for this copy
	// At is when the copy is due, since NewNetwork: the write's time, plus
	// any wait for bandwidth, plus Delay. It depends on wall-clock time.
	At time.Duration
}

func (e Event) String() string {
	return fmt.Sprintf("%d->%d #%d %s %dB +%v", e.From, e.To, e.Seq, e.Kind, e.Size, e.Delay)
}

// hostKey names what an address belongs to: a Host (named), or the
// address alone (anonymous, id is the address id).
type hostKey struct {
	id    uint64
	named bool
}

// dirKey names one direction of a link.
type dirKey struct{ from, to hostKey }

// link is one direction between two hosts: its configuration, its seeded
// PRNG and its bandwidth clock. Connections between the same two hosts
// share it. The fast flags let the write path skip the lock when the link
// does nothing.
type link struct {
	key  dirKey
	refs int // connections using it, under Network.mu

	fastStream   atomic.Bool // instant, untraced, not cut
	fastDatagram atomic.Bool // fastStream and lossless
	cut          atomic.Bool // partitioned

	mu        sync.Mutex
	cfg       LinkConfig
	rng       *rand.Rand
	seq       uint64
	busyUntil int64 // bandwidth clock, ns since the network's epoch
	trace     func(Event)
}

func newLink(seed uint64, key dirKey, cfg LinkConfig, trace func(Event)) *link {
	l := &link{key: key, cfg: cfg, trace: trace}
	l.rng = rand.New(rand.NewPCG(seed, mix(key.from)^bitsRotate(mix(key.to))))
	l.refresh()
	return l
}

// mix is splitmix64's finalizer over a host key: well-spread PCG streams
// for neighbouring ids.
func mix(h hostKey) uint64 {
	z := h.id + 0x9e3779b97f4a7c15
	if h.named {
		z ^= 0xd6e8feb86659fd93
	}
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func bitsRotate(x uint64) uint64 { return x<<17 | x>>47 }

// refresh recomputes the fast flags; call it with mu held or before the
// link is shared.
func (l *link) refresh() {
	fast := l.cfg.instant() && l.trace == nil && !l.cut.Load()
	l.fastStream.Store(fast)
	l.fastDatagram.Store(fast && l.cfg.lossless())
}

func (l *link) setConfig(cfg LinkConfig) {
	l.mu.Lock()
	l.cfg = cfg
	l.refresh()
	l.mu.Unlock()
}

func (l *link) setCut(cut bool) {
	l.mu.Lock()
	l.cut.Store(cut)
	l.refresh()
	l.mu.Unlock()
}

// delayLocked draws latency plus jitter.
func (l *link) delayLocked() int64 {
	d := int64(l.cfg.Latency)
	if j := int64(l.cfg.Jitter); j > 0 {
		d += l.rng.Int64N(2*j+1) - j
	}
	return max(d, 0)
}

// occupyLocked puts size bytes on the wire at now and returns when their
// last byte has left.
func (l *link) occupyLocked(now int64, size int) int64 {
	bw := l.cfg.BandwidthBytesPerSec
	if bw == 0 {
		return now
	}
	start := max(now, l.busyUntil)
	l.busyUntil = start + int64(float64(size)*1e9/float64(bw))
	return l.busyUntil
}

func (l *link) emit(e Event) {
	if l.trace != nil {
		l.trace(e)
	}
}

// planStream decides when a stream write of size bytes, written at now,
// reaches the peer: never before notBefore, so bytes stay in order. ok is
// false when the link is cut.
func (l *link) planStream(now, notBefore int64, size int, from, to uint64) (at int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := Event{From: from, To: to, Seq: l.seq, Size: size, Kind: EventDeliver}
	l.seq++
	if l.cut.Load() {
		e.Kind = EventCut
		l.emit(e)
		return 0, false
	}
	delay := l.delayLocked()
	at = max(l.occupyLocked(now, size)+delay, notBefore)
	e.Delay, e.At = time.Duration(delay), time.Duration(at)
	l.emit(e)
	return at, true
}

// plan is the fate of one datagram: up to two delivery times.
type plan struct {
	at       [2]int64
	n        int
	reorder  int // copies held back
	dup, cut bool
	lost     bool
}

// planDatagram decides the fate of a packet of size bytes sent at now.
func (l *link) planDatagram(now int64, size int, from, to uint64) plan {
	l.mu.Lock()
	defer l.mu.Unlock()
	var p plan
	e := Event{From: from, To: to, Seq: l.seq, Size: size}
	l.seq++
	switch {
	case l.cut.Load():
		p.cut, e.Kind = true, EventCut
		l.emit(e)
		return p
	case l.cfg.Loss > 0 && l.rng.Float64() < l.cfg.Loss:
		p.lost, e.Kind = true, EventDrop
		l.emit(e)
		return p
	}
	copies := 1
	if l.cfg.Duplicate > 0 && l.rng.Float64() < l.cfg.Duplicate {
		copies, p.dup = 2, true
	}
	for i := range copies {
		delay := l.delayLocked()
		e.Kind = EventDeliver
		if l.cfg.Reorder > 0 && l.rng.Float64() < l.cfg.Reorder {
			hold := int64(l.cfg.Latency+l.cfg.Jitter) + int64(time.Millisecond)
			delay += 1 + l.rng.Int64N(hold)
			e.Kind = EventReorder
			p.reorder++
		}
		if i == 1 {
			e.Kind = EventDuplicate
		}
		p.at[i] = l.occupyLocked(now, size) + delay
		e.Delay, e.At = time.Duration(delay), time.Duration(p.at[i])
		l.emit(e)
	}
	p.n = copies
	return p
}
