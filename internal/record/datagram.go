package record

import (
	"encoding/binary"
	"fmt"

	"github.com/flynn/noise"
)

// Datagram packet types: the first byte of every weft datagram.
const (
	// TypeHandshake marks a handshake packet; the caller handles those
	// before the DatagramOpener.
	TypeHandshake = 0x01
	// TypeData marks a data record sealed by a DatagramSealer.
	TypeData = 0x02
)

// DatagramHeaderLen is the length of a datagram header: the type byte and
// the uint64 big-endian packet number. The header is the AEAD associated
// data.
const DatagramHeaderLen = 1 + 8

// DatagramSealer seals records for a datagram link. Each packet carries its
// packet number, which is also the AEAD nonce, so packets open in any order.
// The sealer assigns packet numbers itself, 0, 1, 2, ..., so a nonce is never
// reused. Not safe for concurrent use.
type DatagramSealer struct {
	x    *aead // nil: plaintext mode
	next uint64
}

// NewDatagramSealer returns a sealer that encrypts with the cipher of cs,
// the sending CipherState of a finished Noise handshake. It calls
// cs.Cipher(), after which cs itself must not Encrypt or Decrypt. A nil cs
// selects plaintext mode: same header, payload = plaintext.
func NewDatagramSealer(cs *noise.CipherState) *DatagramSealer {
	s := &DatagramSealer{}
	if cs != nil {
		s.x = newAEAD(cs)
	}
	return s
}

// NextPN returns the packet number the next Seal will use.
func (s *DatagramSealer) NextPN() uint64 { return s.next }

// Seal appends a data packet for plaintext (at most MaxPlaintext bytes) to
// dst and returns it with the packet number it used. To seal in place, place
// plaintext at dst[len(dst)+DatagramHeaderLen:] in dst's spare capacity with
// TagLen more bytes behind it; otherwise plaintext must not overlap dst's
// spare capacity. On error dst is returned unchanged.
func (s *DatagramSealer) Seal(dst, plaintext []byte) (packet []byte, pn uint64, err error) {
	if len(plaintext) > MaxPlaintext {
		return dst, 0, tooLarge("record plaintext of %d bytes exceeds %d", len(plaintext), MaxPlaintext)
	}
	pn = s.next
	if pn > maxNonce {
		return dst, 0, fmt.Errorf("record: seal: %w", noise.ErrMaxNonce)
	}
	s.next++
	l := len(dst)
	dst = append(dst, TypeData)
	dst = binary.BigEndian.AppendUint64(dst, pn)
	if s.x == nil {
		return append(dst, plaintext...), pn, nil
	}
	return s.x.seal(dst, pn, dst[l:l+DatagramHeaderLen], plaintext), pn, nil
}

// DatagramOpener opens data packets in any order, rejecting duplicates and
// packets older than ReplayWindow. Not safe for concurrent use.
type DatagramOpener struct {
	x   *aead // nil: plaintext mode
	win replayWindow
}

// NewDatagramOpener returns an opener that decrypts with the cipher of cs,
// the receiving CipherState of a finished Noise handshake (it calls
// cs.Cipher()), or a plaintext-mode opener if cs is nil. Plaintext mode still
// checks the replay window.
func NewDatagramOpener(cs *noise.CipherState) *DatagramOpener {
	o := &DatagramOpener{}
	if cs != nil {
		o.x = newAEAD(cs)
	}
	return o
}

// Open checks a data packet and appends its plaintext to dst. To open in
// place, pass packet[DatagramHeaderLen:DatagramHeaderLen] as dst; otherwise
// dst's spare capacity must not overlap packet.
//
// Errors are per packet and none is fatal: drop the packet and count it.
// A short packet, a type other than TypeData or an impossible packet number
// wraps ErrMalformed; a duplicate or too old packet number wraps ErrReplay
// (checked before decrypting); a failed authentication is ErrAuth. The
// replay window only records packets that authenticated. The errors for
// routine drops (ErrReplay, ErrAuth) do not allocate.
func (o *DatagramOpener) Open(dst, packet []byte) (pn uint64, plaintext []byte, err error) {
	minLen := DatagramHeaderLen
	if o.x != nil {
		minLen += TagLen
	}
	if len(packet) < minLen {
		return 0, dst, errShortPacket
	}
	if packet[0] != TypeData {
		return 0, dst, malformed("datagram type 0x%02x is not a data record (0x%02x)", packet[0], TypeData)
	}
	if len(packet)-minLen > MaxPlaintext {
		return 0, dst, malformedTooLarge("datagram payload of %d bytes exceeds %d", len(packet)-minLen, MaxPlaintext)
	}
	pn = binary.BigEndian.Uint64(packet[1:DatagramHeaderLen])
	if pn > maxNonce {
		return 0, dst, malformed("datagram packet number %d is reserved", pn)
	}
	if err := o.win.check(pn); err != nil {
		return pn, dst, err
	}
	payload := packet[DatagramHeaderLen:]
	if o.x == nil {
		plaintext = append(dst, payload...)
	} else if plaintext, err = o.x.open(dst, pn, packet[:DatagramHeaderLen], payload); err != nil {
		return pn, dst, ErrAuth
	}
	o.win.mark(pn)
	return pn, plaintext, nil
}

// ReplayWindow is how far below the largest accepted packet number a packet
// may arrive and still be accepted (once).
const ReplayWindow = 1024

// replayWindow is the sliding bitmap of RFC 6479 (as in WireGuard): a ring
// of 64-bit blocks indexed by packet number / 64. It holds more blocks than
// the window needs, so sliding forward clears whole blocks at once. The
// zero value accepts every packet number.
type replayWindow struct {
	last uint64 // largest marked packet number
	ring [ringBlocks]uint64
}

const (
	ringBlocks = 32 // a power of two > ReplayWindow/64 + 1
	ringMask   = ringBlocks - 1
)

// check reports whether pn may be accepted, without recording it.
func (w *replayWindow) check(pn uint64) error {
	if pn > w.last {
		return nil
	}
	if w.last-pn >= ReplayWindow {
		return errReplayTooOld
	}
	if w.ring[(pn>>6)&ringMask]&(1<<(pn&63)) != 0 {
		return errReplayDuplicate
	}
	return nil
}

// mark records pn, which check accepted, sliding the window forward if pn is
// the new largest.
func (w *replayWindow) mark(pn uint64) {
	if pn > w.last {
		cur, blk := w.last>>6, pn>>6
		for i, d := uint64(1), min(blk-cur, ringBlocks); i <= d; i++ {
			w.ring[(cur+i)&ringMask] = 0
		}
		w.last = pn
	}
	w.ring[(pn>>6)&ringMask] |= 1 << (pn & 63)
}
