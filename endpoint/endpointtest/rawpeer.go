package endpointtest

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/internal/record"
	"github.com/weftnet/weft/transport"
)

// A rawPeer is a transport connection that the suite drives by hand to
// speak the endpoint's wire format, correctly or not:
//
//   - stream: handshake messages framed by a 2-byte big-endian length,
//     then records sealed by record.StreamSealer;
//   - datagram: one packet per handshake message, behind the type byte
//     record.TypeHandshake, then packets sealed by record.DatagramSealer
//     (type record.TypeData). Packets get lost, so the raw peer
//     retransmits like an endpoint would.
//
// Over a transport.Authenticated connection (quic) the endpoint runs the
// two-message authenticated exchange instead of Noise, framed the same
// way, and its records use the plaintext framing (the transport seals
// them); the raw peer follows, as the endpoint decides, by the
// connection's type.
//
// The first record after the handshake is the dialer's HELLO.

// resendEvery is the raw peer's retransmission interval on datagrams.
const resendEvery = 50 * time.Millisecond

var errRawClosed = errors.New("endpointtest: the raw connection was closed by the endpoint's side")

type rawPeer struct {
	e        *env
	c        transport.Conn
	datagram bool

	mu       sync.Mutex
	stream   []byte   // stream: bytes received, not yet consumed
	pkts     [][]byte // datagram: packets received, not yet consumed
	notify   chan struct{}
	closed   chan struct{}
	closeErr error
}

// dialRaw dials addr with the bare transport, on d's first worker.
func (e *env) dialRaw(d *driver.Driver, addr ma.Multiaddr) *rawPeer {
	e.t.Helper()
	p := &rawPeer{e: e, datagram: e.datagram(), notify: make(chan struct{}, 1), closed: make(chan struct{})}
	ctx, cancel := e.timeout()
	defer cancel()
	c, err := e.rec.Transport.Dial(ctx, addr, d.Workers()[0], p)
	if err != nil {
		e.t.Fatalf("endpointtest: raw dial %s: %v", addr, err)
	}
	p.c = c
	return p
}

// OnData implements transport.Handler.
func (p *rawPeer) OnData(_ transport.Conn, b []byte) {
	p.mu.Lock()
	if p.datagram {
		p.pkts = append(p.pkts, bytes.Clone(b))
	} else {
		p.stream = append(p.stream, b...)
	}
	p.mu.Unlock()
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// OnClose implements transport.Handler.
func (p *rawPeer) OnClose(_ transport.Conn, err error) {
	p.mu.Lock()
	p.closeErr = err
	p.mu.Unlock()
	close(p.closed)
}

func (p *rawPeer) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// write sends b (one packet on a datagram connection) from the
// connection's worker.
func (p *rawPeer) write(b []byte) error {
	errc := make(chan error, 1)
	b = bytes.Clone(b)
	if err := p.c.Post(func() { errc <- p.c.Write(b) }); err != nil {
		return fmt.Errorf("%w: %w", errRawClosed, err)
	}
	select {
	case err := <-errc:
		return err
	case <-time.After(waitTimeout):
		return fmt.Errorf("endpointtest: raw write did not run in %v", waitTimeout)
	}
}

// mustWrite is write that fails the subtest unless the endpoint's side
// already closed the connection (which a bad-input case may expect).
func (p *rawPeer) mustWrite(b []byte) {
	p.e.t.Helper()
	if err := p.write(b); err != nil && !p.isClosed() {
		p.e.t.Fatalf("endpointtest: raw write: %v", err)
	}
}

// await calls take under the lock until it reports true, the connection
// closes (errRawClosed) or until passes.
func (p *rawPeer) await(until time.Time, take func() bool) error {
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	for {
		p.mu.Lock()
		ok := take()
		p.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-p.notify:
		case <-p.closed:
			p.mu.Lock()
			ok := take()
			p.mu.Unlock()
			if ok {
				return nil
			}
			return errRawClosed
		case <-timer.C:
			return fmt.Errorf("endpointtest: raw peer: nothing arrived in time")
		}
	}
}

// readFrame16 reads one 2-byte length-prefixed handshake message.
func (p *rawPeer) readFrame16() ([]byte, error) {
	var msg []byte
	err := p.await(time.Now().Add(waitTimeout), func() bool {
		if len(p.stream) < 2 {
			return false
		}
		n := int(binary.BigEndian.Uint16(p.stream))
		if len(p.stream) < 2+n {
			return false
		}
		msg = bytes.Clone(p.stream[2 : 2+n])
		p.stream = p.stream[2+n:]
		return true
	})
	return msg, err
}

// takeStream returns the stream bytes received so far.
func (p *rawPeer) takeStream() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.stream
	p.stream = nil
	return b
}

// nextPacket returns the next datagram received before until.
func (p *rawPeer) nextPacket(until time.Time) ([]byte, error) {
	var pkt []byte
	err := p.await(until, func() bool {
		if len(p.pkts) == 0 {
			return false
		}
		pkt, p.pkts = p.pkts[0], p.pkts[1:]
		return true
	})
	return pkt, err
}

// frame16 frames a stream handshake message.
func frame16(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
}

// rawSession is a raw peer past the handshake: it seals records itself.
type rawSession struct {
	p       *rawPeer
	res     *handshake.Result
	sseal   *record.StreamSealer
	sopen   *record.StreamOpener
	dseal   *record.DatagramSealer
	dopen   *record.DatagramOpener
	lastHS  []byte // datagram: our last handshake packet (msg3)
	session [record.SessionIDLen]byte
	off     uint64 // next offset of our send log
	last    []byte // the record or packet that carried the last message
}

// handshake runs the initiator's side of the handshake with cfg: Noise,
// or over a transport.Authenticated connection the authenticated exchange,
// as the endpoint does (the endpoint package's handshakeFor).
func (p *rawPeer) handshake(cfg handshake.Config) (*rawSession, error) {
	hs, err := p.initiator(cfg)
	if err != nil {
		return nil, err
	}
	msg1, err := hs.Start()
	if err != nil {
		return nil, err
	}
	var msg2 []byte
	if p.datagram {
		msg2, err = p.exchangeHS(msg1)
	} else if err = p.write(frame16(msg1)); err == nil {
		msg2, err = p.readFrame16()
	}
	if err != nil {
		return nil, fmt.Errorf("waiting for msg2: %w", err)
	}
	msg3, res, err := hs.Step(msg2)
	if err != nil {
		return nil, fmt.Errorf("msg2: %w", err)
	}
	s := &rawSession{p: p, res: res}
	switch {
	case p.datagram:
		s.dseal, s.dopen = record.NewDatagramSealer(res.Send), record.NewDatagramOpener(res.Recv)
		if msg3 != nil { // the authenticated exchange has no msg3
			s.lastHS = append([]byte{record.TypeHandshake}, msg3...)
			err = p.write(s.lastHS)
		}
	default:
		s.sseal, s.sopen = record.NewStreamSealer(res.Send), record.NewStreamOpener(res.Recv)
		if msg3 != nil {
			err = p.write(frame16(msg3))
		}
	}
	return s, err
}

// initiator returns the handshake the endpoint's side expects on p's
// connection, as the dialer's.
func (p *rawPeer) initiator(cfg handshake.Config) (interface {
	Start() ([]byte, error)
	Step([]byte) ([]byte, *handshake.Result, error)
}, error) {
	if a, ok := p.c.(transport.Authenticated); ok {
		hs, err := handshake.NewAuthInitiator(cfg, a.LocalPeer(), a.RemotePeer())
		if err != nil {
			return nil, err
		}
		return hs, nil
	}
	hs, err := handshake.NewInitiator(cfg)
	if err != nil {
		return nil, err
	}
	return hs, nil
}

// authenticated reports whether the raw connection's transport seals the
// bytes itself, so that records travel in the plaintext framing.
func (p *rawPeer) authenticated() bool {
	_, ok := p.c.(transport.Authenticated)
	return ok
}

// exchangeHS sends msg1 until a handshake packet comes back, and returns
// the message it carries.
func (p *rawPeer) exchangeHS(msg1 []byte) ([]byte, error) {
	pkt1 := append([]byte{record.TypeHandshake}, msg1...)
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		if err := p.write(pkt1); err != nil {
			return nil, err
		}
		for {
			pkt, err := p.nextPacket(time.Now().Add(resendEvery))
			if err != nil {
				if errors.Is(err, errRawClosed) {
					return nil, err
				}
				break // resend msg1
			}
			if len(pkt) > 1 && pkt[0] == record.TypeHandshake {
				return pkt[1:], nil
			}
		}
	}
	return nil, fmt.Errorf("endpointtest: no msg2 in %v", waitTimeout)
}

// seal returns f as one record (stream) or packet (datagram).
func (s *rawSession) seal(f *record.Frame) []byte {
	pt := record.AppendPlaintext(nil, f, false, nil)
	if s.p.datagram {
		pkt, _, err := s.dseal.Seal(nil, pt)
		if err != nil {
			panic("endpointtest: seal: " + err.Error())
		}
		return pkt
	}
	rec, err := s.sseal.Seal(nil, pt)
	if err != nil {
		panic("endpointtest: seal: " + err.Error())
	}
	return rec
}

// dataFrame returns a DATA frame carrying log bytes at s.off.
func (s *rawSession) dataFrame(logBytes []byte) *record.Frame {
	return &record.Frame{DataOffset: s.off, Data: logBytes}
}

// hello sends the dialer's HELLO for a new session and waits for the
// listener's HELLO in reply (retransmitting on datagrams).
func (s *rawSession) hello(maxMessageBytes int) error {
	if _, err := rand.Read(s.session[:]); err != nil {
		return err
	}
	f := &record.Frame{HasHello: true, Hello: record.Hello{SessionID: s.session, RecvOffset: 0, MaxMessageBytes: uint64(maxMessageBytes)}}
	deadline := time.Now().Add(waitTimeout)
	for time.Now().Before(deadline) {
		if err := s.p.write(s.seal(f)); err != nil {
			return err
		}
		got, err := s.awaitHello(time.Now().Add(resendEvery))
		if err != nil || got {
			return err
		}
		if s.p.datagram && s.lastHS != nil { // they may have missed msg3
			if err := s.p.write(s.lastHS); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("endpointtest: no HELLO from the listener in %v", waitTimeout)
}

// awaitHello reads records until the listener's HELLO for our session,
// or until passes (false, nil).
func (s *rawSession) awaitHello(until time.Time) (bool, error) {
	found := false
	check := func(pt []byte) error {
		var f record.Frame
		body, err := record.OpenPlaintext(pt, record.MaxPlaintext, nil)
		if err == nil {
			err = record.ParseFrame(body, &f)
		}
		if err != nil {
			return fmt.Errorf("endpointtest: the listener's record does not parse: %w", err)
		}
		if f.HasHello {
			if f.Hello.SessionID != s.session {
				return fmt.Errorf("endpointtest: the listener's HELLO names session %x; want %x", f.Hello.SessionID, s.session)
			}
			found = true
		}
		return nil
	}
	for !found {
		if s.p.datagram {
			pkt, err := s.p.nextPacket(until)
			if err != nil {
				return false, ignoreTimeout(err)
			}
			if len(pkt) > 0 && pkt[0] == record.TypeHandshake {
				if s.lastHS != nil {
					_ = s.p.write(s.lastHS)
				}
				continue
			}
			if _, pt, err := s.dopen.Open(nil, pkt); err == nil {
				if err := check(pt); err != nil {
					return false, err
				}
			}
			continue
		}
		if err := s.p.await(until, func() bool { return len(s.p.stream) > 0 }); err != nil {
			return false, ignoreTimeout(err)
		}
		if err := s.sopen.Feed(s.p.takeStream(), check); err != nil {
			return false, fmt.Errorf("endpointtest: opening the listener's records: %w", err)
		}
	}
	return true, nil
}

// ignoreTimeout turns await's timeout into nil, keeping other errors.
func ignoreTimeout(err error) error {
	if errors.Is(err, errRawClosed) {
		return err
	}
	return nil
}

// appendMessage returns msg framed for the send log: uvarint length, bytes.
func appendMessage(msg []byte) []byte { return record.AppendMessage(nil, msg) }
