package endpoint

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/record"
	"github.com/weftnet/weft/transport"
)

// session is the part of an Endpoint that runs on its worker: the
// reliability protocol over whichever link is current. Every method runs on
// the owner.
//
// Send side: the log holds [base, end); the peer acknowledged everything
// below acked; the current link has sent everything below sent; the peer
// accepts bytes below peerWindow.
//
// Receive side: recvd bytes of the peer's log arrived in order; the
// reassembler turned them into messages; the application consumed
// (Handler, or Recv) everything below consumed, so the peer may send below
// consumed + RecvWindowBytes.
type session struct {
	ep   *Endpoint
	link *link

	acked, sent, peerWindow uint64
	helloDone               bool // the peer's HELLO arrived on this link
	everUp                  bool // a link has been up before: later ones are resumes

	reasm      *record.Reassembler
	recvd      uint64
	consumed   uint64        // on the worker: delivered to Handler or Recv queue, credited
	recvCredit atomic.Uint64 // bytes Recv consumed, not yet added to consumed (foldCredit)
	ackSent    uint64        // Ack.Offset last sent
	windowSent uint64        // Ack.Offset+Window last sent
	ackDue     bool

	pingID   uint64
	pingSent time.Time
	pongDue  bool
	pongID   uint64
	lastRecv time.Time
	lastSend time.Time
	srtt     time.Duration

	closing    bool // Close called: finish once everything is acknowledged
	closeSent  bool
	closeAcked bool   // datagram: the peer acknowledged our CLOSE
	closePN    uint64 // datagram: packet number of the last CLOSE sent

	dg dgram // datagram links only

	ackTimer, aliveTimer, resumeTimer, redialTimer *driver.MailboxTimer
	ptoTimer, helloTimer, lingerTimer              *driver.MailboxTimer
	ackArmed, resumeArmed                          bool
	redialDelay                                    time.Duration

	frame record.Frame // scratch, reused per record
	// detached: the log bytes of the frame being emitted, sealed as their
	// own record after it (link.detach).
	detached []byte
	pt       []byte // scratch plaintext
	out      []byte // records batched for one Write
	// Datagram links: where each datagram in out ends, and the views of
	// out handed to Writev.
	pktEnds []int
	pkts    [][]byte
	zbuf    []byte // compression scratch
}

func (s *session) init(ep *Endpoint) {
	s.ep = ep
	s.reasm, _ = record.NewReassembler(ep.cfg.MaxMessageBytes) // validated by Config
	s.windowSent = uint64(ep.cfg.RecvWindowBytes)
}

func (s *session) conn() transport.Conn {
	if s.link == nil {
		return nil
	}
	return s.link.conn
}

// maxPlain is the largest record plaintext on the current link.
func (s *session) maxPlain() int {
	if s.link != nil && s.link.datagram {
		return s.mss() - record.DatagramHeaderLen - record.TagLen
	}
	return record.MaxPlaintext
}

// attach makes l the session's link: it has completed its handshake on
// this worker. The dialer speaks first with HELLO.
func (s *session) attach(l *link) {
	if s.ep.isClosed() {
		l.close()
		return
	}
	if s.link != nil {
		s.link.close()
	}
	s.link = l
	l.sess = s
	s.helloDone = false
	s.lastRecv = time.Now()
	s.stopTimer(&s.resumeTimer)
	s.stopTimer(&s.redialTimer)
	s.redialDelay = 0
	if l.datagram {
		s.dg.reset(s.mss())
	}
	s.armAlive()
	if s.ep.dialer {
		s.sendHello()
	}
}

func (s *session) sendHello() {
	f := &s.frame
	*f = record.Frame{HasHello: true}
	f.Hello = record.Hello{SessionID: s.ep.session, RecvOffset: s.recvd, MaxMessageBytes: uint64(s.ep.cfg.MaxMessageBytes)}
	s.ackDue = true // the HELLO carries the window this side grants
	s.addControl(f)
	s.emit(f)
	s.writeOut()
	if s.link != nil && s.link.datagram && s.ep.dialer {
		s.armHelloResend(200 * time.Millisecond)
	}
}

// armHelloResend repeats the dialer's HELLO on a datagram link until the
// peer's arrives.
func (s *session) armHelloResend(d time.Duration) {
	l := s.link
	s.arm(&s.helloTimer, d, func() {
		if s.link == l && !s.helloDone {
			s.sendHello()
			s.armHelloResend(min(2*d, 2*time.Second))
		}
	})
}

// onHello handles the peer's HELLO: it says how much of our log it has, so
// we resume sending from there.
func (s *session) onHello(h *record.Hello) error {
	if h.SessionID != s.ep.session {
		return fmt.Errorf("%w: HELLO for another session", ErrProtocol)
	}
	if s.helloDone {
		// A repeated HELLO (datagram links resend it): the dialer missed
		// our answer.
		if !s.ep.dialer {
			s.sendHello()
		}
		return nil
	}
	l := &s.ep.log
	l.mu.Lock()
	end := l.end
	l.mu.Unlock()
	if h.RecvOffset < s.acked || h.RecvOffset > end {
		if h.RecvOffset < s.acked {
			return fmt.Errorf("%w: peer has %d bytes, had acknowledged %d", ErrSessionLost, h.RecvOffset, s.acked)
		}
		return fmt.Errorf("%w: peer claims %d bytes of a %d-byte log", ErrProtocol, h.RecvOffset, end)
	}
	if lim := int64(h.MaxMessageBytes); lim < s.ep.maxSend.Load() && lim > 0 {
		s.ep.maxSend.Store(lim)
	}
	s.release(h.RecvOffset)
	if s.sent > h.RecvOffset {
		s.ep.stats.retransmits.Add(1)
	}
	s.sent = h.RecvOffset
	// The window comes with the ACK that travels with every HELLO; a grant
	// from an earlier link stays valid (it never shrinks).
	s.helloDone = true
	if !s.ep.dialer {
		s.sendHello()
	}
	s.ep.connected(nil)
	s.flush()
	return nil
}

// release drops what the peer has acknowledged and wakes blocked senders.
func (s *session) release(acked uint64) {
	if acked <= s.acked {
		return
	}
	s.acked = acked
	l := &s.ep.log
	l.mu.Lock()
	l.release(acked)
	var wake chan struct{}
	if s.ep.waiters != nil { // used() went down
		wake, s.ep.waiters = s.ep.waiters, nil
	}
	l.mu.Unlock()
	if wake != nil {
		close(wake)
	}
	if s.closing {
		s.maybeFinishClose()
	}
}

// flush sends what the window allows, plus any due ACK or PONG, in records
// batched into one transport write. It runs whenever the worker has
// drained the endpoint's queue: no timer delays a lone message.
func (s *session) flush() {
	if s.link == nil || s.link.phase != phaseAttached {
		return
	}
	if !s.helloDone {
		return
	}
	l := &s.ep.log
	for {
		l.mu.Lock()
		end := l.end
		l.mu.Unlock()
		limit := min(end, s.peerWindow)
		if s.holdData() {
			limit = min(limit, s.sent)
		}
		if s.sent >= limit && !s.ackDue && !s.pongDue && len(s.dg.retx) == 0 {
			break
		}
		f := &s.frame
		*f = record.Frame{}
		s.addControl(f)
		if !s.fillData(f, limit) && !f.HasAck && !f.HasPong && !f.HasPNAck {
			break // the congestion window is full
		}
		s.emit(f)
		if s.link == nil {
			return // the write failed and the link is gone
		}
		if len(s.out) >= 256<<10 {
			if !s.writeOut() {
				return
			}
		}
	}
	s.writeOut()
	if s.closing {
		s.maybeFinishClose()
	}
}

// holdData reports whether new DATA waits in the send log for now: while
// a stream transport still buffers bytes of earlier writes (the socket is
// full), more records would only be copied into its buffer, and the log
// keeps them anyway. The link's OnWritable flushes again.
func (s *session) holdData() bool {
	return !s.link.datagram && s.link.conn.Buffered() > 0
}

// fillData puts the next chunk of log bytes into f; it reports whether it
// did. On a datagram link lost bytes go first, within the congestion
// window.
func (s *session) fillData(f *record.Frame, limit uint64) bool {
	f.DataOffset = max(s.sent, s.acked)
	room := s.maxPlain() - f.Overhead() - 2 // the offset may grow a byte or two
	if s.link.detach {
		room = s.maxPlain() // a detached chunk fills its own record
	}
	if room <= 0 {
		return false
	}
	var off, n uint64
	if s.link.datagram {
		off, n = s.nextDatagramData(room, limit)
	} else if s.sent < limit {
		off, n = s.sent, min(uint64(room), limit-s.sent)
		s.sent += n
	}
	if n == 0 {
		return false
	}
	l := &s.ep.log
	l.mu.Lock()
	chunk := l.slice(off, off+n)
	l.mu.Unlock()
	if uint64(len(chunk)) < n { // the range crosses a log block: send the rest next
		if s.link.datagram {
			s.dg.retx = append([]span{{off + uint64(len(chunk)), n - uint64(len(chunk))}}, s.dg.retx...)
		} else {
			s.sent -= n - uint64(len(chunk))
		}
	}
	f.DataOffset, f.Data = off, chunk
	if s.link.detach && len(chunk) >= minDetached {
		f.Data, f.Detached, s.detached = nil, len(chunk), chunk
	}
	return true
}

// minDetached is the smallest DATA chunk sent detached: below it, the
// copy saved is worth less than a second record. A smaller chunk always
// fits a record beside its frame (MaxPlaintext - MaxOverhead is far above
// it), so fillData's room for detached links never overfills one.
const minDetached = 4 << 10

// addControl puts the due ACK, PNACK and PONG sections into f.
func (s *session) addControl(f *record.Frame) {
	if s.link != nil && s.link.datagram {
		s.addPNAck(f)
		if f.HasPNAck {
			s.ackDue = true // ACKs get lost too: every PNACK repeats it
		}
	}
	if s.ackDue || s.recvd != s.ackSent {
		s.foldCredit()
		f.HasAck = true
		f.Ack = record.Ack{Offset: s.recvd, Window: s.consumed + uint64(s.ep.cfg.RecvWindowBytes) - s.recvd}
		s.ackSent, s.windowSent = s.recvd, s.consumed+uint64(s.ep.cfg.RecvWindowBytes)
		s.ackDue = false
		// The delayed-ACK timer stays armed: when it fires it finds
		// nothing owed, or acknowledges what came since. Stopping and
		// re-arming it on every message a reply carries the ACK for
		// cost more than one idle firing per ackDelay.
	}
	if s.pongDue {
		f.HasPong, f.Pong = true, s.pongID
		s.pongDue = false
	}
}

// emit seals f into a record appended to s.out.
func (s *session) emit(f *record.Frame) {
	start := len(s.out)
	var out []byte
	var pn uint64
	var err error
	if s.link.datagram {
		pt := record.AppendPlaintext(s.pt[:0], f, s.link.compress, &s.zbuf)
		s.pt = pt
		out, pn, err = s.link.seal(s.out, pt)
	} else {
		// Seal in place: the plaintext goes where the ciphertext will be,
		// after room for the record header, with room for the tag behind.
		buf := append(s.out, 0, 0)
		buf = record.AppendPlaintext(buf, f, s.link.compress, &s.zbuf)
		buf = slices.Grow(buf, record.TagLen)
		out, pn, err = s.link.seal(buf[:start], buf[start+record.StreamHeaderLen:])
	}
	if err == nil && s.detached != nil {
		// The detached DATA: sealed from the send log, no copy before.
		out, _, err = s.link.seal(out, s.detached)
		s.detached = nil
		s.ep.stats.recordsSent.Add(1)
	}
	if err != nil {
		s.link.fail(fmt.Errorf("endpoint: seal: %w", err))
		return
	}
	s.out = out
	s.ep.stats.recordsSent.Add(1)
	s.lastSend = time.Now()
	if s.link.datagram {
		if len(f.Data) > 0 || f.HasPing || f.HasHello || f.HasClose {
			s.onSent(pn, f.DataOffset, uint64(len(f.Data)), len(out)-start)
		}
		s.pktEnds = append(s.pktEnds, len(out)) // one datagram per record
	}
}

// writeOut hands the batched records to the transport. It reports false if
// the link failed.
func (s *session) writeOut() bool {
	if len(s.out) == 0 || s.link == nil {
		s.out, s.pktEnds = s.out[:0], s.pktEnds[:0]
		return s.link != nil
	}
	n := len(s.out)
	var err error
	if len(s.pktEnds) > 0 {
		// Datagrams: one Writev, so the transport can batch system calls.
		start := 0
		for _, end := range s.pktEnds {
			s.pkts = append(s.pkts, s.out[start:end])
			start = end
		}
		err = s.link.writev(s.pkts)
		clear(s.pkts)
		s.pkts, s.pktEnds = s.pkts[:0], s.pktEnds[:0]
	} else {
		err = s.link.write(s.out)
	}
	s.out = s.out[:0]
	if err != nil {
		s.link.fail(err)
		return false
	}
	s.ep.stats.bytesSent.Add(uint64(n))
	return true
}

// onSessionEnded: the listener answered our resume with "that session
// ended here, after receiving this much of your log". What it received
// counts as acknowledged (its acknowledgements were lost with the link);
// the session is over either way, and linkDown closes cleanly if nothing
// of ours is missing.
func (s *session) onSessionEnded(f *record.Frame) error {
	if !f.HasHello || f.Hello.SessionID != s.ep.session {
		return fmt.Errorf("%w: session-ended answer without our session", ErrProtocol)
	}
	if got, end := f.Hello.RecvOffset, s.logEnd(); got > end {
		return fmt.Errorf("%w: peer claims %d bytes of a %d-byte log", ErrProtocol, got, end)
	}
	s.release(f.Hello.RecvOffset)
	return fmt.Errorf("%w: session %x ended on the peer after %d bytes of ours", ErrSessionLost, s.ep.session[:4], f.Hello.RecvOffset)
}

// onRecord processes one record's frame from the current link.
func (s *session) onRecord(f *record.Frame) error {
	s.ep.stats.recordsRecv.Add(1)
	s.lastRecv = time.Now()
	if f.HasClose && f.Close.Code == codeUnknownSession {
		return fmt.Errorf("%w: the peer does not know session %x", ErrSessionLost, s.ep.session[:4])
	}
	if f.HasClose && f.Close.Code == codeSessionEnded {
		return s.onSessionEnded(f)
	}
	if f.HasHello {
		if err := s.onHello(&f.Hello); err != nil {
			return err
		}
	} else if !s.helloDone {
		if s.link.datagram {
			return errDropped // overtook the peer's HELLO: it will be resent
		}
		return fmt.Errorf("%w: record before HELLO", ErrProtocol)
	}
	if f.HasPNAck && s.link.datagram {
		s.onPNAck(&f.PNAck)
	}
	if f.HasAck && s.link != nil {
		if err := s.onAck(&f.Ack); err != nil {
			return err
		}
	}
	if s.link == nil {
		return nil // an acknowledgement completed our Close
	}
	if f.HasPing {
		s.pongDue, s.pongID = true, f.Ping
	}
	if f.HasPong && f.Pong == s.pingID && !s.pingSent.IsZero() {
		s.rttSample(time.Since(s.pingSent))
		s.pingSent = time.Time{}
	}
	if len(f.Data) > 0 {
		if err := s.onData(f.DataOffset, f.Data); err != nil {
			return err
		}
	}
	if f.HasClose {
		s.onPeerClose()
	}
	return nil
}

func (s *session) onAck(a *record.Ack) error {
	if a.Offset > s.sent {
		// On a datagram link the peer's out-of-order buffer outlives a
		// resume: filling its gap may acknowledge bytes sent on the old
		// link, past where this one restarted. Never past what we have.
		if !s.link.datagram || a.Offset > s.logEnd() {
			return fmt.Errorf("%w: ACK of %d bytes, only %d sent", ErrProtocol, a.Offset, s.sent)
		}
		s.sent = a.Offset
	}
	s.release(a.Offset)
	if end := a.Offset + a.Window; end > s.peerWindow {
		s.peerWindow = end
	}
	return nil
}

// logEnd returns the end of the send log.
func (s *session) logEnd() uint64 {
	l := &s.ep.log
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.end
}

// onDetached takes the detached DATA of the previous record.
func (s *session) onDetached(off uint64, data []byte) error {
	s.ep.stats.recordsRecv.Add(1)
	return s.onData(off, data)
}

// onData takes bytes of the peer's log in order (stream links deliver
// them in order; a resumed link may repeat a prefix, which is skipped).
func (s *session) onData(off uint64, data []byte) error {
	if s.link.datagram {
		return s.onDatagramData(off, data)
	}
	if off > s.recvd {
		return fmt.Errorf("%w: data at %d, expected %d", ErrProtocol, off, s.recvd)
	}
	skip := s.recvd - off
	if skip >= uint64(len(data)) {
		return nil // all seen before a resume
	}
	data = data[skip:]
	if s.recvd+uint64(len(data)) > s.windowSent {
		return errWindow
	}
	return s.take(data)
}

// errDropped: a datagram record ignored, and so not acknowledged.
var errDropped = errors.New("endpoint: record dropped")

var errWindow = fmt.Errorf("%w: peer overran the receive window", ErrProtocol)

// take feeds the next in-order log bytes to the reassembler.
func (s *session) take(data []byte) error {
	s.recvd += uint64(len(data))
	if err := s.reasm.Feed(data, s.deliver); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return nil
}

// deliver hands one message to the application.
func (s *session) deliver(msg []byte) error {
	if h := s.ep.cfg.Handler; h != nil {
		h(s.ep, msg)
		s.consumed = s.reasm.Delivered()
		return nil
	}
	if s.reasm.Keep() {
		s.ep.recvQ.pushOwned(msg) // a large message: no copy
	} else {
		s.ep.recvQ.push(msg)
	}
	return nil
}

// afterRecv runs after a batch of records: it acknowledges when enough
// arrived, else arms the delayed-ack timer, then flushes (piggybacking the
// ACK on data when there is some).
func (s *session) afterRecv() {
	s.ep.stats.msgsRecv.Store(s.reasm.Messages())
	unacked := s.recvd - s.ackSent
	s.foldCredit()
	windowGrowth := s.consumed + uint64(s.ep.cfg.RecvWindowBytes) - s.windowSent
	if unacked >= 64<<10 || windowGrowth >= uint64(s.ep.cfg.RecvWindowBytes)/4 || s.dg.unackedPkt >= 2 || s.dg.ackNow {
		s.ackDue = true
	} else if unacked > 0 || s.dg.unackedPkt > 0 {
		s.armAck()
	}
	s.flush()
}

// creditRecv records n bytes consumed by Recv (any goroutine). It reports
// whether the worker should announce the window now: when the credit not
// yet folded in crosses a quarter of the window. Below that the worker
// folds it into the next ACK it sends anyway (foldCredit), so a Recv does
// not wake the worker for every message. No sender can stall on the rest:
// a sender blocked on the window means every byte of it arrived here, so
// once Recv has taken them the credit is past the quarter.
func (s *session) creditRecv(n int) bool {
	quarter := uint64(s.ep.cfg.RecvWindowBytes) / 4
	now := s.recvCredit.Add(uint64(n))
	return now >= quarter && now-uint64(n) < quarter
}

// foldCredit adds what Recv consumed to consumed; on the worker.
func (s *session) foldCredit() { s.consumed += s.recvCredit.Swap(0) }

// sendWindowUpdate runs on the worker after Recv consumed a quarter of the
// window.
func (s *session) sendWindowUpdate() {
	s.foldCredit()
	if s.consumed+uint64(s.ep.cfg.RecvWindowBytes)-s.windowSent >= uint64(s.ep.cfg.RecvWindowBytes)/4 {
		s.ackDue = true
		s.flush()
	}
}

func (s *session) rttSample(rtt time.Duration) {
	if s.srtt == 0 {
		s.srtt = rtt
	} else {
		s.srtt = (7*s.srtt + rtt) / 8
	}
	s.ep.stats.rttNanos.Store(int64(s.srtt))
}

// ping sends a PING (keepalive and RTT probe).
func (s *session) ping() {
	if s.link == nil || !s.helloDone {
		return
	}
	s.pingID++
	s.pingSent = time.Now()
	f := &s.frame
	*f = record.Frame{HasPing: true, Ping: s.pingID}
	s.addControl(f)
	s.emit(f)
	s.writeOut()
}

// linkDown forgets a dead link; the dialer redials, both wait at most
// ResumeTimeout.
func (s *session) linkDown(l *link, err error) {
	if s.link != l {
		return
	}
	s.link = nil
	s.helloDone = false
	s.out, s.pktEnds = s.out[:0], s.pktEnds[:0] // sealed for the dead link
	s.stopTimer(&s.aliveTimer)
	s.stopTimer(&s.ackTimer)
	s.stopTimer(&s.ptoTimer)
	s.stopTimer(&s.helloTimer)
	s.dg.ptoTimerOn = false
	if s.ep.isClosed() {
		return
	}
	if s.closeSent {
		// Everything was acknowledged and our CLOSE is out: the peer
		// closing the link is the answer we were waiting for. A reset may
		// have lost the CLOSE instead: it goes again on a resumed link.
		if l.datagram || errors.Is(err, io.EOF) {
			s.shutdown(nil)
			return
		}
		s.closeSent = false
	}
	if s.closing && s.acked == s.logEnd() && (errors.Is(err, ErrSessionLost) || !s.ep.resumable()) {
		s.shutdown(nil) // all of ours arrived, and no resume can carry the CLOSE
		return
	}
	if errors.Is(err, ErrSessionLost) || errors.Is(err, ErrPeerMismatch) {
		s.ep.finish(err)
		return
	}
	s.ep.cfg.Logger.Debug("endpoint: link down", "peer", s.ep.peer, "err", err)
	s.armResume()
	if s.ep.dialer {
		s.scheduleRedial()
	}
}

// startClose begins a graceful close (on the worker).
func (s *session) startClose() {
	if s.closing || s.ep.isClosed() {
		return
	}
	s.closing = true
	s.flush()
	s.maybeFinishClose()
}

// maybeFinishClose ends the session once the peer has everything and
// knows it. Our CLOSE carries the last acknowledgement of what the peer
// sent: if it were lost (a connection reset just before or after it was
// written, or no link at all when everything was acknowledged), a peer
// with messages in flight would wait ResumeTimeout for an ACK that never
// comes. So the end waits for the peer's answer to the CLOSE: on a stream
// its own CLOSE or its closing the link (linkDown), on datagrams its
// acknowledgement of the CLOSE (onPNAck). A link lost meanwhile is
// resumed (the dialer redials) and the CLOSE sent again on the new one;
// nothing of ours can be lost any more, so armLinger bounds that wait.
func (s *session) maybeFinishClose() {
	if s.acked != s.logEnd() {
		if s.link == nil {
			s.armResume() // bounded wait for a link to finish on
		}
		return
	}
	if s.link == nil && !s.ep.resumable() {
		s.shutdown(nil)
		return
	}
	s.armLinger()
	if s.link != nil && s.helloDone && !s.closeSent {
		s.closeSent = true
		s.sendClose()
	}
}

// resumable reports whether a lost link can still be replaced: the dialer
// redials; the responder needs its Listener open (Close refuses resumes).
func (ep *Endpoint) resumable() bool {
	if ep.dialer || ep.ln == nil {
		return true
	}
	ep.ln.mu.Lock()
	defer ep.ln.mu.Unlock()
	return !ep.ln.closed
}

// closeLinger bounds how long a closing endpoint whose messages are all
// acknowledged waits for the peer to receive its CLOSE, resuming a lost
// link if need be.
const closeLinger = 2 * time.Second

// sendClose sends a CLOSE with the final acknowledgement.
func (s *session) sendClose() {
	f := &s.frame
	*f = record.Frame{HasClose: true}
	s.ackDue = true
	s.addControl(f)
	s.emit(f)
	s.closePN = s.dg.largestSent
	s.writeOut()
}

// onPeerClose: the peer closed gracefully; it has acknowledged... whatever
// it acknowledged. What it did not is reported undelivered.
func (s *session) onPeerClose() {
	l := &s.ep.log
	l.mu.Lock()
	all := s.acked == l.end
	l.mu.Unlock()
	var err error
	if !all {
		err = fmt.Errorf("endpoint: closed by peer: %w", ErrClosed)
	}
	if s.link != nil && s.link.datagram {
		s.ackDue = true
		s.flush() // acknowledge the CLOSE; the peer resends it if this is lost
	}
	s.shutdown(err)
}

// shutdown ends the endpoint and closes its link.
func (s *session) shutdown(err error) {
	for _, t := range []**driver.MailboxTimer{&s.ackTimer, &s.aliveTimer, &s.resumeTimer, &s.redialTimer, &s.ptoTimer, &s.helloTimer, &s.lingerTimer} {
		s.stopTimer(t)
	}
	if s.link != nil {
		l := s.link
		s.link = nil
		l.close()
	}
	s.ep.finish(err)
}
