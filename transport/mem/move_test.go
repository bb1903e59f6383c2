package mem

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// TestMoveVersusQueuedDrain replays the interleaving where a drain of the
// connection's mailbox is queued on the old worker behind the move's
// Detach, and the new worker thaws the mailbox before that drain runs.
// With a Detach that froze the mailbox and reported done at once, the
// stale drain would run the task on the old worker while the new one owns
// the connection; conn.Detach freezes from inside a mailbox task instead.
func TestMoveVersusQueuedDrain(t *testing.T) {
	d := newDriver(t, 2)
	goids := workerGoids(t, d)
	src, dst := d.Workers()[0], d.Workers()[1]
	n := newNet(t, Config{})
	st := n.Transport(transport.Stream)
	ln, err := st.Listen(any0, d, func(c transport.Conn) transport.Handler { return newRecorder() })
	check.NoError(t, err)
	type where struct{ ranOn, owner *driver.Worker }
	for range 5 {
		c, err := st.Dial(context.Background(), ln.Addr(), src, newRecorder())
		check.NoError(t, err)
		gate := make(chan struct{})
		check.NoError(t, src.Execute(func() { <-gate }))
		moved := make(chan error, 1)
		check.NoError(t, d.MoveAsync(c, dst, func(err error) { moved <- err }))
		// Other work on src, behind the Detach: it lets dst attach first.
		check.NoError(t, src.Execute(func() {
			for end := time.Now().Add(20 * time.Millisecond); c.Owner() != dst && time.Now().Before(end); {
				time.Sleep(100 * time.Microsecond)
			}
		}))
		ran := make(chan where, 1)
		check.NoError(t, c.Post(func() { ran <- where{goids[goid()], c.Owner()} }))
		close(gate)
		check.NoError(t, <-moved)
		w := <-ran
		check.True(t, w.ranOn == w.owner, "task ran on worker %d, owner %d", w.ranOn.ID(), w.owner.ID())
		check.NoError(t, c.Post(func() { ran <- where{goids[goid()], c.Owner()} }))
		w = <-ran
		check.True(t, w.ranOn == dst && w.owner == dst, "after the move: ran on %d, owner %d", w.ranOn.ID(), w.owner.ID())
		check.NoError(t, c.Close())
	}
}

// TestConcurrentMoves starts two moves of one connection at once: one
// wins, the other fails with ErrNotOwner, and the driver's books stay
// right (its Close would otherwise wait for a connection it still thinks
// a worker holds).
func TestConcurrentMoves(t *testing.T) {
	d := newDriver(t, 3)
	n := newNet(t, Config{})
	st := n.Transport(transport.Stream)
	ln, err := st.Listen(any0, d, func(c transport.Conn) transport.Handler { return newRecorder() })
	check.NoError(t, err)
	ws := d.Workers()
	for range 20 {
		c, err := st.Dial(context.Background(), ln.Addr(), ws[0], newRecorder())
		check.NoError(t, err)
		gate := make(chan struct{})
		check.NoError(t, ws[0].Execute(func() { <-gate }))
		errs := make(chan error, 2)
		check.NoError(t, d.MoveAsync(c, ws[1], func(err error) { errs <- err }))
		// The driver refuses a second move of the same connection while
		// the first is in flight.
		second := d.MoveAsync(c, ws[2], func(err error) { errs <- err })
		close(gate)
		check.True(t, errors.Is(second, driver.ErrMoving), "second move: %v, want ErrMoving", second)
		check.NoError(t, <-errs)
		tracked := 0
		for _, s := range d.Stats() {
			tracked += s.Conns
		}
		check.Equal(t, 2, tracked, "connections tracked")
		check.NoError(t, c.Close())
		for tracked > 0 {
			time.Sleep(time.Millisecond)
			tracked = 0
			for _, s := range d.Stats() {
				tracked += s.Conns
			}
		}
	}
}

// TestMoveWhileStreaming moves both ends of a stream between workers
// while data flows, and checks that every callback runs on the worker
// that owns the connection at the time.
func TestMoveWhileStreaming(t *testing.T) {
	for _, link := range []LinkConfig{{}, {Latency: 200 * time.Microsecond, Jitter: 200 * time.Microsecond}} {
		t.Run(link.Latency.String(), func(t *testing.T) { moveWhileStreaming(t, link) })
	}
}

func moveWhileStreaming(t *testing.T, link LinkConfig) {
	size := 64 << 20
	if testing.Short() {
		size = 8 << 20
	}
	d := newDriver(t, 4)
	goids := workerGoids(t, d)
	var wrongWorker atomic.Int32
	onOwner := func(c transport.Conn) {
		if goids[goid()] != c.Owner() {
			wrongWorker.Add(1)
		}
	}
	n := newNet(t, Config{Link: link})
	st := n.Transport(transport.Stream)
	recv := &orderChecker{onOwner: onOwner, done: make(chan struct{}), want: size}
	var server transport.Conn
	accepted := make(chan struct{})
	ln, err := st.Listen(any0, d, func(c transport.Conn) transport.Handler {
		server = c
		close(accepted)
		return recv
	})
	check.NoError(t, err)
	s := &streamer{onOwner: onOwner, size: size, done: make(chan struct{})}
	c, err := st.Dial(context.Background(), ln.Addr(), d.Workers()[0], s)
	check.NoError(t, err)
	s.c = c
	<-accepted
	check.NoError(t, c.Post(s.pump))

	moves, moveTime := 0, time.Duration(0)
	ctx := context.Background()
	for i := 0; ; i++ {
		select {
		case <-recv.done:
		default:
			m := []transport.Conn{c, server}[i%2]
			mt := time.Now()
			if err := d.Move(ctx, m, d.Workers()[(i/2+1)%4]); err != nil {
				t.Fatalf("move %d: %v", i, err)
			}
			moves++
			moveTime += time.Since(mt)
			time.Sleep(200 * time.Microsecond)
			continue
		}
		break
	}
	<-s.done
	check.Equal(t, int32(0), wrongWorker.Load(), "callbacks on a worker that does not own the connection")
	check.Equal(t, int64(size), recv.got.Load())
	check.True(t, recv.bad.Load() == 0, "bytes out of order")
	t.Logf("%d moves during %d MiB, %v per move", moves, size>>20, moveTime/time.Duration(max(moves, 1)))
	check.NoError(t, c.Close())
}

// streamer writes bytes i%251 for i in [0, size), 64 KiB per task, so
// that moves interleave with writes.
type streamer struct {
	c       transport.Conn
	onOwner func(transport.Conn)
	size    int
	off     int
	done    chan struct{}
	buf     [4096]byte
}

func (s *streamer) pump() {
	s.onOwner(s.c)
	for k := 0; k < 64<<10 && s.off < s.size && s.c.Buffered() == 0; k += len(s.buf) {
		m := min(len(s.buf), s.size-s.off)
		for i := range m {
			s.buf[i] = byte((s.off + i) % 251)
		}
		if s.c.Write(s.buf[:m]) != nil {
			return
		}
		s.off += m
	}
	switch {
	case s.off == s.size:
		close(s.done)
	case s.c.Buffered() == 0:
		_ = s.c.Post(s.pump)
	} // else OnWritable resumes
}

func (s *streamer) OnData(c transport.Conn, b []byte)   {}
func (s *streamer) OnClose(c transport.Conn, err error) {}
func (s *streamer) OnWritable(c transport.Conn) {
	s.onOwner(c)
	s.pump()
}

type orderChecker struct {
	onOwner func(transport.Conn)
	want    int
	got     atomic.Int64
	bad     atomic.Int32
	done    chan struct{}
}

func (o *orderChecker) OnData(c transport.Conn, b []byte) {
	o.onOwner(c)
	off := int(o.got.Load())
	for i, x := range b {
		if x != byte((off+i)%251) {
			o.bad.Add(1)
			break
		}
	}
	if o.got.Add(int64(len(b))) == int64(o.want) {
		close(o.done)
	}
}

func (o *orderChecker) OnClose(c transport.Conn, err error) {}

var _ driver.Movable = (*conn)(nil)
