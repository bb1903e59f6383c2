package goconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/gate"
	"github.com/weftnet/weft/transport"
)

// A transport over in-memory pipes, built on Conn the way quic and libp2p
// are: the conformance suite and this package's tests run over it. A pipe
// is two halfPipes; a halfPipe holds at most a few KiB, so a Write blocks
// until the peer's reader takes what came before, as a stream's flow
// control makes it.

var errPipeReset = errors.New("pipe: reset")

// dialDelay is how long a dial takes.
const dialDelay = time.Millisecond

// halfPipe is one direction of an in-memory stream.
type halfPipe struct {
	mu       sync.Mutex
	cond     sync.Cond
	buf      []byte
	limit    int
	fin      bool  // the writing side ended: Read returns io.EOF after buf
	err      error // reset: Read and Write fail with it
	rdl, wdl time.Time
	timers   []*time.Timer
	tries    atomic.Int64 // writes taken by tryWrite
	writes   atomic.Int64 // calls of Write
}

func newHalfPipe(limit int) *halfPipe {
	p := &halfPipe{limit: limit}
	p.cond.L = &p.mu
	return p
}

func (p *halfPipe) passed(t time.Time) bool { return !t.IsZero() && !time.Now().Before(t) }

func (p *halfPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.err == nil && !p.passed(p.rdl) && len(p.buf) == 0 && !p.fin {
		p.cond.Wait()
	}
	switch {
	case p.err != nil:
		return 0, p.err
	case p.passed(p.rdl):
		return 0, os.ErrDeadlineExceeded
	case len(p.buf) == 0:
		return 0, io.EOF
	}
	n := copy(b, p.buf)
	p.buf = p.buf[:copy(p.buf, p.buf[n:])]
	p.cond.Broadcast()
	return n, nil
}

func (p *halfPipe) Write(b []byte) (int, error) {
	p.writes.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(b) {
		for p.err == nil && !p.fin && !p.passed(p.wdl) && len(p.buf) >= p.limit {
			p.cond.Wait()
		}
		switch {
		case p.err != nil:
			return n, p.err
		case p.fin:
			return n, errors.New("pipe: write after close")
		case p.passed(p.wdl):
			return n, os.ErrDeadlineExceeded
		}
		k := min(len(b)-n, p.limit-len(p.buf))
		p.buf = append(p.buf, b[n:n+k]...)
		n += k
		p.cond.Broadcast()
	}
	return n, nil
}

// tryWrite takes b whole if it fits now.
func (p *halfPipe) tryWrite(b []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil || p.fin || len(p.buf)+len(b) > p.limit {
		return false
	}
	p.buf = append(p.buf, b...)
	p.tries.Add(1)
	p.cond.Broadcast()
	return true
}

func (p *halfPipe) update(fn func()) {
	p.mu.Lock()
	fn()
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *halfPipe) closeWrite()     { p.update(func() { p.fin = true }) }
func (p *halfPipe) reset(err error) { p.update(func() { p.err = cmpOr(p.err, err) }) }

// deadline sets a read (or write) deadline, with a timer that wakes the
// waiters when it passes.
func (p *halfPipe) deadline(read bool, d time.Duration) {
	t := time.Now().Add(d)
	p.update(func() {
		if read {
			p.rdl = t
		} else {
			p.wdl = t
		}
		p.timers = append(p.timers, time.AfterFunc(d, func() { p.update(func() {}) }))
	})
}

func (p *halfPipe) stopTimers() {
	p.update(func() {
		for _, t := range p.timers {
			t.Stop()
		}
	})
}

func (p *halfPipe) buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf)
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// pipeStream is one end's Stream: the libp2p transport's close protocol.
type pipeStream struct {
	in, out *halfPipe
	c       *pipeConn
}

func (s pipeStream) Read(b []byte) (int, error)  { return s.in.Read(b) }
func (s pipeStream) Write(b []byte) (int, error) { return s.out.Write(b) }
func (s pipeStream) Closing()                    { s.out.deadline(false, s.c.n.closeTimeout) }
func (s pipeStream) Abort(string)                { s.in.reset(errPipeReset); s.out.reset(errPipeReset) }

func (s pipeStream) Fin() error {
	s.out.closeWrite()
	s.in.deadline(true, s.c.n.closeTimeout)
	return nil
}

func (s pipeStream) CloseError(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("pipe: closed by peer: %w", io.EOF)
	}
	return fmt.Errorf("%w: %w", transport.ErrReset, err)
}

func (s pipeStream) ReadEnded(err error) {
	c := s.c
	c.EndInput(s.CloseError(err))
	c.StopOutput()
	if errors.Is(err, io.EOF) {
		s.out.closeWrite()
	} else {
		s.Abort("")
	}
	c.WaitWriter()
	s.in.stopTimers()
	s.out.stopTimers()
}

// tryStream is a pipeStream that takes small writes inline.
type tryStream struct{ pipeStream }

func (s tryStream) TryWrite(b []byte) bool { return s.out.tryWrite(b) }

// pipeConn is one end of a pipe.
type pipeConn struct {
	Conn
	n             *pipeNet
	st            pipeStream
	local, remote ma.Multiaddr
}

func (c *pipeConn) LocalAddr() ma.Multiaddr  { return c.local }
func (c *pipeConn) RemoteAddr() ma.Multiaddr { return c.remote }
func (c *pipeConn) String() string           { return fmt.Sprintf("pipe %s->%s", c.local, c.remote) }

// pipeNet is the transport: listeners at /memory/<id>.
type pipeNet struct {
	try          bool // streams are TryWriters
	pipeBytes    int  // what each direction holds
	bufBytes     int  // SendBufferBytes and RecvBufferBytes
	closeTimeout time.Duration

	mu   sync.Mutex
	next uint64
	lns  map[uint64]*pipeListener
}

func newPipeNet(try bool) *pipeNet {
	return &pipeNet{try: try, pipeBytes: 16 << 10, bufBytes: 256 << 10, closeTimeout: 5 * time.Second,
		lns: map[uint64]*pipeListener{}}
}

func (n *pipeNet) Kind() transport.Kind { return transport.Stream }

func (n *pipeNet) Handles(addr ma.Multiaddr) bool {
	_, err := pipeID(addr)
	return err == nil
}

func pipeID(addr ma.Multiaddr) (uint64, error) {
	if len(addr) != 1 || addr[0].Code() != ma.P_MEMORY {
		return 0, fmt.Errorf("pipe: %s: %w", addr, transport.ErrUnsupportedAddr)
	}
	id, err := strconv.ParseUint(addr[0].Value(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("pipe: %s: %w", addr, transport.ErrUnsupportedAddr)
	}
	return id, nil
}

func memAddr(id uint64) ma.Multiaddr { return ma.StringCast("/memory/" + strconv.FormatUint(id, 10)) }

// newConn makes one end; the pipes are seen from its side.
func (n *pipeNet) newConn(in, out *halfPipe, w *driver.Worker, local, remote ma.Multiaddr) (*pipeConn, error) {
	c := &pipeConn{n: n, local: local, remote: remote}
	c.st = pipeStream{in: in, out: out, c: c}
	var st Stream = c.st
	if n.try {
		st = tryStream{c.st}
	}
	err := c.Init(Config{Name: "pipe", Self: c, Stream: st, Worker: w,
		SendBufferBytes: n.bufBytes, RecvBufferBytes: n.bufBytes, ChunkBytes: 8 << 10})
	return c, err
}

func (n *pipeNet) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	fail := func(err error) (transport.Conn, error) { return nil, &transport.DialError{Addr: addr, Err: err} }
	id, err := pipeID(addr)
	if err != nil {
		return fail(err)
	}
	// A handshake's round trip: dials cannot outrun the listener's workers.
	select {
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-time.After(dialDelay):
	}
	n.mu.Lock()
	l := n.lns[id]
	n.next++
	local := memAddr(1<<32 + n.next)
	n.mu.Unlock()
	if l == nil || !l.accepts.Enter() {
		return fail(fmt.Errorf("pipe: nobody at %s: %w", addr, transport.ErrRefused))
	}
	ab, ba := newHalfPipe(n.pipeBytes), newHalfPipe(n.pipeBytes)
	c, err := n.newConn(ba, ab, w, local, addr)
	if err != nil {
		l.accepts.Exit()
		return fail(err)
	}
	sw := l.d.Pick()
	s, err := n.newConn(ab, ba, sw, addr, local)
	if err != nil {
		l.accepts.Exit()
		return fail(err)
	}
	c.SetHandler(h)
	w.Track(c)
	sw.Track(s)
	if err := s.Post(func() { l.runAccept(s) }); err != nil {
		l.accepts.Exit()
		sw.Untrack(s)
		w.Untrack(c)
		return fail(fmt.Errorf("pipe: %w: %w", transport.ErrRefused, err))
	}
	go s.ReadLoop()
	go c.ReadLoop()
	return c, nil
}

func (n *pipeNet) Listen(addr ma.Multiaddr, d *driver.Driver, accept transport.AcceptFunc) (transport.Listener, error) {
	id, err := pipeID(addr)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if id == 0 {
		n.next++
		id = n.next
	}
	if n.lns[id] != nil {
		return nil, fmt.Errorf("pipe: /memory/%d is taken", id)
	}
	l := &pipeListener{n: n, id: id, d: d, accept: accept}
	n.lns[id] = l
	return l, nil
}

// pipeListener is a Listener of pipeNet.
type pipeListener struct {
	n       *pipeNet
	id      uint64
	d       *driver.Driver
	accept  transport.AcceptFunc
	accepts gate.Gate // accept callbacks posted or running
}

func (l *pipeListener) Addr() ma.Multiaddr { return memAddr(l.id) }

func (l *pipeListener) runAccept(c *pipeConn) {
	defer l.accepts.Exit()
	if c.Accept(l.accept) {
		_ = c.Close()
	}
}

func (l *pipeListener) Close() error {
	l.n.mu.Lock()
	if l.n.lns[l.id] == l {
		delete(l.n.lns, l.id)
	}
	l.n.mu.Unlock()
	l.accepts.Close()
	return nil
}
