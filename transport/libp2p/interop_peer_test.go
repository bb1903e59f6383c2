package libp2p_test

// This file is a plain go-libp2p program's side of a weft endpoint: a
// small implementation of the endpoint's wire protocol over a libp2p
// stream, written from the protocol's description and importing nothing
// of weft (only go-libp2p and the standard library), to show that any
// libp2p program can talk to a weft node. It is the dialer's side, over
// an authenticated transport (a secured libp2p connection), where weft
// runs no Noise of its own:
//
// Handshake (internal/handshake, authenticated.go): two messages, each
// framed by a 2-byte big-endian length on the stream.
//
//	m1, dialer to listener; m2, listener to dialer:
//	version          1 byte   2
//	flags            1 byte   0x01 compression offered (m1) / on (m2)
//	                          0x02 InsecurePlaintext is set
//	                          0x04 an endpoint identity follows
//	maxMessageBytes  uvarint  largest message the sender accepts
//	[key 32 bytes, signature 64 bytes]
//
// A side whose endpoint key is its libp2p host's key sends no identity
// (the connection proved it). Otherwise it sends its Ed25519 endpoint key
// and an Ed25519 signature of
//
//	"weft:" || "weft-authenticated-link" || 0x00 || role || signer || verifier
//
// where role is 1 in m1 and 2 in m2, and signer and verifier are the
// libp2p peer IDs (bytes) of the sender's and the receiver's hosts.
//
// Records (internal/record): a 2-byte big-endian length, then that many
// bytes of plaintext (at most 65519; the libp2p connection encrypts):
// a header byte (0: not compressed) and a frame body: a flags byte, then
// the sections whose flag is set, in this order:
//
//	HELLO 0x20  session id [16], uvarint recvOffset, uvarint maxMessageBytes
//	ACK   0x02  uvarint offset, uvarint window
//	PNACK 0x04  (datagram links only)
//	PING  0x08  uvarint id
//	PONG  0x10  uvarint id
//	CLOSE 0x40  uvarint code, uvarint reasonLen, reason
//	DATA  0x01  uvarint offset, then the rest: bytes of the sender's log
//
// Each direction's log is a byte stream of messages, uvarint(len) || len
// bytes; DATA carries a piece of it with its offset. ACK says every byte
// below offset arrived, and the sender may send up to offset+window. The
// dialer's first record is its HELLO (with an ACK: the window it grants);
// the listener answers with its own. A CLOSE once everything is
// acknowledged ends the session cleanly.

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

const (
	wireVersion     = 2
	flagIdentity    = 0x04
	wireDomain      = "weft-authenticated-link"
	maxWirePlain    = 65519
	plainMaxMessage = 1 << 20 // the largest message this peer accepts
	plainWindow     = 4 << 20 // the receive window it grants
)

// Frame section flags.
const (
	secData  = 0x01
	secAck   = 0x02
	secPNAck = 0x04
	secPing  = 0x08
	secPong  = 0x10
	secHello = 0x20
	secClose = 0x40
)

// plainPeer is the dialer's end of one weft session on a libp2p stream.
type plainPeer struct {
	st      network.Stream
	r       *bufio.Reader
	session [16]byte

	// Endpoint is the weft endpoint identity the listener proved: its
	// host's peer ID, or the key its m2 carried.
	endpoint ed25519.PublicKey

	sent, peerWindow uint64 // our log: bytes sent, and the limit granted
	acked            uint64 // our log bytes the peer acknowledged
	recvd            uint64 // the peer's log bytes received, in order
	partial          []byte // the peer's log bytes not yet a whole message
	got              [][]byte
	closed           bool // the peer sent CLOSE
}

// dialPlain runs the handshake and the HELLO exchange on st.
func dialPlain(st network.Stream) (*plainPeer, error) {
	p := &plainPeer{st: st, r: bufio.NewReader(st)}
	if err := p.handshake(); err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if _, err := rand.Read(p.session[:]); err != nil {
		return nil, err
	}
	hello := []byte{secHello | secAck}
	hello = append(hello, p.session[:]...)
	hello = binary.AppendUvarint(hello, 0) // recvOffset: a new session
	hello = binary.AppendUvarint(hello, plainMaxMessage)
	hello = binary.AppendUvarint(hello, 0) // ACK offset
	hello = binary.AppendUvarint(hello, plainWindow)
	if err := p.writeRecord(hello); err != nil {
		return nil, err
	}
	for {
		f, err := p.readFrame()
		if err != nil {
			return nil, fmt.Errorf("waiting for the listener's HELLO: %w", err)
		}
		if f.hello {
			return p, nil
		}
	}
}

// handshake sends m1 and checks m2.
func (p *plainPeer) handshake() error {
	m1 := binary.AppendUvarint([]byte{wireVersion, 0}, plainMaxMessage)
	if err := p.writeFramed(m1); err != nil {
		return err
	}
	m2, err := p.readFramed()
	if err != nil {
		return err
	}
	if len(m2) < 3 || m2[0] != wireVersion {
		return fmt.Errorf("m2 %x: not version %d", m2, wireVersion)
	}
	flags := m2[1]
	if flags&^flagIdentity != 0 {
		return fmt.Errorf("m2 flags 0x%02x: the listener turned on something this peer did not offer", flags)
	}
	limit, n := binary.Uvarint(m2[2:])
	if n <= 0 || limit == 0 {
		return fmt.Errorf("m2: bad maxMessageBytes")
	}
	rest := m2[2+n:]
	local, remote := p.st.Conn().LocalPeer(), p.st.Conn().RemotePeer()
	if flags&flagIdentity == 0 {
		if len(rest) != 0 {
			return fmt.Errorf("m2: %d trailing bytes", len(rest))
		}
		pub, err := remote.ExtractPublicKey()
		if err != nil {
			return err
		}
		raw, err := pub.Raw()
		if err != nil {
			return err
		}
		p.endpoint = raw
		return nil
	}
	return p.checkIdentity(rest, remote, local)
}

// checkIdentity verifies the listener's endpoint key and its signature.
func (p *plainPeer) checkIdentity(b []byte, signer, verifier peer.ID) error {
	if len(b) != ed25519.PublicKeySize+ed25519.SignatureSize {
		return fmt.Errorf("m2: identity of %d bytes", len(b))
	}
	key, sig := ed25519.PublicKey(b[:ed25519.PublicKeySize]), b[ed25519.PublicKeySize:]
	msg := append([]byte("weft:"+wireDomain+"\x00"), 2)
	msg = append(append(msg, signer...), verifier...)
	if !ed25519.Verify(key, msg, sig) {
		return errors.New("m2: the endpoint identity's signature does not verify")
	}
	p.endpoint = key
	return nil
}

func (p *plainPeer) writeFramed(msg []byte) error {
	_, err := p.st.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
	return err
}

func (p *plainPeer) readFramed() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	_, err := io.ReadFull(p.r, msg)
	return msg, err
}

// writeRecord sends one record with an uncompressed frame body.
func (p *plainPeer) writeRecord(body []byte) error {
	return p.writeFramed(append([]byte{0}, body...))
}

// frame is what one record said.
type frame struct {
	hello, closed bool
}

// readFrame reads one record and acts on its sections: ACK updates what
// we may send, PING is answered, DATA is reassembled into messages (and
// acknowledged).
func (p *plainPeer) readFrame() (frame, error) {
	pt, err := p.readFramed()
	switch {
	case err != nil:
		return frame{}, err
	case len(pt) > maxWirePlain:
		return frame{}, fmt.Errorf("record of %d bytes", len(pt))
	case len(pt) < 2 || pt[0] != 0:
		return frame{}, fmt.Errorf("record %x: empty or compressed", pt)
	}
	return p.parse(pt[1], &wireReader{b: pt[2:]})
}

// parse handles a frame body's sections, in their order.
func (p *plainPeer) parse(flags byte, r *wireReader) (frame, error) {
	var f frame
	if flags&(0x80|secPNAck) != 0 {
		return f, fmt.Errorf("frame flags 0x%02x: reserved or datagram-only section", flags)
	}
	if flags&secHello != 0 {
		var id [16]byte
		copy(id[:], r.next(16))
		recvOffset, limit := r.uvarint(), r.uvarint()
		if r.err == nil && (id != p.session || recvOffset != 0 || limit == 0) {
			return f, fmt.Errorf("HELLO for session %x at %d; want %x at 0", id, recvOffset, p.session)
		}
		f.hello = true
	}
	if flags&secAck != 0 {
		p.acked = r.uvarint()
		p.peerWindow = max(p.peerWindow, p.acked+r.uvarint())
	}
	if flags&secPing != 0 {
		id := r.uvarint()
		if err := p.writeRecord(binary.AppendUvarint([]byte{secPong}, id)); err != nil {
			return f, err
		}
	}
	if flags&secPong != 0 {
		r.uvarint()
	}
	if flags&secClose != 0 {
		r.uvarint()
		r.next(int(r.uvarint()))
		f.closed, p.closed = true, true
	}
	if flags&secData != 0 {
		offset := r.uvarint()
		if r.err != nil {
			return f, r.err
		}
		return f, p.data(offset, r.rest())
	}
	if r.err == nil && len(r.b) > 0 {
		return f, fmt.Errorf("%d bytes after the frame's sections", len(r.b))
	}
	return f, r.err
}

// data takes log bytes at offset and acknowledges them.
func (p *plainPeer) data(offset uint64, b []byte) error {
	if offset != p.recvd || len(b) == 0 {
		return fmt.Errorf("DATA of %d bytes at %d; expected offset %d", len(b), offset, p.recvd)
	}
	p.recvd += uint64(len(b))
	p.partial = append(p.partial, b...)
	for {
		n, k := binary.Uvarint(p.partial)
		if k <= 0 || uint64(len(p.partial)-k) < n {
			break
		}
		if n > plainMaxMessage {
			return fmt.Errorf("message of %d bytes, above our limit", n)
		}
		p.got = append(p.got, bytes.Clone(p.partial[k:k+int(n)]))
		p.partial = p.partial[k+int(n):]
	}
	ack := binary.AppendUvarint([]byte{secAck}, p.recvd)
	return p.writeRecord(binary.AppendUvarint(ack, plainWindow))
}

// send sends msg, waiting (reading records) while the peer's window is
// full.
func (p *plainPeer) send(msg []byte) error {
	log := append(binary.AppendUvarint(nil, uint64(len(msg))), msg...)
	for len(log) > 0 {
		for p.sent >= p.peerWindow {
			if _, err := p.readFrame(); err != nil {
				return fmt.Errorf("waiting for the window: %w", err)
			}
		}
		n := min(uint64(len(log)), p.peerWindow-p.sent, maxWirePlain-1-1-binary.MaxVarintLen64)
		body := binary.AppendUvarint([]byte{secData}, p.sent)
		if err := p.writeRecord(append(body, log[:n]...)); err != nil {
			return err
		}
		p.sent += n
		log = log[n:]
	}
	return nil
}

// recv reads records until n messages have arrived in all.
func (p *plainPeer) recv(n int) error {
	for len(p.got) < n {
		if _, err := p.readFrame(); err != nil {
			return fmt.Errorf("after %d of %d messages: %w", len(p.got), n, err)
		}
	}
	return nil
}

// close waits until the peer acknowledged everything, then sends CLOSE
// and waits for the stream to end.
func (p *plainPeer) close() error {
	for p.acked < p.sent {
		if _, err := p.readFrame(); err != nil {
			return fmt.Errorf("waiting for the acknowledgement of %d bytes: %w", p.sent, err)
		}
	}
	if err := p.writeRecord([]byte{secClose, 0, 0}); err != nil {
		return err
	}
	for {
		if _, err := p.readFrame(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("after CLOSE: %w", err)
		}
	}
}

// wireReader reads a frame body's fields; the first error sticks.
type wireReader struct {
	b   []byte
	err error
}

func (r *wireReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated or overlong uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) next(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = cmpErr(r.err, fmt.Errorf("field of %d bytes, %d left", n, len(r.b)))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *wireReader) rest() []byte {
	v := r.b
	r.b = nil
	return v
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
