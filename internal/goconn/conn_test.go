package goconn

import (
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/transporttest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreCurrent(), // gnet's ants pool starts goroutines at init
		// and keeps idle workers for 10 s (see transporttest).
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"))
}

// TestConformance runs the transport suite over pipes, with every Write
// through the writer goroutine and with small ones inline.
func TestConformance(t *testing.T) {
	for _, try := range []bool{false, true} {
		name := "writer"
		if try {
			name = "inline"
		}
		t.Run(name, func(t *testing.T) {
			transporttest.Run(t, func(t *testing.T) transporttest.Case {
				return transporttest.Case{
					Name:       "pipe/" + name,
					Transport:  newPipeNet(try),
					ListenAddr: func() ma.Multiaddr { return ma.StringCast("/memory/0") },
					ClosedAddr: func() ma.Multiaddr { return ma.StringCast("/memory/999999") },
				}
			})
		})
	}
}

// message returns n bytes that tell where they are in the stream.
func message(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*131 + i*7)
	}
	return b
}

// TestInlineBudget: small writes go to a TryWriter inline until their
// budget is spent; the next one goes through the writer, which renews the
// budget once the stream took it.
func TestInlineBudget(t *testing.T) {
	n := newPipeNet(true)
	n.pipeBytes = 64 << 10
	p := newPair(t, n)
	const size, count = 100, 200
	var want []byte
	firstQueued := -1
	on(t, p.c, func() {
		for i := range count {
			msg := message(i, size)
			want = append(want, msg...)
			before := p.c.st.out.tries.Load()
			if err := p.c.Write(msg); err != nil {
				t.Errorf("Write %d: %v", i, err)
				return
			}
			if p.c.st.out.tries.Load() == before && firstQueued < 0 {
				firstQueued = i
			}
		}
	})
	if wantFirst := DefaultInlineBudget / size; firstQueued != wantFirst {
		t.Errorf("the first write through the writer was write %d; want %d (budget %d, writes of %d bytes)",
			firstQueued, wantFirst, DefaultInlineBudget, size)
	}
	p.sh.waitBytes(t, want)
	on(t, p.c, func() {
		before := p.c.st.out.tries.Load()
		if err := p.c.Write([]byte("again")); err != nil {
			t.Errorf("Write: %v", err)
		}
		if p.c.st.out.tries.Load() == before {
			t.Errorf("a small write after the writer ran did not go inline: the budget was not renewed")
		}
	})
	p.sh.waitBytes(t, append(want, "again"...))
}

// TestInlineKeepsOrder mixes small writes (inline when the outbox is
// idle) with large ones (through the writer), in tasks with pauses
// between them so that the writer sometimes idles: the bytes arrive in
// order, and both paths were taken.
func TestInlineKeepsOrder(t *testing.T) {
	n := newPipeNet(true)
	p := newPair(t, n)
	rng := rand.New(rand.NewPCG(1, 2))
	var want []byte
	for task := range 300 {
		bufs := make([][]byte, 1+rng.IntN(3))
		for i := range bufs {
			size := 1 + rng.IntN(400)
			if rng.IntN(8) == 0 {
				size = 1 + rng.IntN(40<<10)
			}
			bufs[i] = message(task*4+i, size)
			want = append(want, bufs[i]...)
		}
		on(t, p.c, func() {
			if err := p.c.Writev(bufs); err != nil {
				t.Errorf("Writev: %v", err)
			}
		})
		if rng.IntN(4) == 0 {
			time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
		}
	}
	p.sh.waitBytes(t, want)
	if n := p.c.st.out.tries.Load(); n == 0 {
		t.Errorf("no write went inline")
	}
	if n := p.c.st.out.writes.Load(); n == 0 {
		t.Errorf("no write went through the writer")
	}
}

// TestReceiverStallBounded: while the receiving worker is stuck, its
// reader stops at RecvBufferBytes (and the stream's own buffer fills),
// the sender's Buffered grows, and nothing is lost when the worker comes
// back; OnWritable follows once the sender drained.
func TestReceiverStallBounded(t *testing.T) {
	n := newPipeNet(false)
	p := newPair(t, n)
	release := make(chan struct{})
	stuck := make(chan struct{})
	if err := p.s.Post(func() { close(stuck); <-release }); err != nil {
		t.Fatal(err)
	}
	<-stuck
	const total = 2 << 20
	want := message(7, total)
	var buffered int
	on(t, p.c, func() {
		for off := 0; off < total; off += 64 << 10 {
			if err := p.c.Write(want[off : off+64<<10]); err != nil {
				t.Errorf("Write: %v", err)
			}
		}
		buffered = p.c.Buffered()
	})
	if buffered <= 0 {
		t.Errorf("Buffered() = %d after writing %d bytes to a stalled peer with a %d-byte send buffer", buffered, total, n.bufBytes)
	}
	deadline := time.Now().Add(waitLimit)
	for p.c.st.out.buffered() < n.pipeBytes || p.s.queued() < n.bufBytes {
		if time.Now().After(deadline) {
			t.Fatalf("the stream (%d bytes) and the inbox (%d bytes) never filled", p.c.st.out.buffered(), p.s.queued())
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // a reader that ignored the bound would read on
	q, capacity := p.s.queued(), p.s.inboxCap()
	if q > n.bufBytes+maxReadBuf {
		t.Errorf("the inbox holds %d bytes; its bound is %d plus one read", q, n.bufBytes)
	}
	if capacity > n.bufBytes+maxReadBuf {
		t.Errorf("the inbox pins %d bytes for %d queued; its bound is %d plus one read", capacity, q, n.bufBytes)
	}
	close(release)
	p.sh.waitBytes(t, want)
	p.ch.wait(t, "OnWritable", func(r *recorder) bool { return r.writable > 0 })
	on(t, p.c, func() {
		if b := p.c.Buffered(); b != 0 {
			t.Errorf("Buffered() = %d after everything arrived", b)
		}
	})
}

// queued and inboxCap report the inbox's bytes and the capacity of its
// buffer.
func (c *Conn) queued() int {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	return len(c.in.buf)
}

func (c *Conn) inboxCap() int {
	c.in.mu.Lock()
	defer c.in.mu.Unlock()
	return cap(c.in.buf)
}

// TestCloseFlushes: what was written before Close arrives, then the peer
// sees io.EOF and this side nil; Writes fail after Close, and Post after
// OnClose.
func TestCloseFlushes(t *testing.T) {
	for _, try := range []bool{false, true} {
		p := newPair(t, newPipeNet(try))
		want := message(3, 1<<20)
		on(t, p.c, func() {
			if err := p.c.Write(want[:10]); err != nil {
				t.Errorf("Write: %v", err)
			}
			if err := p.c.Write(want[10:]); err != nil {
				t.Errorf("Write: %v", err)
			}
			_ = p.c.Close()
			if err := p.c.Write([]byte("late")); !errors.Is(err, transport.ErrClosed) {
				t.Errorf("Write after Close: %v; want ErrClosed", err)
			}
		})
		p.sh.waitBytes(t, want)
		if err := p.sh.waitClosed(t); !errors.Is(err, io.EOF) {
			t.Errorf("peer's OnClose: %v; want io.EOF", err)
		}
		if err := p.ch.waitClosed(t); err != nil {
			t.Errorf("OnClose after Close: %v; want nil", err)
		}
		if err := p.c.Post(func() {}); !errors.Is(err, transport.ErrClosed) {
			t.Errorf("Post after OnClose: %v; want ErrClosed", err)
		}
	}
}

// TestKill: a kill with data in flight resets both sides; after a Close,
// the killing side's OnClose still gets nil.
func TestKill(t *testing.T) {
	p := newPair(t, newPipeNet(true))
	on(t, p.c, func() { _ = p.c.Write(message(1, 1<<20)) })
	p.c.Kill("test")
	for name, r := range map[string]*recorder{"killing side": p.ch, "peer": p.sh} {
		if err := r.waitClosed(t); !errors.Is(err, transport.ErrReset) {
			t.Errorf("%s's OnClose: %v; want ErrReset", name, err)
		}
	}
	q := newPair(t, newPipeNet(false))
	_ = q.c.Close()
	q.c.Kill("test")
	if err := q.ch.waitClosed(t); err != nil {
		t.Errorf("OnClose of a closed, then killed, connection: %v; want nil", err)
	}
	if err := q.sh.waitClosed(t); err == nil {
		t.Errorf("peer's OnClose: nil; want io.EOF or ErrReset")
	}
}
