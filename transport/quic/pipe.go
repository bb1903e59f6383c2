package quic

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	quicgo "github.com/quic-go/quic-go"
)

// stream is what goconn.Conn sees of a connection: its QUIC stream, and
// the close protocol around it (doc.go, Closing).
type stream struct {
	*quicgo.Stream
	c *conn
}

// TryWrite implements goconn.TryWriter: quic-go queues b without
// blocking, or takes none of it.
func (s stream) TryWrite(b []byte) bool { return s.TryWriteAll(b) == nil }

// Closing bounds the flush of a Close and starts the nudges.
func (s stream) Closing() {
	c := s.c
	_ = s.SetWriteDeadline(time.Now().Add(c.t.cfg.CloseTimeout))
	c.nudge.start(c.qc, func() { _ = c.qc.CloseWithError(codeClosed, "peer gone") })
}

// Fin runs on the writer once everything written before Close was handed
// to quic-go: send FIN, and bound the wait for the peer's answer.
func (s stream) Fin() error {
	_ = s.Close()
	_ = s.SetReadDeadline(time.Now().Add(s.c.t.cfg.IdleTimeout))
	return nil
}

// Abort closes the QUIC connection at once with codeReset.
func (s stream) Abort(why string) { _ = s.c.qc.CloseWithError(codeReset, why) }

// CloseError implements goconn.Stream.
func (s stream) CloseError(err error) error { return closeError(err) }

// ReadEnded closes the QUIC connection as the close protocol says, waits
// for the writer and releases the sockets. The stream's read side is the
// last to learn that the connection ended, so the reader tears it down.
func (s stream) ReadEnded(err error) {
	c := s.c
	switch {
	case isDeadline(err):
		// Our FIN went out IdleTimeout ago and the peer, still acknowledging
		// packets, never answered.
		_ = c.qc.CloseWithError(codeReset, "close: no answer from the peer")
	case errors.Is(err, io.EOF):
		// The peer sent FIN: it closed, and everything it sent is here.
		c.EndInput(closeError(err))
		_ = c.qc.CloseWithError(codeClosed, "")
	default:
		c.EndInput(closeError(err))
		_ = c.qc.CloseWithError(codeReset, "")
	}
	c.nudge.stop()
	c.StopOutput()
	c.WaitWriter()
	c.release()
}

// Nudging. A closing side flushes, sends FIN and waits for the peer to
// answer (its CONNECTION_CLOSE, or its FIN): until then quic-go must keep
// the connection to retransmit what the peer may lack. If the peer's
// CONNECTION_CLOSE is lost, and everything this side sent was already
// acknowledged, nothing more would ever be sent either way and the wait
// would last IdleTimeout; if the peer vanished (killed, its
// CONNECTION_CLOSE lost), the flush itself waits for credit that never
// comes. So from Close on, the closing side sends an empty DATAGRAM
// frame now and then (nudgeFirst, doubling): a peer that is still open
// acknowledges and ignores it; a peer that closed answers with its
// CONNECTION_CLOSE again (quic-go does so for 3 PTOs after closing), and
// after that its transport answers with a stateless reset (the reset key
// is derived from the identity key: see resetKey). If the peer's socket is
// gone too, a refusal probe (sockets.go) hears the ICMP port unreachable
// and ends the wait.
const nudgeFirst = 20 * time.Millisecond

// nudger sends the nudges of one connection.
type nudger struct {
	mu        sync.Mutex
	timer     *time.Timer
	next      time.Duration
	stopped   bool
	stopProbe func()
}

// start begins nudging qc; gone is called if the peer's socket is gone.
func (n *nudger) start(qc *quicgo.Conn, gone func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped || n.timer != nil {
		return
	}
	n.next = nudgeFirst
	n.timer = time.AfterFunc(n.next, func() { n.fire(qc) })
	if ua, ok := qc.RemoteAddr().(*net.UDPAddr); ok {
		n.stopProbe = probeRefusal(ua, nudgeFirst, gone)
	}
}

func (n *nudger) fire(qc *quicgo.Conn) {
	_ = qc.SendDatagram(nil)
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.stopped {
		n.next *= 2
		n.timer.Reset(n.next)
	}
}

// stop ends the nudges and the probe, and waits for the probe.
func (n *nudger) stop() {
	n.mu.Lock()
	n.stopped = true
	if n.timer != nil {
		n.timer.Stop()
	}
	stopProbe := n.stopProbe
	n.mu.Unlock()
	if stopProbe != nil {
		stopProbe()
	}
}
