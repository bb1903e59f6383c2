package endpointtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/internal/record"
)

// The bad-input cases. Over a stream, bad bytes close the connection (the
// stream is unusable after them); over datagrams, a packet that does not
// authenticate is dropped and counted, while an authenticated protocol
// violation (or a bad handshake) still closes the association.

// badGarbageBeforeHandshake: random bytes instead of msg1. More than a
// maximal handshake frame, so whatever length the first two bytes
// declare, the listener gets a whole "message" to reject.
func badGarbageBeforeHandshake(w *badWorld, _ byte) {
	before := w.ln.BadConnections()
	p := w.raw()
	p.mustWrite(garbage(1, 70_000))
	w.closedBy(p, "garbage before the handshake")
	w.badConnsGrow(before, "garbage before the handshake")
}

// badGarbagePacketsBeforeHandshake: packets of an unknown type before the
// handshake are dropped and counted; the association survives them and a
// real handshake on it still works.
func badGarbagePacketsBeforeHandshake(w *badWorld, id byte) {
	before := w.ln.BadConnections()
	p := w.raw()
	for i := range 10 {
		pkt := garbage(uint64(i), 200)
		pkt[0] = 0xee
		p.mustWrite(pkt)
	}
	w.badConnsGrow(before, "packets of an unknown type before the handshake")
	s, err := p.handshake(handshake.Config{Identity: key(w.e.t, id), MaxMessageBytes: 1 << 20})
	if err == nil {
		err = s.hello(1 << 20)
	}
	if err != nil {
		w.e.t.Fatalf("a handshake after garbage packets on the same association: %v", err)
	}
	ep := w.endpointOf(peerOf(w.e.t, id))
	s.deliver(w, ep, []byte("after garbage"))
	_ = p.c.Close()
}

// badGarbageHandshakePacket: a handshake packet whose message is garbage
// fails the handshake and closes the association.
func badGarbageHandshakePacket(w *badWorld, _ byte) {
	before := w.ln.BadConnections()
	p := w.raw()
	pkt := garbage(2, 120)
	pkt[0] = record.TypeHandshake
	p.repeatUntilClosed(w, "a garbage handshake packet", func() []byte { return pkt })
	w.badConnsGrow(before, "a garbage handshake packet")
}

// badTruncatedHandshake: half of a real msg1, then (stream) the dialer
// closes. The listener must count the failed handshake.
func badTruncatedHandshake(w *badWorld, id byte) {
	before := w.ln.BadConnections()
	hs, err := handshake.NewInitiator(handshake.Config{Identity: key(w.e.t, id)})
	if err != nil {
		w.e.t.Fatal(err)
	}
	msg1, err := hs.Start()
	if err != nil {
		w.e.t.Fatal(err)
	}
	p := w.raw()
	if p.datagram {
		pkt := append([]byte{record.TypeHandshake}, msg1[:len(msg1)/2]...)
		p.repeatUntilClosed(w, "a truncated msg1", func() []byte { return pkt })
	} else {
		p.mustWrite(frame16(msg1)[:2+len(msg1)/2])
		_ = p.c.Close()
		w.e.wait(p.closed, "the raw connection to close")
	}
	w.badConnsGrow(before, "a truncated handshake")
}

// badGarbageAfterHello: after a valid handshake and HELLO, random bytes
// where records belong.
func badGarbageAfterHello(w *badWorld, id byte) {
	s, ep := w.rawSession(id)
	before := ep.Stats().BadRecords
	s.p.mustWrite(garbage(3, 70_000))
	w.closedBy(s.p, "garbage after the HELLO")
	w.badRecordsGrow(ep, before, "garbage after the HELLO")
}

// badGarbagePacketsAfterHello: data packets of garbage are dropped and
// counted; the session carries on.
func badGarbagePacketsAfterHello(w *badWorld, id byte) {
	s, ep := w.rawSession(id)
	before := ep.Stats().BadRecords
	for i := range 10 {
		pkt := garbage(uint64(10+i), 100)
		pkt[0] = record.TypeData
		s.p.mustWrite(pkt)
	}
	w.badRecordsGrow(ep, before, "garbage data packets")
	s.deliver(w, ep, []byte("after garbage"))
	w.expectDelivered(ep, "after garbage")
}

// badShortRecord: a record whose length prefix is below the AEAD tag. Over
// a transport.Authenticated connection (plaintext framing, no tag) the same
// bytes are a 5-byte record whose header asks for an S2 block that the
// rest is not: still a bad record.
func badShortRecord(w *badWorld, id byte) {
	s, ep := w.rawSession(id)
	before := ep.Stats().BadRecords
	s.p.mustWrite([]byte{0, 5, 1, 2, 3, 4, 5})
	w.closedBy(s.p, "a record shorter than its tag")
	w.badRecordsGrow(ep, before, "a record shorter than its tag")
}

// badRecordAboveMax: in plaintext mode a record's length prefix may not
// exceed MaxPlaintext (with encryption every 16-bit length is allowed).
func badRecordAboveMax(w *badWorld, id byte) {
	s, ep := w.rawSession(id)
	before := ep.Stats().BadRecords
	s.p.mustWrite([]byte{0xff, 0xff, 1, 2, 3})
	w.closedBy(s.p, fmt.Sprintf("a record length prefix of 65535, above MaxPlaintext %d", record.MaxPlaintext))
	w.badRecordsGrow(ep, before, "a record length above the maximum")
}

// badFlippedBit: a valid DATA record with one ciphertext bit flipped.
//
// Over a transport.Authenticated connection records are not encrypted by
// the endpoint: the transport seals them (QUIC's AEAD drops a flipped bit
// before the endpoint sees it), and the suite cannot tamper below the
// transport. The property left to check is that a record whose framing is
// corrupted is caught as a bad record: here the reserved bit of the frame
// flags. (A flipped bit in a message's payload would go unnoticed at this
// layer; it is the transport's integrity protection that rules it out.)
func badFlippedBit(w *badWorld, id byte) {
	s, ep := w.rawSession(id)
	before := ep.Stats().BadRecords
	rec := s.seal(s.dataFrame(appendMessage([]byte("tampered"))))
	if s.p.authenticated() {
		rec[record.StreamHeaderLen+1] ^= 0x80 // hdr, then the flags byte
	} else {
		rec[record.StreamHeaderLen+3] ^= 0x10
	}
	s.p.mustWrite(rec)
	w.closedBy(s.p, "a record with a flipped ciphertext bit")
	w.badRecordsGrow(ep, before, "a tampered record")
	w.expectDelivered(ep)
}

// badFlippedBitPackets: tampered data packets are dropped and counted;
// the session carries on.
func badFlippedBitPackets(w *badWorld, id byte) {
	s, ep := w.rawSession(id)
	before := ep.Stats().BadRecords
	for range 10 {
		pkt := s.seal(s.dataFrame(appendMessage([]byte("tampered"))))
		pkt[record.DatagramHeaderLen+3] ^= 0x10
		s.p.mustWrite(pkt)
	}
	w.badRecordsGrow(ep, before, "tampered packets")
	s.deliver(w, ep, []byte("after tampering"))
	w.expectDelivered(ep, "after tampering")
}

// badReplayedRecord: a valid DATA record sent twice. The first delivers
// its message; the copy fails authentication (the nonce moved on).
//
// Over a transport.Authenticated connection records carry no nonce of the
// endpoint's: the transport rejects replayed packets below it (QUIC's
// packet numbers and AEAD), so a copy can only come from the
// authenticated peer itself, resending log bytes it sent already. The
// property left is exactly-once delivery: the copy is skipped as bytes
// seen before (as after a resume), and the session carries on.
func badReplayedRecord(w *badWorld, id byte) {
	s, ep := w.rawSession(id)
	before := ep.Stats().BadRecords
	s.deliver(w, ep, []byte("once"))
	if s.p.authenticated() {
		s.p.mustWrite(s.last)
		s.deliver(w, ep, []byte("after the copy"))
		w.expectDelivered(ep, "once", "after the copy")
		if n := ep.Stats().BadRecords; n != before {
			w.e.t.Errorf("a copy of a delivered record counted as %d bad records; want it skipped", n-before)
		}
		return
	}
	s.p.mustWrite(s.last)
	w.closedBy(s.p, "a replayed record")
	w.badRecordsGrow(ep, before, "a replayed record")
	w.expectDelivered(ep, "once")
}

// badReplayedPacket: copies of a delivered data packet are dropped and
// counted; its message arrives once; the session carries on.
func badReplayedPacket(w *badWorld, id byte) {
	s, ep := w.rawSession(id)
	s.deliver(w, ep, []byte("once"))
	before := ep.Stats().BadRecords
	for range 10 {
		s.p.mustWrite(s.last)
	}
	w.badRecordsGrow(ep, before, "replayed packets")
	s.deliver(w, ep, []byte("after replays"))
	w.expectDelivered(ep, "once", "after replays")
}

// badMessageAboveMax: an authenticated DATA frame whose message length
// prefix is above the listener's MaxMessageBytes (just above, and absurdly
// above). The connection closes, and nothing near that size is allocated.
func badMessageAboveMax(w *badWorld, id byte) {
	for j, n := range []uint64{listenerMax + 1, 1 << 62} {
		s, ep := w.rawSession(id + byte(50*j))
		before := ep.Stats().BadRecords
		data := append(binary.AppendUvarint(nil, n), garbage(4, 16)...)
		what := fmt.Sprintf("a message length of %d bytes (MaxMessageBytes %d)", n, listenerMax)
		w.allocCheck(what, func() {
			if s.p.datagram {
				s.p.repeatUntilClosed(w, what, func() []byte { return s.seal(s.dataFrame(data)) })
			} else {
				s.p.mustWrite(s.seal(s.dataFrame(data)))
				w.closedBy(s.p, what)
			}
		})
		w.badRecordsGrow(ep, before, what)
		w.expectDelivered(ep)
	}
}

// deliver sends msg as the next message of the raw session's log and
// waits until ep delivered it (resending on datagrams, where packets get
// lost). s.last keeps the record or packet that carried it.
func (s *rawSession) deliver(w *badWorld, ep *endpoint.Endpoint, msg []byte) {
	w.e.t.Helper()
	peer := ep.Peer()
	n := len(w.delivered(peer))
	f := s.dataFrame(appendMessage(msg))
	arrived := func() bool { return len(w.delivered(peer)) > n }
	deadline := time.Now().Add(waitTimeout)
	for !arrived() {
		s.last = s.seal(f)
		if err := s.p.write(s.last); err != nil {
			w.e.t.Fatalf("raw peer: writing message %q: %v", msg, err)
		}
		if !s.p.datagram {
			w.e.waitUntil(nil, arrived, "the raw peer's message %q to arrive", msg)
			break
		}
		timer := time.NewTimer(resendEvery)
		for waiting := true; waiting && !arrived(); {
			select {
			case <-w.changed:
			case <-timer.C:
				waiting = false
			}
		}
		timer.Stop()
		if time.Now().After(deadline) {
			w.e.t.Fatalf("raw peer: message %q not delivered in %v (stats %+v)", msg, waitTimeout, ep.Stats())
		}
	}
	s.off += uint64(len(f.Data))
	if s.p.isClosed() {
		w.e.t.Fatalf("raw peer: the listener closed the connection after delivering %q", msg)
	}
}

// expectDelivered checks the messages ep delivered from its raw peer.
func (w *badWorld) expectDelivered(ep *endpoint.Endpoint, want ...string) {
	w.e.t.Helper()
	got := w.delivered(ep.Peer())
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = bytes.Equal(got[i], []byte(want[i]))
	}
	if !ok {
		w.e.t.Errorf("the raw peer's endpoint delivered %q; want exactly %q", got, want)
	}
}

// repeatUntilClosed writes next() every resendEvery until the listener
// closes the connection (datagrams may be lost, so one is not enough).
func (p *rawPeer) repeatUntilClosed(w *badWorld, what string, next func() []byte) {
	w.e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !p.isClosed() {
		p.mustWrite(next())
		select {
		case <-p.closed:
		case <-time.After(resendEvery):
		}
		if time.Now().After(deadline) {
			w.e.t.Fatalf("the listener did not close the connection after %s in %v", what, waitTimeout)
		}
	}
}

// badDetachedMismatch: a frame announces 64 bytes of detached DATA and the
// record after it holds fewer. The connection closes with a protocol
// error; what came before was delivered.
func badDetachedMismatch(w *badWorld, id byte) {
	s, ep := w.rawSession(id)
	s.deliver(w, ep, []byte("before"))
	before := ep.Stats().BadRecords
	hdr := s.seal(&record.Frame{DataOffset: s.off, Detached: 64})
	data, err := s.sseal.Seal(nil, appendMessage([]byte("short")))
	if err != nil {
		w.e.t.Fatal(err)
	}
	s.p.mustWrite(append(hdr, data...))
	w.closedBy(s.p, "detached DATA shorter than announced")
	w.badRecordsGrow(ep, before, "detached DATA shorter than announced")
	w.expectDelivered(ep, "before")
}
