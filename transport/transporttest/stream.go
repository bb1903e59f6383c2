package transporttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// Backpressure of the stream senders: write chunks while Buffered() is
// under sendBound, then wait for OnWritable (or the fallback tick).
const (
	chunkSize    = 64 << 10
	pumpBudget   = 1 << 20   // per pump call: at most 200 MB/s per connection with only the tick
	movingBudget = 64 << 10  // per pump call while moving: a steady stream
	floodBurst   = 32 << 20  // bytes a flooding sender writes before each round of moves: more than socket buffers hold
	movingStep   = 256 << 10 // bytes each direction moves between two rounds of moves
	sendBound    = 4 << 20
	fallbackTick = 5 * time.Millisecond
	// stallTimeout fails a transfer that makes no progress for that long.
	stallTimeout = waitTimeout
)

// streamer is a Handler that sends a seeded pseudo-random byte stream with
// backpressure and hashes what it receives. Its fields are touched only on
// the connection's worker (callbacks and posted tasks), except the atomics
// and the channels; calls is a plain counter so that -race reports
// callbacks of one connection running concurrently.
type streamer struct {
	e     *env
	name  string
	calls int

	// sending
	rng      *rand.ChaCha8
	chunk    []byte
	limit    atomic.Int64 // bytes to send; lowered by stopSending
	sent     atomic.Int64
	sendSum  hash.Hash
	maxBuf   int  // highest Buffered() seen after a Write
	pending  bool // a Write left Buffered() > 0 and no OnWritable since
	writable int  // OnWritable calls
	sendDone chan struct{}
	finished bool  // sendDone is closed
	budget   int   // bytes per pump call
	quota    int64 // sends stop here until raised (burst); unbounded by default

	// receiving
	want     atomic.Int64 // bytes expected; -1 until known
	got      atomic.Int64
	recvSum  hash.Hash
	recvDone chan struct{}
	received bool // recvDone is closed
	closed   chan error
}

func newStreamer(e *env, name string, seed uint64, send, want int64) *streamer {
	s := &streamer{
		e: e, name: name,
		budget:   pumpBudget,
		quota:    unbounded,
		rng:      rand.NewChaCha8(seedOf(seed)),
		chunk:    make([]byte, chunkSize),
		sendSum:  sha256.New(),
		sendDone: make(chan struct{}),
		recvSum:  sha256.New(),
		recvDone: make(chan struct{}),
		closed:   make(chan error, 1),
	}
	s.limit.Store(send)
	s.want.Store(want)
	return s
}

// start begins sending on c: a first pump, and the fallback tick.
func (s *streamer) start(c transport.Conn) {
	pump := func() { s.pump(c) }
	if err := c.Post(pump); err != nil {
		s.e.errorf("%s: Post: %v", s.name, err)
		return
	}
	s.e.poster(c, s.sendDone, fallbackTick, pump)
}

// pump writes chunks while Buffered() is under the bound (on the worker).
// It writes at most budget bytes per call, so that when the peer keeps up
// (Buffered() stays 0) it does not keep the worker from everything else;
// the fallback tick and OnWritable call it again. (Re-posting itself would
// not yield: a mailbox runs tasks posted while it drains in the same
// turn.)
func (s *streamer) pump(c transport.Conn) {
	s.e.checkOn(c, s.name+": send task")
	s.calls++
	if s.finished {
		return
	}
	sent, limit := s.sent.Load(), s.limit.Load()
	stop := min(limit, s.quota)
	for budget := s.budget; sent < stop && budget > 0 && c.Buffered() < sendBound; budget -= chunkSize {
		b := s.chunk[:min(int64(len(s.chunk)), stop-sent)]
		s.rng.Read(b)
		s.sendSum.Write(b)
		if err := c.Write(b); err != nil {
			s.e.errorf("%s: Write after %d bytes: %v", s.name, sent, err)
			return
		}
		sent = s.sent.Add(int64(len(b)))
		if n := c.Buffered(); n > 0 {
			s.pending = true
			s.maxBuf = max(s.maxBuf, n)
		}
	}
	if sent >= limit {
		s.finished = true
		close(s.sendDone)
	}
}

// burst lets a flooding sender write n more bytes, a first part at once
// (on the worker).
func (s *streamer) burst(c transport.Conn, n int64) {
	s.calls++
	s.quota = s.sent.Load() + n
	s.pump(c)
}

// stopSending makes the sender stop where it is (on the worker) and
// returns how much it sent.
func (s *streamer) stopSending() int64 {
	s.calls++
	n := s.sent.Load()
	s.limit.Store(n)
	if !s.finished {
		s.finished = true
		close(s.sendDone)
	}
	return n
}

// expect sets how much the receiver expects (on the worker).
func (s *streamer) expect(n int64) {
	s.calls++
	s.want.Store(n)
	s.checkDone()
}

func (s *streamer) OnWritable(c transport.Conn) {
	s.e.checkOn(c, s.name+": OnWritable")
	s.calls++
	s.writable++
	s.pending = false
	if n := c.Buffered(); n != 0 {
		s.e.errorf("%s: OnWritable ran with Buffered() = %d; want 0", s.name, n)
	}
	s.pump(c)
}

func (s *streamer) OnData(c transport.Conn, b []byte) {
	s.e.checkOn(c, s.name+": OnData")
	s.calls++
	s.recvSum.Write(b)
	s.got.Add(int64(len(b)))
	s.checkDone()
}

// checkDone closes recvDone once everything expected arrived (on the
// worker).
func (s *streamer) checkDone() {
	got, want := s.got.Load(), s.want.Load()
	if want >= 0 && got > want {
		s.e.errorf("%s: received %d bytes, more than the %d sent", s.name, got, want)
	}
	if want >= 0 && got >= want && !s.received {
		s.received = true
		close(s.recvDone)
	}
}

func (s *streamer) OnClose(c transport.Conn, err error) {
	s.e.checkOn(c, s.name+": OnClose")
	s.calls++
	select {
	case s.closed <- err:
	default:
		s.e.errorf("%s: OnClose ran twice", s.name)
	}
}

// result is what a streamer did, read on its worker.
type result struct {
	sendSum, recvSum []byte
	sent, got        int64
	maxBuf           int
	pending          bool
	writable         int
}

func (s *streamer) result(c transport.Conn) result {
	s.e.t.Helper()
	var r result
	s.e.onWorker(c, s.name+": read the results", func() {
		s.calls++
		r = result{s.sendSum.Sum(nil), s.recvSum.Sum(nil), s.sent.Load(), s.got.Load(),
			s.maxBuf, s.pending, s.writable}
	})
	return r
}

// unbounded is the send size of a streamer that sends until stopSending.
const unbounded = 1 << 62

// streamPair is a connection whose two ends both run a streamer.
type streamPair struct {
	dc transport.Conn
	ds *streamer
	ac transport.Conn
	as *streamer
}

// expected is what a receiver expects from a sender of size n.
func expected(n int64) int64 {
	if n == unbounded {
		return -1 // known after stopSending
	}
	return n
}

// openStreams opens a connection per budget whose ends both stream: the
// dialer sends up bytes, the acceptor down bytes (unbounded: until
// stopSending), each at most budget bytes per pump call.
func (e *env) openStreams(budgets []int, up, down int64) []*streamPair {
	e.t.Helper()
	pairs := make([]*streamPair, len(budgets))
	next := make(chan int, 1)
	accepted := make(chan struct{}, 1)
	ln := e.listen(func(c transport.Conn) transport.Handler {
		var i int
		select {
		case i = <-next:
		default:
			e.errorf("an unexpected connection was accepted")
			return nil
		}
		pr := pairs[i]
		pr.ac = c
		pr.as = newStreamer(e, fmt.Sprintf("acceptor %d", i), 200+uint64(i), down, expected(up))
		pr.as.budget = budgets[i]
		pr.as.start(c)
		accepted <- struct{}{}
		return pr.as
	})
	for i := range pairs {
		pr := &streamPair{ds: newStreamer(e, fmt.Sprintf("dialer %d", i), 100+uint64(i), up, expected(down))}
		pr.ds.budget = budgets[i]
		pairs[i] = pr
		next <- i
		pr.dc = e.dial(ln.Addr(), e.worker(i), pr.ds)
		pr.ds.start(pr.dc)
		recv(e, accepted, "the listener to accept a connection")
	}
	ln.close(e)
	return pairs
}

// received returns the bytes received by each end.
func received(pairs []*streamPair) []int64 {
	var n []int64
	for _, pr := range pairs {
		n = append(n, pr.ds.got.Load(), pr.as.got.Load())
	}
	return n
}

// progress sums the bytes received on every end.
func progress(pairs []*streamPair) int64 {
	var n int64
	for _, pr := range pairs {
		n += pr.ds.got.Load() + pr.as.got.Load()
	}
	return n
}

// awaitStreams waits until every end has sent and received everything,
// failing if nothing moves for stallTimeout. tick runs every 100ms.
func (e *env) awaitStreams(pairs []*streamPair, tick func()) {
	e.t.Helper()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last, lastMove := int64(-1), time.Now()
	for _, pr := range pairs {
		for _, s := range []*streamer{pr.ds, pr.as} {
			for _, ch := range []chan struct{}{s.sendDone, s.recvDone} {
				for done := false; !done; {
					select {
					case <-ch:
						done = true
					case <-t.C:
						if e.failed() {
							e.fatalf("%s: giving up the transfer after the errors above", s.name)
						}
						if p := progress(pairs); p != last {
							last, lastMove = p, time.Now()
						} else if time.Since(lastMove) > stallTimeout {
							e.fatalf("%s: no progress for %v (%d bytes sent, %d received)",
								s.name, stallTimeout, s.sent.Load(), s.got.Load())
						}
						if tick != nil {
							tick()
						}
					}
				}
			}
		}
	}
}

// checkStreams compares what each end sent with what the other received,
// checks the backpressure bound and that OnWritable came, then closes.
func (e *env) checkStreams(pairs []*streamPair) {
	e.t.Helper()
	for _, pr := range pairs {
		ends := []struct {
			c    transport.Conn
			s    *streamer
			peer *streamer
			pc   transport.Conn
		}{{pr.dc, pr.ds, pr.as, pr.ac}, {pr.ac, pr.as, pr.ds, pr.dc}}
		for _, end := range ends {
			me, them := end.s.result(end.c), end.peer.result(end.pc)
			if me.sent != them.got || !bytes.Equal(me.sendSum, them.recvSum) {
				e.t.Errorf("%s sent %d bytes (sha256 %x), %s received %d (sha256 %x)",
					end.s.name, me.sent, me.sendSum[:8], end.peer.name, them.got, them.recvSum[:8])
			}
			if me.maxBuf > sendBound+chunkSize {
				e.t.Errorf("%s: Buffered() reached %d; the sender stops at %d, so it must stay under %d",
					end.s.name, me.maxBuf, sendBound, sendBound+chunkSize)
			}
			e.awaitWritable(end.c, end.s)
			e.t.Logf("%s sent %d bytes; Buffered() peaked at %d; %d OnWritable calls",
				end.s.name, me.sent, me.maxBuf, me.writable)
		}
	}
	for _, pr := range pairs {
		for _, c := range []transport.Conn{pr.dc, pr.ac} {
			_ = c.Close()
		}
		recv(e, pr.ds.closed, pr.ds.name+": OnClose")
		recv(e, pr.as.closed, pr.as.name+": OnClose")
	}
}

// awaitWritable waits until the last Write that left Buffered() above 0
// has been followed by OnWritable, as WritableHandler promises.
func (e *env) awaitWritable(c transport.Conn, s *streamer) {
	e.t.Helper()
	e.eventually(s.name+": OnWritable after the last Write left data buffered", func() bool {
		return !s.result(c).pending
	})
}

// streamSize is the size of the big transfer: 256 MiB, 16 MiB in -short
// mode or under the race detector.
func streamSize() int64 {
	if testing.Short() || raceEnabled {
		return 16 << 20
	}
	return 256 << 20
}

// testStreamTransfer sends streamSize() bytes from dialer to acceptor and
// an eighth of that back at the same time, with backpressure, and checks
// both by sha256. With the full size it also checks that the heap stays
// well below the size of the transfer.
func testStreamTransfer(e *env) {
	size := streamSize()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	pairs := e.openStreams([]int{pumpBudget}, size, size/8)
	e.awaitStreams(pairs, func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	})
	e.checkStreams(pairs)
	e.t.Logf("transferred %d + %d bytes; heap peak %d MiB above the start", size, size/8, (peak-base)>>20)
	if size >= 128<<20 && peak-base > uint64(size/2) {
		e.t.Errorf("heap grew by %d MiB during a %d MiB transfer: something buffers without bound",
			(peak-base)>>20, size>>20)
	}
}

// testMoveWhileStreaming streams in both directions on three connections
// while the test moves both ends of each to the next worker, round after
// round (one sender floods before each round, so that moves meet a full
// send buffer): every Move succeeds, every byte arrives once and in order
// (length and sha256), and every callback runs on the current owner.
func testMoveWhileStreaming(e *env) {
	rounds, burst := 20, int64(floodBurst)
	if testing.Short() || raceEnabled {
		rounds, burst = 6, floodBurst/4
	}
	pairs := e.openStreams([]int{movingBudget, movingBudget, movingBudget}, unbounded, unbounded)
	// The first dialer floods instead: before each round of moves it
	// writes a burst as fast as backpressure lets it, so that the moves
	// meet a full send buffer; the other ends stream steadily.
	flood := pairs[0]
	e.onWorker(flood.dc, "make a flooding sender", func() {
		flood.ds.quota, flood.ds.budget = 0, sendBound
	})
	var ends []transport.Conn
	for _, pr := range pairs {
		ends = append(ends, pr.dc, pr.ac)
	}
	moves := 0
	for range rounds {
		mark := received(pairs)
		e.onWorker(flood.dc, "flood", func() { flood.ds.burst(flood.dc, burst) })
		for _, c := range ends {
			e.move(c)
			moves++
		}
		// Let every direction move some data before the next round, so
		// that the moves keep meeting traffic.
		e.eventually("every stream to make progress after a round of moves", func() bool {
			for i, n := range received(pairs) {
				if n < mark[i]+movingStep {
					return false
				}
			}
			return true
		})
	}
	// Stop the senders (on their workers) and wait for the rest to arrive.
	for _, pr := range pairs {
		var up, down int64
		e.onWorker(pr.dc, "stop sending", func() { up = pr.ds.stopSending() })
		e.onWorker(pr.ac, "stop sending", func() { down = pr.as.stopSending() })
		e.onWorker(pr.ac, "expect", func() { pr.as.expect(up) })
		e.onWorker(pr.dc, "expect", func() { pr.ds.expect(down) })
	}
	e.awaitStreams(pairs, nil)
	e.checkStreams(pairs)
	e.t.Logf("%d moves; %d bytes arrived", moves, progress(pairs))
}

// move moves c to the next worker and checks it got there.
func (e *env) move(c transport.Conn) {
	e.t.Helper()
	src := c.Owner()
	dst := e.worker(src.ID() + 1)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.d.Move(ctx, c, dst); err != nil {
		e.fatalf("Move of a streaming connection (%s → %s) from worker %d to %d: %v",
			c.LocalAddr(), c.RemoteAddr(), src.ID(), dst.ID(), err)
	}
	if got := c.Owner(); got != dst {
		e.t.Errorf("after Move to worker %d, Owner() is worker %d", dst.ID(), workerID(got))
	}
}

func workerID(w *driver.Worker) int {
	if w == nil {
		return -1
	}
	return w.ID()
}
