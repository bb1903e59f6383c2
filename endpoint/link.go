package endpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/internal/record"
	"github.com/weftnet/weft/transport"
)

var (
	errIdle             = errors.New("endpoint: connection idle past IdleTimeout")
	errCloseUnacked     = fmt.Errorf("endpoint: close: peer did not acknowledge everything within ResumeTimeout: %w", ErrClosed)
	errHandshakeTimeout = errors.New("endpoint: handshake timed out")
)

type phase uint8

const (
	phaseHandshake phase = iota // Noise XX in progress
	phaseWaitHello              // responder: handshake done, waiting for the dialer's HELLO
	phaseParked                 // handshake done, waiting for the endpoint to adopt the link
	phaseAttached               // carrying the session's records
	phaseClosed
)

// maxParked bounds what a link keeps between its handshake and its
// adoption by an endpoint; a well-behaved peer sends only its HELLO then.
const maxParked = 256 << 10

// link is one transport connection of an endpoint: the handshake, then
// records. It is the connection's transport.Handler, so its methods run on
// the connection's worker; it touches the session only once attached, when
// the connection and the endpoint share a worker.
type link struct {
	cfg       *Config
	conn      transport.Conn
	datagram  bool
	initiator bool
	ep        *Endpoint // dialer: from the start; responder: at adoption
	ln        *Listener // responder
	sess      *session  // once attached
	phase     phase
	onUp      func(*link) // called (on the conn's worker) when parked

	hs       handshaker
	res      *handshake.Result
	hsBuf    []byte // stream: partial handshake frame
	lastHS   []byte // datagram: last handshake packet, for resends
	compress bool
	// detach: this side sends large DATA chunks detached (record's
	// FlagDetached), sealed straight from the send log: on encrypting,
	// uncompressed stream links, where it saves copying each chunk into a
	// frame before encrypting it.
	detach bool
	// detN > 0: the next record is the detached DATA the last frame
	// announced, detN bytes at log offset detOff.
	detOff uint64
	detN   int

	sSeal *record.StreamSealer
	sOpen *record.StreamOpener
	dSeal *record.DatagramSealer
	dOpen *record.DatagramOpener

	pn      uint64   // datagram: packet number of the record being handled
	parked  [][]byte // plaintexts received before attachment
	parkedN int
	zbuf    []byte
	body    []byte
	frame   record.Frame
	err     error
}

func newLink(cfg *Config, c transport.Conn, initiator bool) *link {
	return &link{cfg: cfg, conn: c, datagram: c != nil && c.Kind() == transport.Datagram, initiator: initiator}
}

// start begins the handshake hs (on the conn's worker): Noise, or the
// authenticated exchange if the conn is transport.Authenticated; err is
// handshakeFor's error, which fails the link. The initiator sends the
// first message.
func (l *link) start(hs handshaker, err error) {
	// Worker timers run on the worker that armed them, which the conn may
	// have left: the callbacks only Post to the conn, captured here.
	c := l.conn
	c.Owner().AfterFunc(l.cfg.HandshakeTimeout, func() {
		_ = c.Post(func() {
			if l.phase == phaseHandshake || l.phase == phaseWaitHello {
				l.fail(errHandshakeTimeout)
			}
		})
	})
	if err != nil {
		l.fail(err)
		return
	}
	l.hs = hs
	if !l.initiator {
		return
	}
	msg, err := l.hs.Start()
	if err != nil {
		l.fail(err)
		return
	}
	l.sendHS(msg)
}

// sendHS frames a handshake message: a 2-byte length on streams, a type
// byte on datagrams.
func (l *link) sendHS(msg []byte) {
	var pkt []byte
	if l.datagram {
		pkt = append([]byte{record.TypeHandshake}, msg...)
		l.lastHS = pkt
		l.armHSResend(200 * time.Millisecond)
	} else {
		pkt = binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(msg)), uint16(len(msg)))
		pkt = append(pkt, msg...)
	}
	if err := l.conn.Write(pkt); err != nil {
		l.fail(err)
	}
}

// armHSResend resends the last handshake packet until the handshake moves
// on: datagrams get lost.
func (l *link) armHSResend(d time.Duration) {
	sent := l.lastHS
	c := l.conn // see start
	c.Owner().AfterFunc(d, func() {
		_ = c.Post(func() {
			if l.phase >= phaseAttached || &l.lastHS[0] != &sent[0] {
				return
			}
			if l.phase == phaseHandshake || (l.phase == phaseWaitHello && !l.initiator) || (l.phase == phaseParked && l.initiator) {
				_ = l.conn.Write(sent)
				l.armHSResend(min(2*d, 2*time.Second))
			}
		})
	})
}

// OnData implements transport.Handler.
func (l *link) OnData(c transport.Conn, b []byte) {
	if l.conn == nil { // a dialed link learns its conn with its first event
		l.conn = c
	}
	if l.phase == phaseClosed {
		return
	}
	sess := l.sess
	if sess != nil {
		sess.ep.stats.bytesRecv.Add(uint64(len(b)))
		sess.ep.inRecv.Store(true)
	}
	if l.datagram {
		l.onPacket(b)
	} else {
		l.onStream(b)
	}
	if sess != nil {
		sess.ep.inRecv.Store(false)
		if l.phase == phaseAttached {
			sess.afterRecv()
		} else {
			sess.flush() // appends made during the callback
		}
	}
}

func (l *link) onStream(b []byte) {
	if l.phase == phaseHandshake {
		b = l.streamHandshake(b)
		if l.phase == phaseHandshake || l.phase == phaseClosed || len(b) == 0 {
			return
		}
	}
	if err := l.sOpen.Feed(b, l.onPlaintext); err != nil {
		l.failBad(err)
	}
}

// streamHandshake consumes length-prefixed handshake messages and returns
// the bytes after the handshake's end.
func (l *link) streamHandshake(b []byte) []byte {
	l.hsBuf = append(l.hsBuf, b...)
	for l.phase == phaseHandshake && len(l.hsBuf) >= 2 {
		n := int(binary.BigEndian.Uint16(l.hsBuf))
		if len(l.hsBuf) < 2+n {
			return nil
		}
		msg := l.hsBuf[2 : 2+n]
		rest := l.hsBuf[2+n:]
		l.step(msg)
		l.hsBuf = rest
	}
	if l.phase == phaseHandshake {
		return nil
	}
	rest := l.hsBuf
	l.hsBuf = nil
	return rest
}

func (l *link) onPacket(b []byte) {
	if len(b) == 0 {
		return
	}
	switch b[0] {
	case record.TypeHandshake:
		if l.phase == phaseHandshake {
			l.step(b[1:])
		} else if l.lastHS != nil && l.phase < phaseClosed {
			// The peer missed our last handshake message.
			_ = l.conn.Write(l.lastHS)
		}
	case record.TypeData:
		if l.dOpen == nil {
			return // before our handshake finished: it will be resent
		}
		pn, pt, err := l.dOpen.Open(l.body[:0], b)
		if err != nil {
			l.countBad()
			return // datagram links drop bad and replayed packets; not fatal
		}
		l.body = pt
		l.pn = pn
		if err := l.onPlaintext(pt); err != nil {
			l.failBad(err)
		}
	default:
		l.countBad()
	}
}

// step feeds one handshake message.
func (l *link) step(msg []byte) {
	out, res, err := l.hs.Step(msg)
	if err != nil {
		l.failBad(err)
		return
	}
	if out != nil {
		l.sendHS(out)
	}
	if res != nil {
		l.established(res)
	}
}

// established sets up the record layer after the handshake.
func (l *link) established(res *handshake.Result) {
	l.res = res
	l.compress = res.Compression
	if l.datagram {
		l.dSeal = record.NewDatagramSealer(res.Send)
		l.dOpen = record.NewDatagramOpener(res.Recv)
	} else {
		l.sSeal = record.NewStreamSealer(res.Send)
		l.sOpen = record.NewStreamOpener(res.Recv)
		l.sOpen.Into = l.detachedRoom
		l.detach = res.Send != nil && !res.Compression
	}
	if l.initiator {
		l.phase = phaseParked
		l.onUp(l)
	} else {
		l.phase = phaseWaitHello
	}
}

// onPlaintext handles one record's plaintext.
func (l *link) onPlaintext(pt []byte) error {
	switch l.phase {
	case phaseAttached:
		return l.deliver(pt)
	case phaseWaitHello:
		body, err := record.OpenPlaintext(pt, record.MaxPlaintext, &l.zbuf)
		if err != nil {
			return err
		}
		f := &l.frame
		if err := record.ParseFrame(body, f); err != nil {
			return err
		}
		if !f.HasHello {
			return fmt.Errorf("%w: first record has no HELLO", ErrProtocol)
		}
		l.park(pt)
		l.phase = phaseParked
		l.ln.adopt(l, f.Hello)
		return nil
	case phaseParked:
		l.park(pt)
		if l.parkedN > maxParked {
			return fmt.Errorf("%w: peer sent %d bytes before the session resumed", ErrProtocol, l.parkedN)
		}
	}
	return nil
}

func (l *link) park(pt []byte) {
	l.parked = append(l.parked, append([]byte(nil), pt...))
	l.parkedN += len(pt)
}

// deliver parses a record and hands it to the session.
func (l *link) deliver(pt []byte) error {
	if l.detN > 0 {
		return l.deliverDetached(pt)
	}
	body, err := record.OpenPlaintext(pt, record.MaxPlaintext, &l.zbuf)
	if err != nil {
		return err
	}
	f := &l.frame
	if err := record.ParseFrame(body, f); err != nil {
		return err
	}
	if f.Detached > 0 {
		if l.datagram {
			return fmt.Errorf("%w: detached DATA in a datagram", ErrProtocol)
		}
		l.detOff, l.detN = f.DataOffset, f.Detached
	}
	eliciting := len(f.Data) > 0 || f.HasPing || f.HasHello || f.HasClose
	if err := l.sess.onRecord(f); err != nil {
		if err == errDropped {
			return nil // not acknowledged: the peer resends it
		}
		return err
	}
	if l.datagram {
		l.sess.dg.onPacketReceived(l.pn, eliciting)
	}
	return nil
}

// detachedRoom lets the opener decrypt detached DATA straight into the
// message the reassembler is assembling, when the bytes are the next ones
// it expects and all belong to that message's body (record.Reassembler.Room).
func (l *link) detachedRoom(n int) []byte {
	if l.detN != n || l.phase != phaseAttached {
		return nil
	}
	s := l.sess
	if s == nil || s.link != l || l.detOff != s.recvd || s.recvd+uint64(n) > s.windowSent {
		return nil // a resumed prefix or an overrun: the usual path decides
	}
	return s.reasm.Room(n)
}

// deliverDetached hands the session the DATA bytes the previous record
// announced: pt is all of them.
func (l *link) deliverDetached(pt []byte) error {
	off, n := l.detOff, l.detN
	l.detOff, l.detN = 0, 0
	if len(pt) != n {
		return fmt.Errorf("%w: detached DATA record of %d bytes, announced %d", ErrProtocol, len(pt), n)
	}
	return l.sess.onDetached(off, pt)
}

// attach runs on the endpoint's worker once the connection is there too:
// the session takes the link over and replays what was parked.
func (l *link) attach(s *session) {
	if l.phase == phaseClosed {
		s.linkDown(l, l.err)
		return
	}
	l.conn.Owner().Untrack(l.conn) // the endpoint is tracked instead
	l.phase = phaseAttached
	s.attach(l)
	parked := l.parked
	l.parked, l.parkedN = nil, 0
	for _, pt := range parked {
		if l.phase != phaseAttached {
			return
		}
		if err := l.deliver(pt); err != nil {
			l.failBad(err)
			return
		}
	}
	if l.phase == phaseAttached {
		s.afterRecv()
	}
}

// seal appends pt as one record to dst; on a datagram link it also
// returns the packet number.
func (l *link) seal(dst, pt []byte) ([]byte, uint64, error) {
	if l.datagram {
		return l.dSeal.Seal(dst, pt)
	}
	out, err := l.sSeal.Seal(dst, pt)
	return out, 0, err
}

// write sends sealed records.
func (l *link) write(b []byte) error {
	if l.phase == phaseClosed {
		return fmt.Errorf("endpoint: link closed: %w", transport.ErrClosed)
	}
	return l.conn.Write(b)
}

// writev writes datagrams, one per buffer.
func (l *link) writev(bufs [][]byte) error {
	if l.phase == phaseClosed {
		return fmt.Errorf("endpoint: link closed: %w", transport.ErrClosed)
	}
	return l.conn.Writev(bufs)
}

// OnWritable implements transport.WritableHandler: the transport's buffer
// drained, so DATA held back in the send log (session.holdData) goes out.
func (l *link) OnWritable(transport.Conn) {
	if l.phase == phaseAttached && l.sess != nil && l.sess.link == l {
		l.sess.flush()
	}
}

// OnClose implements transport.Handler.
func (l *link) OnClose(c transport.Conn, err error) {
	if l.conn == nil { // a dialed link learns its conn with its first event
		l.conn = c
	}
	if l.phase == phaseClosed {
		return
	}
	if err == nil {
		err = fmt.Errorf("endpoint: link closed: %w", transport.ErrClosed)
	}
	if l.phase < phaseParked && l.ln != nil {
		l.ln.badLinks.Add(1) // the peer left before finishing its handshake
	}
	l.down(err)
}

// fail closes the link because of err (on the conn's worker).
func (l *link) fail(err error) {
	if l.phase == phaseClosed {
		return
	}
	l.down(err)
	_ = l.conn.Close()
}

// failBad is fail for bad input from the peer: it also counts it.
func (l *link) failBad(err error) {
	l.countBad()
	l.fail(err)
}

func (l *link) countBad() {
	switch {
	case l.sess != nil:
		l.sess.ep.stats.badRecords.Add(1)
	case l.ep != nil:
		l.ep.stats.badRecords.Add(1)
	case l.ln != nil:
		l.ln.badLinks.Add(1)
	}
}

func (l *link) down(err error) {
	prev := l.phase
	l.phase = phaseClosed
	l.err = err
	if prev == phaseAttached && l.sess != nil {
		l.sess.linkDown(l, err)
	} else if l.initiator && l.onUp != nil {
		l.onUp(l) // the dialer learns of the failure
	}
}

// close closes the link without reporting to the session (which asked).
func (l *link) close() {
	if l.phase == phaseClosed {
		return
	}
	l.phase = phaseClosed
	_ = l.conn.Close()
}
