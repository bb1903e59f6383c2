package tcp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/panjf2000/gnet/v2"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

type state uint8

const (
	stateOpening  state = iota // enrolled, OnOpen not yet run
	stateOpen                  // attached to a loop
	stateDraining              // a move waits for the send buffer to empty
	stateDetached              // between two loops during a move
	stateClosing               // Close waits for the send buffer to empty
	stateClosed
)

// conn is a TCP connection on a gnet loop. Fields below the line are
// touched only on the owner.
type conn struct {
	t             *Transport
	mb            *driver.Mailbox
	owner         atomic.Pointer[driver.Worker]
	local, remote ma.Multiaddr
	load          atomic.Uint64
	closeReq      atomic.Bool // Close was called: writes fail from now on

	h       transport.Handler
	accept  transport.AcceptFunc
	gc      gnet.Conn
	nc      net.Conn // the socket while detached
	state   state
	pending [][]byte // written while detached
	pendLen int

	inWrite       bool // OnClose must not re-enter the handler
	closeWanted   bool // Close arrived during a move
	detachDone    func(error)
	deadline      time.Time     // of the current drain (move or close)
	drainTimer    *driver.Timer // on the owner: the conn cannot move while draining
	writableTimer *driver.MailboxTimer
	wantWritable  bool
}

var _ transport.Conn = (*conn)(nil)
var _ driver.GnetHandler = (*conn)(nil)

func newConn(t *Transport, w *driver.Worker, h transport.Handler, accept transport.AcceptFunc, nc net.Conn) *conn {
	c := &conn{t: t, h: h, accept: accept, mb: driver.NewMailbox(w),
		local: fromNetAddr(nc.LocalAddr()), remote: fromNetAddr(nc.RemoteAddr())}
	c.owner.Store(w)
	return c
}

func (c *conn) Kind() transport.Kind     { return transport.Stream }
func (c *conn) MaxDatagram() int         { return 0 }
func (c *conn) LocalAddr() ma.Multiaddr  { return c.local }
func (c *conn) RemoteAddr() ma.Multiaddr { return c.remote }
func (c *conn) Owner() *driver.Worker    { return c.owner.Load() }
func (c *conn) Load() uint64             { return c.load.Load() }
func (c *conn) Post(fn func()) error {
	if err := c.mb.Post(fn); err != nil {
		return fmt.Errorf("tcp: %w", transport.ErrClosed)
	}
	return nil
}

// OnOpen runs on w when the socket joins w's loop: first after Dial or
// accept, again after each move.
func (c *conn) OnOpen(w *driver.Worker, gc gnet.Conn) {
	c.gc = gc
	first := c.state == stateOpening
	c.state = stateOpen
	if first {
		w.Track(c)
		if c.accept != nil {
			c.h = c.accept(c)
			c.accept = nil
			if c.h == nil { // refused: close without callbacks
				c.closeNow()
				return
			}
		}
	}
	if len(c.pending) > 0 {
		bufs := c.pending
		c.pending, c.pendLen = nil, 0
		_ = c.writev(bufs)
	}
	if c.closeWanted {
		c.startClose()
	} else if c.wantWritable {
		c.armWritable()
	}
}

// OnTraffic hands everything read to the handler: nothing stays in gnet's
// buffers, which is what lets the socket move to another loop.
func (c *conn) OnTraffic(gc gnet.Conn) gnet.Action {
	if c.gc != gc || c.h == nil {
		_, _ = gc.Discard(-1)
		return gnet.None
	}
	b, _ := gc.Next(-1)
	if len(b) > 0 {
		c.load.Add(uint64(len(b)))
		c.Owner().CountIO(len(b), 0)
		c.h.OnData(c, b)
	}
	return gnet.None
}

// OnClose runs when gnet closes the socket: for a move (ignored), a local
// Close, or the peer or an error.
func (c *conn) OnClose(gc gnet.Conn, err error) {
	if c.gc != gc || c.state == stateDetached {
		return
	}
	c.gc = nil
	local := c.state == stateClosed
	if c.state == stateDraining {
		c.finishDetach(fmt.Errorf("tcp: connection closed during move: %w", transport.ErrClosed))
	}
	c.state = stateClosed
	c.stopTimers()
	c.mb.Close()
	c.Owner().Untrack(c)
	if c.h == nil {
		return
	}
	var report error
	if !local {
		report = closeErr(err)
	}
	h := c.h
	if c.inWrite {
		// gnet closes inside Write when the socket broke; let the
		// handler's current call finish first.
		_ = c.Owner().Execute(func() { h.OnClose(c, report) })
		return
	}
	h.OnClose(c, report)
}

func closeErr(err error) error {
	switch {
	case err == nil:
		return fmt.Errorf("tcp: closed by the driver: %w", transport.ErrClosed)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("tcp: closed by peer: %w", io.EOF)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ETIMEDOUT):
		return fmt.Errorf("%w: %w", transport.ErrReset, err)
	}
	return fmt.Errorf("tcp: %w", err)
}

// Write implements transport.Conn.
func (c *conn) Write(b []byte) error {
	if c.closeReq.Load() {
		return fmt.Errorf("tcp: write: %w", transport.ErrClosed)
	}
	switch c.state {
	case stateOpen:
	case stateDraining, stateDetached:
		c.hold(b)
		return nil
	default:
		return fmt.Errorf("tcp: write: %w", transport.ErrClosed)
	}
	c.inWrite = true
	_, err := c.gc.Write(b)
	c.inWrite = false
	return c.wrote(len(b), err)
}

// Writev implements transport.Conn.
func (c *conn) Writev(bufs [][]byte) error {
	if c.closeReq.Load() {
		return fmt.Errorf("tcp: write: %w", transport.ErrClosed)
	}
	return c.writev(bufs)
}

// writev writes bufs, or holds them while the socket is between loops. It
// also flushes what was held, even after Close was called.
func (c *conn) writev(bufs [][]byte) error {
	switch c.state {
	case stateOpen:
	case stateDraining, stateDetached:
		for _, b := range bufs {
			c.hold(b)
		}
		return nil
	default:
		return fmt.Errorf("tcp: write: %w", transport.ErrClosed)
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	c.inWrite = true
	_, err := c.gc.Writev(bufs)
	c.inWrite = false
	return c.wrote(n, err)
}

func (c *conn) wrote(n int, err error) error {
	if err != nil {
		return fmt.Errorf("tcp: write: %w", closeErr(err))
	}
	c.load.Add(uint64(n))
	c.Owner().CountIO(0, n)
	if c.gc.OutboundBuffered() > 0 {
		c.armWritable()
	}
	return nil
}

// hold keeps a copy of b until the socket is attached again.
func (c *conn) hold(b []byte) {
	c.pending = append(c.pending, append([]byte(nil), b...))
	c.pendLen += len(b)
	if _, ok := c.h.(transport.WritableHandler); ok {
		c.wantWritable = true // Buffered grew: OnWritable is owed
	}
}

// Buffered implements transport.Conn.
func (c *conn) Buffered() int {
	n := c.pendLen
	if c.gc != nil {
		n += c.gc.OutboundBuffered()
	}
	return n
}

// armWritable makes sure a writable-interested handler hears when the
// send buffer drains. gnet has no writable callback, so a timer checks
// every tick while bytes wait.
func (c *conn) armWritable() {
	if _, ok := c.h.(transport.WritableHandler); !ok {
		return
	}
	c.wantWritable = true
	if c.writableTimer == nil {
		c.writableTimer = c.mb.AfterFunc(0, c.checkWritable)
		return
	}
	c.writableTimer.Reset(0)
}

func (c *conn) checkWritable() {
	if !c.wantWritable || c.state != stateOpen {
		return
	}
	if c.Buffered() > 0 {
		c.writableTimer.Reset(0)
		return
	}
	c.wantWritable = false
	c.h.(transport.WritableHandler).OnWritable(c)
}

func (c *conn) stopTimers() {
	if c.drainTimer != nil {
		c.drainTimer.Stop()
		c.drainTimer = nil
	}
	if c.writableTimer != nil {
		c.writableTimer.Stop()
	}
}

// Close implements transport.Conn. Writes fail from the moment it is
// called; what was written before is flushed.
func (c *conn) Close() error {
	if c.closeReq.Swap(true) {
		return nil
	}
	_ = c.mb.Post(c.startClose) // fails only if already closed
	return nil
}

// startClose runs on the owner: it waits (bounded) for the send buffer to
// drain, then closes the socket.
func (c *conn) startClose() {
	switch c.state {
	case stateOpen:
	case stateDraining, stateDetached, stateOpening:
		c.closeWanted = true
		return
	default:
		return
	}
	c.state = stateClosing
	c.deadline = time.Now().Add(c.t.cfg.CloseTimeout)
	c.drain(c.closeNow)
}

// drain calls then once the send buffer is empty or the deadline passed.
func (c *conn) drain(then func()) {
	if c.gc == nil || c.gc.OutboundBuffered() == 0 || time.Now().After(c.deadline) {
		then()
		return
	}
	// A worker timer, not a mailbox one: a move freezes the mailbox while
	// it drains, and the socket stays on this worker until drained.
	if c.drainTimer == nil {
		c.drainTimer = c.Owner().AfterFunc(0, func() { c.drain(then) })
		return
	}
	c.drainTimer.Reset(0)
}

func (c *conn) closeNow() {
	if c.gc == nil {
		return
	}
	c.state = stateClosed
	_ = c.gc.EventLoop().Close(c.gc)
}

// Detach implements driver.Movable: wait for gnet's send buffer to drain
// (new writes are held meanwhile), duplicate the socket's descriptor, and
// take the original off this loop.
func (c *conn) Detach(done func(error)) {
	if c.state != stateOpen {
		done(fmt.Errorf("tcp: move: connection not open: %w", driver.ErrNotOwner))
		return
	}
	c.mb.Freeze()
	c.state = stateDraining
	c.detachDone = done
	c.deadline = time.Now().Add(c.t.cfg.MoveTimeout)
	c.drain(c.detach)
}

func (c *conn) detach() {
	if c.state != stateDraining {
		return
	}
	if c.gc.OutboundBuffered() > 0 {
		c.state = stateOpen
		c.mb.Thaw(c.Owner())
		c.stopTimers()
		c.finishDetach(errors.New("tcp: move: send buffer did not drain in time"))
		c.flushHeld()
		return
	}
	nc, err := dupConn(c.gc)
	if err != nil {
		c.state = stateOpen
		c.mb.Thaw(c.Owner())
		c.finishDetach(err)
		c.flushHeld()
		return
	}
	c.stopTimers()
	c.state = stateDetached
	gc := c.gc
	_ = gc.EventLoop().Close(gc) // OnClose ignores it: stateDetached
	c.gc, c.nc = nil, nc
	c.finishDetach(nil)
}

func (c *conn) flushHeld() {
	if len(c.pending) > 0 {
		bufs := c.pending
		c.pending, c.pendLen = nil, 0
		_ = c.writev(bufs)
	}
}

func (c *conn) finishDetach(err error) {
	if done := c.detachDone; done != nil {
		c.detachDone = nil
		done(err)
	}
}

// Attach implements driver.Movable: the duplicated socket joins w's loop;
// OnOpen then flushes what was written meanwhile.
func (c *conn) Attach(w *driver.Worker) {
	c.owner.Store(w)
	c.mb.Thaw(w)
	nc := c.nc
	c.nc = nil
	w.EnrollAsync(nc, c, func(err error) {
		_ = w.Execute(func() { c.failAttach(err) })
	})
}

// failAttach reports a socket lost between two loops.
func (c *conn) failAttach(err error) {
	if c.state != stateDetached {
		return
	}
	c.state = stateClosed
	c.mb.Close()
	c.Owner().Untrack(c)
	c.h.OnClose(c, fmt.Errorf("%w: move failed: %w", transport.ErrReset, err))
}

// dupConn duplicates gc's descriptor into a net.Conn that gnet's Enroll
// accepts.
func dupConn(gc gnet.Conn) (net.Conn, error) {
	fd, err := gc.Dup()
	if err != nil {
		return nil, fmt.Errorf("tcp: move: dup: %w", err)
	}
	f := os.NewFile(uintptr(fd), "tcp")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("tcp: move: %w", err)
	}
	return nc, nil
}
