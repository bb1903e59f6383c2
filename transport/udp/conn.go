package udp

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/udpwire"
	"github.com/weftnet/weft/transport"
)

// role says which end of an association a connection is.
type role uint8

const (
	roleDialer   role = iota // sends INITIALs until it hears back; echoes tokens
	roleAccepted             // made by a listener; validates the dialer's address
)

type state uint8

const (
	stateOpening  state = iota // enrolled, OnOpen not yet run
	stateOpen                  // on a loop
	stateDetached              // between two loops during a move
	stateClosed
)

// rechallengeEvery bounds how often an accepted connection repeats its
// CHALLENGE to a dialer that sends DATA without having answered it.
const rechallengeEvery = 20 * time.Millisecond

// conn is a connected UDP socket on a gnet loop. It keeps its own
// descriptor of the socket (fd) for sending and for moves; the loop holds
// another. Fields below the line are touched only on the owner.
type conn struct {
	t             *Transport
	mb            *driver.Mailbox
	owner         atomic.Pointer[driver.Worker]
	local, remote ma.Multiaddr
	remoteAP      netip.AddrPort
	role          role
	ln            *listener      // accepted connections
	port          netip.AddrPort // accepted: the listening address its socket is bound to, until closeFD (port.go)
	load          atomic.Uint64
	closeReq      atomic.Bool  // Close was called: writes fail from now on
	queued        atomic.Int32 // datagrams handed over by the listener, not yet taken

	fd          int // -1 once closed
	h           transport.Handler
	accept      transport.AcceptFunc
	first       [][]byte // accepted: read by the listener before OnOpen
	gc          gnet.Conn
	state       state
	closeWanted bool  // Close arrived while not on a loop
	report      error // for OnClose after a local close: nil, or why
	scratch     []byte
	tx          txBatch // datagrams for flushTx (tx.go)
	gso         bool    // the kernel segments runs of datagrams (tx.go)
	deferTx     bool    // in OnTraffic: writes wait in tx for the batch's end

	// Address validation (see doc.go).
	heard         bool // dialer: a valid datagram came back; no more INITIALs
	token         [udpwire.TokenLen]byte
	haveToken     bool // dialer: a CHALLENGE taught it the token
	validated     bool // accepted: the dialer echoed the token
	recvBytes     int  // accepted, until validated
	sentBytes     int
	lastChallenge time.Time

	rng  *rand.Rand // Faults only
	held []byte     // Faults: a datagram held back to be reordered
}

var _ transport.Conn = (*conn)(nil)
var _ driver.GnetHandler = (*conn)(nil)

// newConn makes the connection of socket uc, keeping a duplicate of its
// descriptor; uc itself goes to a loop with Enroll.
func newConn(t *Transport, w *driver.Worker, uc *net.UDPConn, r role) (*conn, error) {
	fd, err := dupFD(uc)
	if err != nil {
		return nil, err
	}
	lap := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	rap := uc.RemoteAddr().(*net.UDPAddr).AddrPort()
	rap = netip.AddrPortFrom(rap.Addr().Unmap(), rap.Port())
	c := &conn{t: t, mb: driver.NewMailbox(w), role: r, fd: fd, remoteAP: rap, gso: gsoSupported(fd),
		local: fromAddrPort(netip.AddrPortFrom(lap.Addr().Unmap(), lap.Port())), remote: fromAddrPort(rap)}
	c.owner.Store(w)
	if t.cfg.Faults.any() {
		c.rng = rand.New(rand.NewPCG(t.cfg.Faults.Seed, t.seq.Add(1)))
	}
	return c, nil
}

func dupFD(uc *net.UDPConn) (int, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("udp: %w", err)
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, fmt.Errorf("udp: %w", err)
	}
	if derr != nil {
		return -1, fmt.Errorf("udp: dup: %w", derr)
	}
	return fd, nil
}

func (c *conn) Kind() transport.Kind     { return transport.Datagram }
func (c *conn) MaxDatagram() int         { return c.t.cfg.MaxDatagramBytes }
func (c *conn) Buffered() int            { return 0 }
func (c *conn) LocalAddr() ma.Multiaddr  { return c.local }
func (c *conn) RemoteAddr() ma.Multiaddr { return c.remote }
func (c *conn) Owner() *driver.Worker    { return c.owner.Load() }
func (c *conn) Load() uint64             { return c.load.Load() }

func (c *conn) Post(fn func()) error {
	if err := c.mb.Post(fn); err != nil {
		return fmt.Errorf("udp: %w", transport.ErrClosed)
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
				c.closeNow(nil)
				return
			}
		}
		pending := c.first
		c.first = nil
		for _, b := range pending {
			c.onDatagram(b)
		}
	}
	if c.closeWanted && c.state == stateOpen {
		c.closeNow(nil)
	}
}

// OnTraffic delivers the datagram gnet read, then those waiting behind
// it (drain, recv.go); what the handler writes meanwhile goes out after
// each batch (deferTx).
func (c *conn) OnTraffic(gc gnet.Conn) gnet.Action {
	b, _ := gc.Next(-1)
	if c.gc == gc {
		raceAcquireIO()
		c.deferTx = true
		c.onDatagram(b)
		c.drain()
		c.deferTx = false
		c.flushTx()
	}
	return gnet.None
}

// handOver runs on the owner: a datagram the listener read for c.
func (c *conn) handOver(b []byte) {
	c.queued.Add(-1)
	c.onDatagram(b)
}

// onDatagram handles one datagram from the remote (on the owner).
func (c *conn) onDatagram(b []byte) {
	if c.state == stateClosed || c.h == nil {
		return
	}
	p, err := udpwire.Parse(b)
	if err != nil || !c.fromRightSide(p.Type) {
		c.t.stats.malformed.Add(1)
		return
	}
	if c.role == roleAccepted && !c.validated {
		c.recvBytes += len(b)
	}
	switch p.Type {
	case udpwire.Data, udpwire.Initial:
		c.onPayload(p)
	case udpwire.Challenge:
		c.heard = true
		c.token, c.haveToken = p.Token, true
		c.emit(udpwire.Append(c.scratch[:0], udpwire.Packet{Type: udpwire.Response, Token: p.Token}))
	case udpwire.Response:
		if p.Token != c.token {
			c.t.stats.malformed.Add(1)
			return
		}
		c.validated = true
	case udpwire.Reset:
		if !c.haveToken || p.Token != c.token {
			c.t.stats.malformed.Add(1)
			return
		}
		c.t.stats.resetsR.Add(1)
		c.closeNow(fmt.Errorf("%w: udp: the peer has no association for this address (RESET)", transport.ErrReset))
	}
}

// fromRightSide reports whether a datagram of type typ may come from the
// remote end of c.
func (c *conn) fromRightSide(typ udpwire.Type) bool {
	switch typ {
	case udpwire.Initial, udpwire.Response:
		return c.role == roleAccepted
	case udpwire.Challenge, udpwire.Reset:
		return c.role == roleDialer
	}
	return true
}

func (c *conn) onPayload(p udpwire.Packet) {
	if c.role == roleDialer {
		c.heard = true
	} else if !c.validated && (p.Type == udpwire.Initial || time.Since(c.lastChallenge) > rechallengeEvery) {
		c.challenge()
	}
	if len(p.Payload) > c.t.cfg.MaxDatagramBytes {
		c.t.stats.tooLarge.Add(1)
		return
	}
	n := len(p.Payload)
	c.load.Add(uint64(n))
	c.Owner().CountIO(n, 0)
	c.t.stats.received.Add(1)
	c.h.OnData(c, p.Payload)
}

// challenge asks the dialer to echo the listener's token for its address.
func (c *conn) challenge() {
	c.lastChallenge = time.Now()
	c.emit(udpwire.Append(c.scratch[:0], udpwire.Packet{Type: udpwire.Challenge, Token: c.token}))
}

// OnClose runs when gnet closes the socket: for a move (ignored), a local
// close, the driver shutting down (err nil), or a read error: an ICMP
// port-unreachable reported on the socket (ECONNREFUSED: nothing listens
// at the remote address any more), or an empty datagram, which gnet takes
// for the end of the connection and this transport never sends.
func (c *conn) OnClose(gc gnet.Conn, err error) {
	if c.gc != gc {
		return
	}
	c.gc = nil
	report := c.report
	switch {
	case c.state == stateClosed:
	case err == nil:
		report = fmt.Errorf("udp: closed by the driver: %w", transport.ErrClosed)
	default:
		report = readError(err)
	}
	c.finish(report)
}

// readError is what OnClose reports for an error that a read of the
// socket got: ErrReset, and also io.EOF if it means that the peer closed
// its socket (an ICMP port-unreachable: ECONNREFUSED, which gnet reports
// as io.EOF when it comes without data).
func readError(err error) error {
	if errors.Is(err, unix.ECONNREFUSED) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: udp: nothing listens at the remote address any more (%w): %w", transport.ErrReset, io.EOF, err)
	}
	return fmt.Errorf("%w: udp: %w", transport.ErrReset, err)
}

// finish releases everything and reports the close (on the owner).
func (c *conn) finish(report error) {
	c.state = stateClosed
	c.mb.Close()
	c.Owner().Untrack(c)
	if c.ln != nil {
		c.ln.remove(c)
	}
	c.closeFD()
	c.held = nil
	if c.h != nil {
		c.h.OnClose(c, report)
	}
}

func (c *conn) closeFD() {
	if c.fd >= 0 {
		_ = unix.Close(c.fd)
		c.fd = -1
		if c.port.IsValid() {
			releasePort(c.port)
		}
	}
}

// Close implements transport.Conn. Nothing goes on the wire: the peer
// learns of it only if it sends again (a listener answers with a RESET).
func (c *conn) Close() error {
	if c.closeReq.Swap(true) {
		return nil
	}
	_ = c.mb.Post(c.startClose) // fails only if already closed
	return nil
}

func (c *conn) startClose() {
	switch c.state {
	case stateOpen:
		c.closeNow(nil)
	case stateOpening, stateDetached:
		c.closeWanted = true
	}
}

// closeNow takes the socket off its loop; OnClose then reports report.
func (c *conn) closeNow(report error) {
	if c.state == stateClosed || c.gc == nil {
		return
	}
	c.state = stateClosed
	c.report = report
	_ = c.gc.EventLoop().Close(c.gc)
}

// Detach implements driver.Movable: the socket leaves this loop (the
// connection's own descriptor keeps it open); datagrams wait in the kernel
// until Attach puts it on the next loop. Nothing is buffered in user
// space, so there is nothing to drain.
func (c *conn) Detach(done func(error)) {
	if c.state != stateOpen {
		done(fmt.Errorf("udp: move: connection not open: %w", driver.ErrNotOwner))
		return
	}
	c.mb.Freeze()
	c.state = stateDetached
	gc := c.gc
	c.gc = nil
	_ = gc.EventLoop().Close(gc) // OnClose ignores it: gc is no longer c's
	done(nil)
}

// Attach implements driver.Movable: a duplicate of the socket joins w's
// loop; OnOpen then resumes reading.
func (c *conn) Attach(w *driver.Worker) {
	c.owner.Store(w)
	c.mb.Thaw(w)
	nc, err := c.fileConn()
	if err != nil {
		c.failAttach(err)
		return
	}
	w.EnrollAsync(nc, c, func(err error) {
		_ = w.Execute(func() { c.failAttach(err) })
	})
}

// fileConn duplicates c's descriptor into a net.Conn that Enroll takes.
func (c *conn) fileConn() (net.Conn, error) {
	fd, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("udp: move: dup: %w", err)
	}
	f := os.NewFile(uintptr(fd), "udp")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("udp: move: %w", err)
	}
	return nc, nil
}

// failAttach reports a socket lost between two loops.
func (c *conn) failAttach(err error) {
	if c.state != stateDetached {
		return
	}
	c.finish(fmt.Errorf("%w: move failed: %w", transport.ErrReset, err))
}
