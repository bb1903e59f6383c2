package transporttest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"time"

	"github.com/weftnet/weft/transport"
)

// testDatagramEcho sends packets of many sizes, with Write and Writev, to
// an echoing listener: each comes back whole, as one OnData call. Packets
// may arrive in any order (and twice); on the lossless link the suite
// expects, every one arrives.
func testDatagramEcho(e *env) {
	acc := newAcceptor(e, true)
	ln := e.listen(acc.accept)
	p := newPeer(e, "dialer", false)
	c := e.dial(ln.Addr(), e.worker(0), p)
	maxDG := c.MaxDatagram()
	if maxDG <= 0 {
		e.fatalf("MaxDatagram() = %d on a Datagram connection; want > 0", maxDG)
	}
	sent := map[string]bool{}
	var want [][]byte
	for i, n := range []int{1, 2, 8, 100, 512, 1000, 1200, 1400, maxDG} {
		pkt := randBytes(uint64(1000+i), min(n, maxDG))
		want = append(want, pkt)
		sent[string(pkt)] = true
	}
	for i, pkt := range want[:len(want)-3] {
		e.write(c, fmt.Sprintf("packet %d", i), pkt)
	}
	vec := want[len(want)-3:]
	if err := c.Post(func() {
		bufs := [][]byte{bytes.Clone(vec[0]), bytes.Clone(vec[1]), bytes.Clone(vec[2])}
		if err := c.Writev(bufs); err != nil {
			e.errorf("Writev of 3 packets: %v", err)
		}
		for _, b := range bufs {
			clear(b) // Writev may keep no reference to its buffers
		}
	}); err != nil {
		e.fatalf("Post: %v", err)
	}
	acc.next()
	p.waitUntil(fmt.Sprintf("%d distinct packets", len(sent)), func(p *peer) bool {
		seen := map[string]bool{}
		for _, pkt := range p.packets {
			if sent[string(pkt)] {
				seen[string(pkt)] = true
			}
		}
		return len(seen) == len(sent)
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pkt := range p.packets {
		if !sent[string(pkt)] {
			e.t.Errorf("received a packet of %d bytes that was never sent (boundaries lost or bytes changed)", len(pkt))
		}
	}
}

// testTooLarge: a packet of MaxDatagram()+1 bytes fails with ErrTooLarge,
// one of MaxDatagram() bytes arrives whole.
func testTooLarge(e *env) {
	pr := e.connect()
	for _, s := range []struct {
		name string
		c    transport.Conn
		p    *peer
	}{{"dialer", pr.dc, pr.a.p}, {"acceptor", pr.a.c, pr.dp}} {
		n := s.c.MaxDatagram()
		if n <= 0 {
			e.t.Errorf("%s: MaxDatagram() = %d; want > 0", s.name, n)
			continue
		}
		big, ok := randBytes(77, n+1), randBytes(78, n)
		var errBig, errVec, errOK error
		e.onWorker(s.c, "Write too large", func() {
			errBig = s.c.Write(big)
			errVec = s.c.Writev([][]byte{ok[:10], big})
			errOK = s.c.Write(ok)
		})
		if !errors.Is(errBig, transport.ErrTooLarge) {
			e.t.Errorf("%s: Write of MaxDatagram()+1 = %d bytes: %v; want an error wrapping ErrTooLarge", s.name, n+1, errBig)
		}
		if !errors.Is(errVec, transport.ErrTooLarge) {
			e.t.Errorf("%s: Writev with a packet of MaxDatagram()+1 bytes: %v; want an error wrapping ErrTooLarge", s.name, errVec)
		}
		if errOK != nil {
			e.t.Errorf("%s: Write of MaxDatagram() = %d bytes: %v", s.name, n, errOK)
		}
		s.p.waitPacket(ok)
	}
}

// Datagram transfer: packets carry a sequence number; the receiver acks
// the next sequence number it needs every dgAckEvery packets (and at once
// on a duplicate or a gap); the sender keeps at most dgWindow packets
// unacknowledged and, after dgRTO without progress, sends again from the
// first unacknowledged one.
const (
	dgPackets  = 20000
	dgWindow   = 256
	dgAckEvery = 16
	dgRTO      = 50 * time.Millisecond
	dgMaxSize  = 1024
)

// dgPacket returns packet seq: its sequence number, then bytes derived
// from it, so a retransmission is identical.
func dgPacket(seq uint64, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint64(b, seq)
	r := rand.NewPCG(seq, 0x5eed)
	for i := 8; i < size; i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		copy(b[i:], w[:])
	}
	return b
}

// dgSender is the dialer's Handler in the datagram transfer. Its fields
// are touched only on the connection's worker.
type dgSender struct {
	e           *env
	size        int
	base, next  uint64 // first unacknowledged, next to send
	lastMove    time.Time
	retransmits int
	done        chan struct{}
	acked       chan uint64 // cap 1: latest base, for the progress check
	closed      chan error
}

func (s *dgSender) pump(c transport.Conn) {
	s.e.checkOn(c, "datagram sender")
	for s.next < dgPackets && s.next < s.base+dgWindow && c.Buffered() < sendBound {
		if err := c.Write(dgPacket(s.next, s.size)); err != nil {
			s.e.errorf("datagram sender: Write of packet %d: %v", s.next, err)
			return
		}
		s.next++
	}
}

// tick retransmits after dgRTO without progress (on the worker).
func (s *dgSender) tick(c transport.Conn) {
	if s.base < dgPackets && time.Since(s.lastMove) > dgRTO {
		s.next = s.base
		s.lastMove = time.Now()
		s.retransmits++
	}
	s.pump(c)
}

func (s *dgSender) OnData(c transport.Conn, b []byte) {
	s.e.checkOn(c, "datagram sender: OnData")
	if len(b) != 8 {
		s.e.errorf("datagram sender: an ack of %d bytes; want 8", len(b))
		return
	}
	ack := binary.BigEndian.Uint64(b)
	if ack <= s.base || ack > dgPackets {
		return
	}
	s.base, s.lastMove = ack, time.Now()
	s.next = max(s.next, s.base)
	select {
	case <-s.acked:
	default:
	}
	s.acked <- ack
	if s.base == dgPackets {
		close(s.done)
		return
	}
	s.pump(c)
}

func (s *dgSender) OnWritable(c transport.Conn) { s.pump(c) }

func (s *dgSender) OnClose(c transport.Conn, err error) {
	closeOnce(s.e, "datagram sender", s.closed, err)
}

// dgReceiver is the acceptor's Handler in the datagram transfer.
type dgReceiver struct {
	e        *env
	size     int
	expect   uint64            // next in-order sequence number
	pending  map[uint64][]byte // arrived ahead of expect
	sum      hash.Hash         // of the packets in order
	count    int
	done     chan []byte // the final sum
	finished bool
	closed   chan error
}

func (r *dgReceiver) OnData(c transport.Conn, b []byte) {
	r.e.checkOn(c, "datagram receiver: OnData")
	if len(b) != r.size {
		r.e.errorf("datagram receiver: a packet of %d bytes; want %d", len(b), r.size)
		return
	}
	seq := binary.BigEndian.Uint64(b)
	if seq >= dgPackets || !bytes.Equal(b, dgPacket(seq, r.size)) {
		r.e.errorf("datagram receiver: packet %d arrived damaged", seq)
		return
	}
	r.count++
	_, dup := r.pending[seq]
	switch {
	case seq < r.expect || dup:
		r.ack(c) // a retransmission: the sender lacks an ack
		return
	case seq > r.expect:
		r.pending[seq] = bytes.Clone(b)
		r.ack(c)
		return
	}
	r.sum.Write(b)
	for r.expect++; r.pending[r.expect] != nil; r.expect++ {
		r.sum.Write(r.pending[r.expect])
		delete(r.pending, r.expect)
	}
	if r.count%dgAckEvery == 0 || r.expect == dgPackets {
		r.ack(c)
	}
	if r.expect == dgPackets && !r.finished {
		r.finished = true
		r.done <- r.sum.Sum(nil)
	}
}

func (r *dgReceiver) ack(c transport.Conn) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], r.expect)
	// The test may close the connection while retransmissions still
	// arrive: the ack is refused then.
	if err := c.Write(b[:]); err != nil && !errors.Is(err, transport.ErrClosed) {
		r.e.errorf("datagram receiver: Write of an ack: %v", err)
	}
}

func (r *dgReceiver) OnClose(c transport.Conn, err error) {
	closeOnce(r.e, "datagram receiver", r.closed, err)
}

// closeOnce hands OnClose's error to ch (cap 1) without blocking.
func closeOnce(e *env, name string, ch chan error, err error) {
	select {
	case ch <- err:
	default:
		e.errorf("%s: OnClose ran twice", name)
	}
}

// testDatagramTransfer sends dgPackets sequence-numbered packets through a
// simple window protocol and checks that all arrive, by hash.
func testDatagramTransfer(e *env) {
	var rcv *dgReceiver
	accepted := make(chan transport.Conn, 1)
	ln := e.listen(func(c transport.Conn) transport.Handler {
		if rcv != nil {
			e.errorf("datagram transfer: a second connection was accepted")
			return nil
		}
		rcv = &dgReceiver{e: e, size: min(c.MaxDatagram(), dgMaxSize), pending: map[uint64][]byte{},
			sum: sha256.New(), done: make(chan []byte, 1), closed: make(chan error, 1)}
		accepted <- c
		return rcv
	})
	snd := &dgSender{e: e, done: make(chan struct{}), acked: make(chan uint64, 1), closed: make(chan error, 1)}
	c := e.dial(ln.Addr(), e.worker(0), snd)
	snd.size = min(c.MaxDatagram(), dgMaxSize)
	if snd.size < 16 {
		e.fatalf("MaxDatagram() = %d; the transfer needs at least 16", snd.size)
	}
	want := sha256.New()
	for seq := range uint64(dgPackets) {
		want.Write(dgPacket(seq, snd.size))
	}
	e.onWorker(c, "start the sender", func() { snd.lastMove = time.Now(); snd.pump(c) })
	e.poster(c, snd.done, 10*time.Millisecond, func() { snd.tick(c) })
	ac := recv(e, accepted, "the listener to accept the transfer")
	for done := false; !done; {
		select {
		case <-snd.done:
			done = true
		case <-snd.acked:
			if e.failed() {
				e.fatalf("datagram transfer: giving up after the errors above")
			}
		case <-time.After(stallTimeout):
			e.fatalf("datagram transfer: no ack for %v", stallTimeout)
		}
	}
	if got := recv(e, rcv.done, "the receiver to get every packet"); !bytes.Equal(got, want.Sum(nil)) {
		e.t.Errorf("datagram transfer: the receiver's sha256 %x differs from the sender's %x", got[:8], want.Sum(nil)[:8])
	}
	var retransmits int
	e.onWorker(c, "read retransmits", func() { retransmits = snd.retransmits })
	e.t.Logf("%d packets of %d bytes, %d retransmission rounds", dgPackets, snd.size, retransmits)
	_ = c.Close()
	_ = ac.Close()
	recv(e, snd.closed, "the sender's OnClose")
	recv(e, rcv.closed, "the receiver's OnClose")
}
