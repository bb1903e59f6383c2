package mem

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport"
)

// echo writes back what it receives.
type echo struct{ closed chan error }

func (e echo) OnData(c transport.Conn, b []byte) { _ = c.Write(b) }
func (e echo) OnClose(c transport.Conn, err error) {
	if e.closed != nil {
		e.closed <- err
	}
}

func TestStreamEcho(t *testing.T) {
	d := newDriver(t, 2)
	n := newNet(t, Config{})
	tr := n.Transport(transport.Stream)
	check.Equal(t, transport.Stream, tr.Kind())
	ln, err := tr.Listen(any0, d, func(c transport.Conn) transport.Handler { return echo{} })
	check.NoError(t, err)
	check.NotEqual(t, "/memory/0", ln.Addr().String())
	check.True(t, tr.Handles(ln.Addr()))
	check.False(t, tr.Handles(ma.StringCast("/ip4/127.0.0.1/tcp/1")))

	r := newRecorder()
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], r)
	check.NoError(t, err)
	check.Equal(t, ln.Addr().String(), c.RemoteAddr().String())
	check.NotEqual(t, c.LocalAddr().String(), c.RemoteAddr().String())
	check.Equal(t, 0, c.MaxDatagram())
	write(t, c, []byte("hello, "))
	check.NoError(t, onWorker(t, c, func() error { return c.Writev([][]byte{[]byte("wor"), []byte("ld")}) }))
	check.Equal(t, "hello, world", string(r.waitBytes(t, 12)))
	check.NoError(t, c.Close())
	check.NoError(t, r.waitClosed(t))
	check.ErrorIs(t, c.Post(func() {}), transport.ErrClosed)
	check.ErrorIs(t, c.Write([]byte("x")), transport.ErrClosed)
}

func TestDatagramEcho(t *testing.T) {
	d := newDriver(t, 2)
	n := newNet(t, Config{Link: LinkConfig{MaxDatagram: 100}})
	tr := n.Transport(transport.Datagram)
	acc := newAcceptor()
	acc.setup = func(r *recorder) { r.onData = func(c transport.Conn, b []byte) { _ = c.Write(b) } }
	ln, err := tr.Listen(any0, d, acc.accept)
	check.NoError(t, err)

	r := newRecorder()
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Pick(), r)
	check.NoError(t, err)
	check.Equal(t, 100, c.MaxDatagram())
	check.ErrorIs(t, onWorker(t, c, func() error { return c.Write(make([]byte, 101)) }), transport.ErrTooLarge)
	for i := range 10 {
		write(t, c, []byte{byte(i), byte(i)})
	}
	check.NoError(t, onWorker(t, c, func() error { return c.Writev([][]byte{{10}, {}, {12}}) }))
	got := r.waitPackets(t, 13)
	for i := range 10 {
		check.Equal(t, []byte{byte(i), byte(i)}, got[i])
	}
	check.Equal(t, [][]byte{{10}, {}, {12}}, got[10:])
	check.NoError(t, onWorker(t, c, func() error {
		if c.Buffered() != 0 {
			return fmt.Errorf("a datagram connection buffers %d bytes", c.Buffered())
		}
		return nil
	}))

	sc, _ := acc.wait(t, 0)
	check.Equal(t, ln.Addr().String(), sc.LocalAddr().String())
	check.Equal(t, c.LocalAddr().String(), sc.RemoteAddr().String())
	check.NoError(t, c.Close())
	check.NoError(t, r.waitClosed(t))
	_, sr := acc.wait(t, 0)
	check.ErrorIs(t, sr.waitClosed(t), io.EOF)
}

// sender streams data on its worker, backing off while Buffered() > 0.
type sender struct {
	recorder
	c       transport.Conn
	data    []byte
	off     int
	chunk   func() int
	drained chan struct{}
	wakeups atomic.Int32
}

func (s *sender) pump() {
	for s.off < len(s.data) && s.c.Buffered() == 0 {
		k := min(s.chunk(), len(s.data)-s.off)
		if err := s.c.Write(s.data[s.off : s.off+k]); err != nil {
			return
		}
		s.off += k
	}
	if s.off == len(s.data) {
		close(s.drained)
	}
}

func (s *sender) OnWritable(c transport.Conn) {
	s.wakeups.Add(1)
	if s.off < len(s.data) {
		s.pump()
	}
}

func TestBigTransfer(t *testing.T) {
	size := 32 << 20
	if testing.Short() {
		size = 4 << 20
	}
	d := newDriver(t, 2)
	n := newNet(t, Config{Link: LinkConfig{SendBuffer: 256 << 10}})
	tr := n.Transport(transport.Stream)
	acc := newAcceptor()
	ln, err := tr.Listen(any0, d, acc.accept)
	check.NoError(t, err)

	rng := rand.New(rand.NewPCG(1, 2))
	s := &sender{recorder: *newRecorder(), data: make([]byte, size), drained: make(chan struct{})}
	for i := range s.data {
		s.data[i] = byte(rng.Uint32())
	}
	s.chunk = func() int { return 1 + rng.IntN(64<<10) }
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Workers()[0], s)
	check.NoError(t, err)
	s.c = c
	check.NoError(t, c.Post(s.pump))
	<-s.drained
	_, r := acc.wait(t, 0)
	got := r.waitBytes(t, size)
	check.Equal(t, sha256.Sum256(s.data), sha256.Sum256(got))
	check.True(t, s.wakeups.Load() > 0, "the sender never had to wait for OnWritable")
}

func TestManyConns(t *testing.T) {
	conns := 500
	d := newDriver(t, 4)
	n := newNet(t, Config{})
	tr := n.Transport(transport.Stream)
	ln, err := tr.Listen(any0, d, func(c transport.Conn) transport.Handler { return echo{} })
	check.NoError(t, err)
	recs := make([]*recorder, conns)
	cs := make([]transport.Conn, conns)
	for i := range conns {
		recs[i] = newRecorder()
		cs[i], err = tr.Dial(context.Background(), ln.Addr(), d.Pick(), recs[i])
		check.NoError(t, err)
		msg := fmt.Appendf(nil, "conn %d", i)
		check.NoError(t, cs[i].Post(func() { _ = cs[i].Write(msg) }))
	}
	for i := range conns {
		want := fmt.Sprintf("conn %d", i)
		check.Equal(t, want, string(recs[i].waitBytes(t, len(want))))
	}
	total := 0
	for _, s := range d.Stats() {
		total += s.Conns
	}
	check.Equal(t, 2*conns, total, "connections tracked by the driver")
}

func TestCloseFlushesAndIsSeenBothSides(t *testing.T) {
	for _, link := range []LinkConfig{{}, {Latency: 2 * time.Millisecond, Jitter: time.Millisecond}} {
		t.Run(fmt.Sprint(link.Latency), func(t *testing.T) {
			d := newDriver(t, 2)
			n := newNet(t, Config{Link: link})
			tr := n.Transport(transport.Stream)
			acc := newAcceptor()
			ln, err := tr.Listen(any0, d, acc.accept)
			check.NoError(t, err)
			r := newRecorder()
			c, err := tr.Dial(context.Background(), ln.Addr(), d.Pick(), r)
			check.NoError(t, err)
			want := make([]byte, 100_000)
			for i := range want {
				want[i] = byte(i % 251)
			}
			check.NoError(t, onWorker(t, c, func() error {
				for off := 0; off < len(want); off += 1000 {
					if err := c.Write(want[off : off+1000]); err != nil {
						return err
					}
				}
				return c.Close() // Close right behind the writes: they are flushed
			}))
			check.NoError(t, r.waitClosed(t))
			_, sr := acc.wait(t, 0)
			err = sr.waitClosed(t)
			check.ErrorIs(t, err, io.EOF)
			check.Equal(t, want, sr.bytes())
			check.NoError(t, c.Close(), "Close is idempotent")
		})
	}
}

func TestDialRefused(t *testing.T) {
	d := newDriver(t, 1)
	n := newNet(t, Config{})
	st, dg := n.Transport(transport.Stream), n.Transport(transport.Datagram)
	ctx := context.Background()
	dialFails := func(err error, target error) {
		t.Helper()
		var de *transport.DialError
		check.ErrorAs(t, err, &de)
		check.ErrorIs(t, err, target)
	}
	_, err := st.Dial(ctx, ma.StringCast("/memory/12345"), d.Pick(), newRecorder())
	dialFails(err, transport.ErrRefused)
	ln, err := dg.Listen(any0, d, newAcceptor().accept)
	check.NoError(t, err)
	_, err = st.Dial(ctx, ln.Addr(), d.Pick(), newRecorder()) // a datagram listener
	dialFails(err, transport.ErrRefused)
	_, err = st.Listen(ln.Addr(), d, newAcceptor().accept)
	check.ErrorContains(t, err, "in use")
	_, err = dg.Dial(ctx, ma.StringCast("/ip4/1.2.3.4/udp/1"), d.Pick(), newRecorder())
	dialFails(err, transport.ErrUnsupportedAddr)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = dg.Dial(cctx, ln.Addr(), d.Pick(), newRecorder())
	dialFails(err, context.Canceled)
}

func TestListenerClose(t *testing.T) {
	d := newDriver(t, 2)
	n := newNet(t, Config{})
	tr := n.Transport(transport.Stream)
	accepted := make(chan struct{}, 2)
	ln, err := tr.Listen(ma.StringCast("/memory/77"), d, func(c transport.Conn) transport.Handler {
		accepted <- struct{}{}
		return echo{}
	})
	check.NoError(t, err)
	check.Equal(t, "/memory/77", ln.Addr().String())
	r := newRecorder()
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Pick(), r)
	check.NoError(t, err)
	<-accepted
	// A connection whose accept has not run when the listener closes is
	// reset, as one in a TCP backlog.
	r2 := newRecorder()
	_, err = tr.Dial(context.Background(), ln.Addr(), d.Pick(), r2)
	check.NoError(t, err)
	check.NoError(t, ln.Close())
	check.NoError(t, ln.Close())
	_, err = tr.Dial(context.Background(), ln.Addr(), d.Pick(), newRecorder())
	check.ErrorIs(t, err, transport.ErrRefused)
	write(t, c, []byte("still here"))
	check.Equal(t, "still here", string(r.waitBytes(t, 10)))
	if len(accepted) == 0 { // the second accept may have won the race
		check.ErrorIs(t, r2.waitClosed(t), transport.ErrReset)
	}
	// The id is free again.
	ln2, err := tr.Listen(ma.StringCast("/memory/77"), d, func(c transport.Conn) transport.Handler { return echo{} })
	check.NoError(t, err)
	check.NoError(t, ln2.Close())
}

func TestAcceptRefuses(t *testing.T) {
	d := newDriver(t, 2)
	n := newNet(t, Config{})
	tr := n.Transport(transport.Stream)
	ln, err := tr.Listen(any0, d, func(c transport.Conn) transport.Handler { return nil })
	check.NoError(t, err)
	r := newRecorder()
	_, err = tr.Dial(context.Background(), ln.Addr(), d.Pick(), r)
	check.NoError(t, err)
	check.ErrorIs(t, r.waitClosed(t), io.EOF)
}

func TestKill(t *testing.T) {
	for _, kind := range []transport.Kind{transport.Stream, transport.Datagram} {
		t.Run(kind.String(), func(t *testing.T) {
			d := newDriver(t, 2)
			n := newNet(t, Config{Link: LinkConfig{Latency: 50 * time.Millisecond}})
			tr := n.Transport(kind)
			acc := newAcceptor()
			ln, err := tr.Listen(any0, d, acc.accept)
			check.NoError(t, err)
			r := newRecorder()
			c, err := tr.Dial(context.Background(), ln.Addr(), d.Pick(), r)
			check.NoError(t, err)
			write(t, c, []byte("first"))
			_, sr := acc.wait(t, 0)
			if kind == transport.Stream {
				sr.waitBytes(t, 5)
			} else {
				sr.waitPackets(t, 1)
			}
			write(t, c, []byte("lost in flight"))
			check.NoError(t, n.Kill(c))
			check.ErrorIs(t, r.waitClosed(t), transport.ErrReset)
			check.ErrorIs(t, sr.waitClosed(t), transport.ErrReset)
			time.Sleep(60 * time.Millisecond) // past the latency: nothing more arrives
			if kind == transport.Stream {
				check.Equal(t, "first", string(sr.bytes()))
			} else {
				check.Equal(t, 1, len(sr.packets()))
			}
			check.Equal(t, uint64(1), n.Stats().Killed)
		})
	}
}

func TestDriverCloseClosesConns(t *testing.T) {
	d := newDriver(t, 2)
	n := newNet(t, Config{})
	tr := n.Transport(transport.Stream)
	acc := newAcceptor()
	ln, err := tr.Listen(any0, d, acc.accept)
	check.NoError(t, err)
	r := newRecorder()
	_, err = tr.Dial(context.Background(), ln.Addr(), d.Pick(), r)
	check.NoError(t, err)
	_, sr := acc.wait(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	check.NoError(t, d.Close(ctx))
	// Both ends are closed locally; whichever closes second may first
	// hear the other's close.
	for _, rec := range []*recorder{r, sr} {
		err := rec.waitClosed(t)
		check.True(t, err == nil || errors.Is(err, io.EOF), "got %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for field, cfg := range map[string]Config{
		"RecvBuffer":           {RecvBuffer: -1},
		"Latency":              {Link: LinkConfig{Latency: -1}},
		"Jitter":               {Link: LinkConfig{Jitter: -1}},
		"Loss":                 {Link: LinkConfig{Loss: 1.5}},
		"Duplicate":            {Link: LinkConfig{Duplicate: -0.1}},
		"BandwidthBytesPerSec": {Link: LinkConfig{BandwidthBytesPerSec: -1}},
		"MaxDatagram":          {Link: LinkConfig{MaxDatagram: -1}},
		"SendBuffer":           {Link: LinkConfig{SendBuffer: -1}},
	} {
		_, err := NewNetwork(cfg)
		check.ErrorContains(t, err, field)
	}
	n := newNet(t, Config{})
	check.ErrorContains(t, n.SetLink(nil, nil, LinkConfig{Reorder: 2}), "Reorder")
}

func TestConcurrentCloseAndKill(t *testing.T) {
	d := newDriver(t, 4)
	n := newNet(t, Config{Link: LinkConfig{Latency: time.Millisecond}})
	tr := n.Transport(transport.Stream)
	acc := newAcceptor()
	ln, err := tr.Listen(any0, d, acc.accept)
	check.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 50 {
		r := newRecorder()
		c, err := tr.Dial(context.Background(), ln.Addr(), d.Pick(), r)
		check.NoError(t, err)
		_, sr := acc.wait(t, i)
		wg.Add(3)
		go func() { defer wg.Done(); _ = c.Close() }()
		go func() { defer wg.Done(); _ = n.Kill(c) }()
		go func() { defer wg.Done(); _ = c.Post(func() { _ = c.Write([]byte("x")) }) }()
		r.waitClosed(t)
		sr.waitClosed(t)
	}
	wg.Wait()
}
