package endpoint

import (
	"sort"
	"time"

	"github.com/weftnet/weft/internal/record"
)

// Over a datagram link packets may be lost, duplicated or reordered, so the
// session adds what a stream gives for free, QUIC-style: every packet has a
// number (its AEAD nonce); the receiver acknowledges packet-number ranges
// (PNACK) besides the cumulative log offset (ACK); the sender declares a
// packet lost when enough later ones were acknowledged (three at first) or
// it is older than 9/8 of the RTT (plus the reordering seen), resends its
// log bytes, and keeps a congestion window (slow start, then additive
// increase; cut by 30% after a round that lost more than lossTolerance of
// its packets, so random loss below it does not shrink the window). A
// probe timer (PTO) resends when acknowledgements stop altogether.
//
// Reordering is not loss: a packet declared lost whose acknowledgement
// arrives later was only late. The sender then widens its thresholds to
// the reordering it saw (as Linux TCP and RACK do: the packet threshold
// grows to the distance it was overtaken by, the time threshold by how
// late it was, both bounded) and undoes the window cut that counted it,
// if without it the round would not have cut. Without this a link that
// only jitters (packets a few dozen microseconds apart overtaking each
// other) lost a tenth of its packets to spurious losses, the window fell
// to its floor, and a 0.3 ms link moved 3 MB/s.
//
// Received log bytes that arrive ahead of a gap wait in an out-of-order
// buffer bounded by the receive window.

const (
	initialRTT = 50 * time.Millisecond
	// granularity is the smallest time threshold for loss (RFC 9002's
	// kGranularity): timers and clocks are not finer.
	granularity     = time.Millisecond
	minCwndPackets  = 2
	initCwndPackets = 32
	reorderPackets  = 3  // the packet threshold at first
	maxReorder      = 64 // the packet threshold at most
	maxPTOBackoff   = 6
	// lossTolerance is the fraction of a round's packets that may be lost
	// before the window shrinks.
	lossTolerance = 0.10
)

// sentPacket is an ack-eliciting datagram in flight.
type sentPacket struct {
	pn     uint64
	at     time.Time
	off, n uint64 // log bytes it carried
	size   int
	done   bool // acknowledged or declared lost
	// Declared lost: when, with the largest packet number acknowledged
	// then (0 if by timer), and in which loss round; spurious once its
	// acknowledgement came after all.
	lost, spurious bool
	lostAt         time.Time
	lostBehind     uint64
	lostRound      uint64
}

// cut is the last window reduction, kept to undo it when the losses that
// caused it turn out to be reordering.
type cut struct {
	round          uint64 // the loss round that cut
	lost, total    int    // that round's losses and packets
	cwnd, ssthresh int    // before the cut
	spurious       int    // of its losses, found spurious since
	active         bool
	exitOnly       bool // it only ended slow start: undone only if every loss was spurious
}

// span is a range of log bytes to resend.
type span struct{ off, n uint64 }

// segment is out-of-order received log bytes.
type segment struct {
	off  uint64
	data []byte
}

// dgram is the session's datagram state; it resets with each link except
// the out-of-order buffer, which holds log bytes.
type dgram struct {
	// Sender.
	sentQ        []sentPacket
	retx         []span
	inflight     int
	cwnd         int
	ssthresh     int
	roundEnd     uint64 // the round ends when this packet is acknowledged
	roundAcked   int
	roundLost    int
	largestSent  uint64
	largestAcked uint64
	anyAcked     bool
	rttVar       time.Duration
	minRTT       time.Duration
	ptoCount     int
	ptoTimerOn   bool
	round        uint64 // loss rounds ended
	lastCut      cut
	reorder      uint64        // packet threshold
	reorderDelay time.Duration // added to the time threshold

	// Receiver.
	rcvd       []record.PNRange // descending, at most MaxPNAckRanges+1
	rcvdAt     time.Time        // when the largest arrived
	unackedPkt int              // ack-eliciting packets not yet acknowledged
	ackNow     bool             // one arrived out of order: acknowledge at once
	ooo        []segment
	oooBytes   int
	bufs       [][]byte // datagrams batched for one Writev
}

func (g *dgram) reset(mss int) {
	*g = dgram{ooo: g.ooo, oooBytes: g.oooBytes, bufs: g.bufs[:0]}
	g.cwnd = initCwndPackets * mss
	g.ssthresh = 1 << 30
	g.reorder = reorderPackets
}

// onPacketReceived records packet number pn for the next PNACK.
func (g *dgram) onPacketReceived(pn uint64, ackEliciting bool) {
	g.unackedPkt += b2i(ackEliciting)
	if len(g.rcvd) == 0 || pn > g.rcvd[0].Largest {
		g.rcvdAt = time.Now()
	}
	if ackEliciting && len(g.rcvd) > 0 && pn != g.rcvd[0].Largest+1 {
		// A gap or a late packet: the sender's loss detection (or its
		// undoing) waits on this acknowledgement, as in QUIC.
		g.ackNow = true
	}
	r := g.rcvd
	i := sort.Search(len(r), func(i int) bool { return r[i].Smallest <= pn }) // first range at or below pn
	switch {
	case i < len(r) && pn <= r[i].Largest:
		return // duplicate
	case i < len(r) && r[i].Largest+1 == pn:
		r[i].Largest = pn
		if i > 0 && r[i-1].Smallest == pn+1 {
			r[i-1].Smallest = r[i].Smallest
			r = append(r[:i], r[i+1:]...)
		}
	case i > 0 && r[i-1].Smallest == pn+1:
		r[i-1].Smallest = pn
	default:
		r = append(r, record.PNRange{})
		copy(r[i+1:], r[i:])
		r[i] = record.PNRange{Smallest: pn, Largest: pn}
	}
	if len(r) > record.MaxPNAckRanges+1 {
		r = r[:record.MaxPNAckRanges+1]
	}
	g.rcvd = r
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mss is the largest datagram the session sends: DatagramPayloadBytes, or
// less if the connection takes no more.
func (s *session) mss() int {
	n := s.ep.cfg.DatagramPayloadBytes
	if s.link != nil && s.link.conn != nil {
		if m := s.link.conn.MaxDatagram(); m > 0 && m < n {
			n = m
		}
	}
	return n
}

// addPNAck puts a PNACK into f if packets await acknowledgement.
func (s *session) addPNAck(f *record.Frame) {
	g := &s.dg
	if len(g.rcvd) == 0 || g.unackedPkt == 0 && !s.ackDue {
		return
	}
	f.HasPNAck = true
	f.PNAck.AckDelayMicros = uint64(time.Since(g.rcvdAt) / time.Microsecond)
	f.PNAck.NumRanges = copy(f.PNAck.Ranges[:], g.rcvd)
	g.unackedPkt, g.ackNow = 0, false
}

// nextDatagramData picks the log bytes for the next packet: lost bytes
// first, then new ones, within the congestion and flow windows.
func (s *session) nextDatagramData(room int, limit uint64) (off, n uint64) {
	g := &s.dg
	if g.inflight+s.mss() > g.cwnd {
		return 0, 0
	}
	for len(g.retx) > 0 {
		sp := &g.retx[0]
		if sp.off+sp.n <= s.acked {
			g.retx = g.retx[1:]
			continue
		}
		if sp.off < s.acked {
			sp.n -= s.acked - sp.off
			sp.off = s.acked
		}
		n = min(uint64(room), sp.n)
		off = sp.off
		sp.off += n
		sp.n -= n
		if sp.n == 0 {
			g.retx = g.retx[1:]
		}
		s.ep.stats.retransmits.Add(1)
		return off, n
	}
	if s.sent < limit {
		n = min(uint64(room), limit-s.sent)
		off = s.sent
		s.sent += n
		return off, n
	}
	return 0, 0
}

// onSent records an ack-eliciting packet.
func (s *session) onSent(pn uint64, off, n uint64, size int) {
	g := &s.dg
	g.largestSent = pn
	g.sentQ = append(g.sentQ, sentPacket{pn: pn, at: time.Now(), off: off, n: n, size: size})
	g.inflight += size
	s.armPTO()
}

// onPNAck processes acknowledged packet ranges: RTT, congestion window,
// and loss detection.
func (s *session) onPNAck(a *record.PNAck) {
	g := &s.dg
	ranges := a.Acked()
	if len(ranges) == 0 {
		return
	}
	largest := ranges[0].Largest
	now := time.Now()
	newlyAcked := false
	// sentQ is in packet-number order: visit only the packets inside each
	// range, so an acknowledgement costs what it acknowledges, not the
	// whole window.
	q := g.sentQ
	for _, r := range ranges {
		i := sort.Search(len(q), func(i int) bool { return q[i].pn >= r.Smallest })
		for ; i < len(q) && q[i].pn <= r.Largest; i++ {
			switch p := &q[i]; {
			case !p.done:
				s.acked1(p, largest, now, a.AckDelayMicros)
				newlyAcked = true
			case p.lost && !p.spurious:
				s.lateAck(p, now)
			}
		}
	}
	if !g.anyAcked || largest > g.largestAcked {
		g.largestAcked, g.anyAcked = largest, true
	}
	if newlyAcked {
		g.ptoCount = 0
	}
	if s.closeSent && !s.closeAcked && inRanges(s.closePN, ranges) {
		s.closeAcked = true
		defer s.shutdown(nil)
	}
	s.detectLoss(now)
	s.endRound()
	s.trimSent(now)
	s.armPTO()
}

// lateAck handles the acknowledgement of packet p, declared lost before:
// it was reordered, not lost. The thresholds widen to what p shows, and
// the loss no longer counts against the window.
func (s *session) lateAck(p *sentPacket, now time.Time) {
	g := &s.dg
	p.spurious = true
	if p.lostBehind > p.pn {
		g.reorder = min(max(g.reorder, p.lostBehind-p.pn+1), maxReorder)
	}
	// The time threshold widens by how late p was, up to the path's
	// minimum RTT (RACK's bound is the smoothed RTT, which a queue
	// inflates; growing with it, a wider threshold let losses go
	// unrepaired longer, which held bytes in the receiver and the queue).
	if late := now.Sub(p.at) - s.lossRTT()*9/8; late > g.reorderDelay && s.srtt != 0 {
		g.reorderDelay = min(late, max(g.minRTT, granularity))
	}
	switch c := &g.lastCut; {
	case p.lostRound == g.round:
		g.roundLost-- // the round has not ended: it is as if never lost
	case c.active && p.lostRound == c.round:
		c.spurious++
		if c.spurious == c.lost || !c.exitOnly && !tooManyLost(c.lost-c.spurious, c.total) {
			g.cwnd, g.ssthresh = max(g.cwnd, c.cwnd), max(g.ssthresh, c.ssthresh)
			c.active = false
		}
	}
}

// acked1 counts packet p acknowledged: RTT sample if it is the largest
// acknowledged, and window growth.
func (s *session) acked1(p *sentPacket, largest uint64, now time.Time, ackDelayMicros uint64) {
	g := &s.dg
	p.done = true
	g.inflight -= p.size
	if p.pn == largest {
		s.datagramRTT(now.Sub(p.at), time.Duration(ackDelayMicros)*time.Microsecond)
	}
	g.roundAcked++
	// Grow only a window that is used (RFC 7661): an application- or
	// flow-limited sender would otherwise grow it without bound and then
	// burst into it.
	inflight := g.inflight + p.size
	switch {
	case g.cwnd < g.ssthresh && 2*inflight >= g.cwnd:
		g.cwnd += p.size
	case g.cwnd >= g.ssthresh && inflight+3*s.mss() >= g.cwnd:
		g.cwnd += s.mss() * p.size / g.cwnd
	}
}

// endRound adjusts the window once per round trip, by the round's loss
// rate.
func (s *session) endRound() {
	g := &s.dg
	if g.largestAcked < g.roundEnd {
		return
	}
	total := g.roundAcked + g.roundLost
	before := cut{round: g.round, lost: g.roundLost, total: total, cwnd: g.cwnd, ssthresh: g.ssthresh, active: true}
	switch {
	case tooManyLost(g.roundLost, total):
		g.cwnd = max(g.cwnd*7/10, minCwndPackets*s.mss())
		g.ssthresh = g.cwnd
		g.lastCut = before
	case g.roundLost > 0 && g.cwnd < g.ssthresh:
		g.ssthresh = g.cwnd // leave slow start at the first loss
		before.exitOnly = true
		g.lastCut = before
	}
	g.roundAcked, g.roundLost = 0, 0
	g.roundEnd = g.largestSent
	g.round++
}

// tooManyLost reports whether a round with lost losses among its total
// packets cuts the window: more than lossTolerance of them, and one more,
// so that in a window of a few packets one random loss does not cut it
// (there it would be more than a tenth each time, and the window would
// stay at a few packets).
func tooManyLost(lost, total int) bool {
	return lost > 0 && float64(lost) > lossTolerance*float64(total)+1
}

func inRanges(pn uint64, ranges []record.PNRange) bool {
	for _, r := range ranges {
		if pn > r.Largest {
			return false
		}
		if pn >= r.Smallest {
			return true
		}
	}
	return false
}

func (s *session) datagramRTT(sample, ackDelay time.Duration) {
	g := &s.dg
	if g.minRTT == 0 || sample < g.minRTT {
		g.minRTT = sample
	}
	if sample-ackDelay >= g.minRTT {
		sample -= ackDelay
	}
	if g.cwnd < g.ssthresh && sample > g.minRTT+min(max(g.minRTT/8, 4*time.Millisecond), 16*time.Millisecond) {
		// The delay grew while the window doubled: a queue is building
		// somewhere; leave slow start before it overflows (HyStart++,
		// RFC 9406, without its conservative phase).
		g.ssthresh = g.cwnd
	}
	if s.srtt == 0 {
		s.srtt, g.rttVar = sample, sample/2
	} else {
		d := s.srtt - sample
		if d < 0 {
			d = -d
		}
		g.rttVar = (3*g.rttVar + d) / 4
		s.srtt = (7*s.srtt + sample) / 8
	}
	s.ep.stats.rttNanos.Store(int64(s.srtt))
}

// lossRTT is the RTT the loss thresholds start from.
func (s *session) lossRTT() time.Duration {
	if s.srtt == 0 {
		return initialRTT
	}
	return s.srtt
}

// lossDelay is the time threshold: a packet not acknowledged that long
// after it was sent, while a later one was, is lost.
func (s *session) lossDelay() time.Duration {
	return max(s.lossRTT()*9/8+s.dg.reorderDelay, granularity)
}

// detectLoss declares packets lost by packet or time threshold.
func (s *session) detectLoss(now time.Time) {
	g := &s.dg
	if !g.anyAcked {
		return
	}
	lossDelay := s.lossDelay()
	// Packets were sent in packet-number order, so once one is neither
	// old enough nor far enough behind, no later one is.
	for i := range g.sentQ {
		p := &g.sentQ[i]
		if p.pn > g.largestAcked {
			break
		}
		if p.done {
			continue
		}
		if g.largestAcked-p.pn < g.reorder && now.Sub(p.at) <= lossDelay {
			break
		}
		s.lose(p, now, g.largestAcked)
	}
}

// lose marks p lost and queues its log bytes for resending; behind is
// the largest packet number acknowledged (0: declared by timer).
func (s *session) lose(p *sentPacket, now time.Time, behind uint64) {
	g := &s.dg
	p.done, p.lost, p.lostAt, p.lostBehind, p.lostRound = true, true, now, behind, g.round
	g.inflight -= p.size
	if p.n > 0 && p.off+p.n > s.acked {
		g.retx = append(g.retx, span{p.off, p.n})
	}
	g.roundLost++
}

// trimSent drops the packets at the front of sentQ that are done. A lost
// one stays for a round trip after its loss, for a late acknowledgement
// to show the loss spurious.
func (s *session) trimSent(now time.Time) {
	g := &s.dg
	keep := 2 * s.lossDelay()
	i := 0
	for i < len(g.sentQ) && g.sentQ[i].done && (!g.sentQ[i].lost || g.sentQ[i].spurious || now.Sub(g.sentQ[i].lostAt) > keep) {
		i++
	}
	switch {
	case i == len(g.sentQ):
		g.sentQ = g.sentQ[:0]
	case i > 0:
		// Reslice rather than shift the rest down on every
		// acknowledgement; append reallocates (copying only what is in
		// flight) when the front's capacity is used up.
		g.sentQ = g.sentQ[i:]
	}
}

// armPTO (re)arms the probe timer while ack-eliciting packets are in
// flight: if it fires, the oldest one is resent.
func (s *session) armPTO() {
	g := &s.dg
	if g.inflight <= 0 {
		if g.ptoTimerOn {
			g.ptoTimerOn = false
			s.stopTimer(&s.ptoTimer)
		}
		return
	}
	rtt := s.srtt
	if rtt == 0 {
		rtt = initialRTT
	}
	pto := (rtt + max(4*g.rttVar, time.Millisecond) + ackDelay) << min(g.ptoCount, maxPTOBackoff)
	g.ptoTimerOn = true
	s.arm(&s.ptoTimer, pto, s.onPTO)
}

func (s *session) onPTO() {
	g := &s.dg
	g.ptoTimerOn = false
	if s.link == nil || !s.link.datagram {
		return
	}
	g.ptoCount++
	// Resend the oldest outstanding packet's bytes (or probe with a PING).
	now := time.Now()
	for i := range g.sentQ {
		if p := &g.sentQ[i]; !p.done {
			s.lose(p, now, 0)
			break
		}
	}
	s.trimSent(now)
	switch {
	case s.closeSent && !s.closeAcked:
		s.sendClose()
	case len(g.retx) == 0:
		s.ping()
	}
	s.flush()
	s.armPTO()
}

// onDatagramData takes log bytes that may be out of order.
func (s *session) onDatagramData(off uint64, data []byte) error {
	end := off + uint64(len(data))
	if end <= s.recvd {
		return nil
	}
	if end > s.windowSent {
		return errWindow
	}
	if off > s.recvd {
		s.bufferSegment(off, data)
		return nil
	}
	if err := s.take(data[s.recvd-off:]); err != nil {
		return err
	}
	return s.drainSegments()
}

func (s *session) bufferSegment(off uint64, data []byte) {
	g := &s.dg
	i := sort.Search(len(g.ooo), func(i int) bool { return g.ooo[i].off >= off })
	if i < len(g.ooo) && g.ooo[i].off == off && len(g.ooo[i].data) >= len(data) {
		return // duplicate
	}
	seg := segment{off, append([]byte(nil), data...)}
	if i < len(g.ooo) && g.ooo[i].off == off {
		g.oooBytes += len(data) - len(g.ooo[i].data)
		g.ooo[i] = seg
		return
	}
	g.ooo = append(g.ooo, segment{})
	copy(g.ooo[i+1:], g.ooo[i:])
	g.ooo[i] = seg
	g.oooBytes += len(data)
}

// drainSegments feeds buffered segments that have become contiguous.
func (s *session) drainSegments() error {
	g := &s.dg
	for len(g.ooo) > 0 && g.ooo[0].off <= s.recvd {
		seg := g.ooo[0]
		g.ooo = g.ooo[1:]
		g.oooBytes -= len(seg.data)
		end := seg.off + uint64(len(seg.data))
		if end <= s.recvd {
			continue
		}
		if err := s.take(seg.data[s.recvd-seg.off:]); err != nil {
			return err
		}
	}
	if len(g.ooo) == 0 {
		g.ooo = nil
	}
	return nil
}
