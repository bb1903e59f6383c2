package record

import (
	"encoding/binary"
	"fmt"

	"github.com/flynn/noise"
)

// Record size limits, shared by both modes.
const (
	// TagLen is the AEAD tag length of every Noise cipher.
	TagLen = 16
	// MaxCiphertext is the largest ciphertext of one record (the Noise
	// message limit, and the largest uint16 length prefix).
	MaxCiphertext = 65535
	// MaxPlaintext is the largest record plaintext, in every mode (including
	// plaintext mode, so that both modes fit the same frames).
	MaxPlaintext = MaxCiphertext - TagLen
	// StreamHeaderLen is the length prefix of a stream record.
	StreamHeaderLen = 2
	// MaxStreamRecord is the largest stream record on the wire, and the most
	// a StreamOpener ever buffers.
	MaxStreamRecord = StreamHeaderLen + MaxCiphertext
)

// StreamSealer seals records for a byte stream: each record is a uint16
// big-endian ciphertext length followed by the ciphertext, encrypted with
// the Noise cipher under the nonce counter a CipherState keeps (its
// Encrypt's nonce). Not safe for concurrent use.
type StreamSealer struct {
	x *aead  // nil: plaintext mode
	n uint64 // the next record's nonce
}

// NewStreamSealer returns a sealer that encrypts with cs, the sending
// CipherState of a finished Noise handshake, from cs's nonce on. It takes
// cs.Cipher(), after which cs itself must not Encrypt. A nil cs selects
// plaintext mode (InsecurePlaintext): same framing, ciphertext =
// plaintext.
func NewStreamSealer(cs *noise.CipherState) *StreamSealer {
	if cs == nil {
		return &StreamSealer{}
	}
	n := cs.Nonce()
	return &StreamSealer{x: newAEAD(cs), n: n}
}

// Seal appends the stream record for plaintext to dst. plaintext is at most
// MaxPlaintext bytes (else the error wraps ErrTooLarge). To seal in place,
// place plaintext at dst[len(dst)+StreamHeaderLen:], in dst's spare capacity,
// with TagLen more bytes of capacity behind it; otherwise plaintext must not
// overlap dst's spare capacity. On error dst is returned unchanged.
func (s *StreamSealer) Seal(dst, plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxPlaintext {
		return dst, tooLarge("record plaintext of %d bytes exceeds %d", len(plaintext), MaxPlaintext)
	}
	if s.x == nil {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(plaintext)))
		return append(dst, plaintext...), nil
	}
	if s.n > maxNonce {
		return dst, fmt.Errorf("record: seal: %w", noise.ErrMaxNonce)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(plaintext)+TagLen))
	s.n++
	return s.x.seal(dst, s.n-1, nil, plaintext), nil
}

// StreamOpener parses and opens stream records from arbitrary chunks of the
// stream: a record may be split across chunks and a chunk may hold many
// records. It buffers at most one partial record (MaxStreamRecord bytes).
// Not safe for concurrent use.
//
// After any error the opener is dead: Feed returns the same error forever.
// A record that fails authentication (tampered, replayed, reordered, or one
// before it was dropped) yields ErrAuth.
type StreamOpener struct {
	// Into, if set, is asked before each keyed record is decrypted, with
	// its plaintext length n: it may return an empty slice with room for n
	// bytes, and the record is decrypted there (fn then gets that slice)
	// instead of into the opener's scratch buffer. nil: the scratch buffer.
	// A record that fails authentication may leave bytes there.
	Into func(n int) []byte

	x    *aead  // nil: plaintext mode
	n    uint64 // the next record's nonce
	hdr  [StreamHeaderLen]byte
	nhdr int    // length-prefix bytes of the partial record held in hdr
	need int    // ciphertext length of the partial record, once nhdr == 2
	buf  []byte // partial ciphertext; otherwise scratch for decryption
	err  error
}

// NewStreamOpener returns an opener that decrypts with cs, the receiving
// CipherState of a finished Noise handshake, or a plaintext-mode opener if
// cs is nil. It takes cs.Cipher(), after which cs itself must not Decrypt.
func NewStreamOpener(cs *noise.CipherState) *StreamOpener {
	if cs == nil {
		return &StreamOpener{}
	}
	n := cs.Nonce()
	return &StreamOpener{x: newAEAD(cs), n: n}
}

// Feed consumes all of in and calls fn once per complete record, in order,
// with its plaintext. The plaintext is valid only until fn returns (it
// aliases in or the opener's buffer); fn must copy what it keeps. If fn
// returns an error, Feed stops and returns it, and the opener is dead.
func (o *StreamOpener) Feed(in []byte, fn func(plaintext []byte) error) error {
	if o.err != nil {
		return o.err
	}
	if err := o.feed(in, fn); err != nil {
		o.err = err
		o.buf, o.nhdr, o.need = nil, 0, 0
		return err
	}
	return nil
}

func (o *StreamOpener) feed(in []byte, fn func([]byte) error) error {
	for len(in) > 0 {
		if o.nhdr == 0 && len(in) >= StreamHeaderLen {
			n := int(binary.BigEndian.Uint16(in))
			if err := o.checkLen(n); err != nil {
				return err
			}
			if end := StreamHeaderLen + n; len(in) >= end {
				// The whole record is in the chunk: open it without copying.
				pt, err := o.openChunk(in[StreamHeaderLen:end])
				if err != nil {
					return err
				}
				in = in[end:]
				if err := fn(pt); err != nil {
					return err
				}
				continue
			}
		}
		var done bool
		var err error
		if in, done, err = o.fill(in); err != nil || !done {
			return err
		}
		dst := o.buf[:0] // in place
		if into := o.into(len(o.buf)); into != nil {
			dst = into
		}
		pt, err := o.open(dst, o.buf)
		o.nhdr, o.need = 0, 0
		if err != nil {
			return err
		}
		if err := fn(pt); err != nil {
			return err
		}
		o.buf = o.buf[:0]
	}
	return nil
}

// fill moves bytes of in into the partial record and reports whether the
// record is complete. When it is not, all of in was consumed.
func (o *StreamOpener) fill(in []byte) (rest []byte, done bool, err error) {
	for o.nhdr < StreamHeaderLen && len(in) > 0 {
		o.hdr[o.nhdr] = in[0]
		o.nhdr++
		in = in[1:]
		if o.nhdr == StreamHeaderLen {
			o.need = int(binary.BigEndian.Uint16(o.hdr[:]))
			if err := o.checkLen(o.need); err != nil {
				return nil, false, err
			}
			o.buf = o.scratch(o.need)
		}
	}
	if o.nhdr < StreamHeaderLen {
		return in, false, nil
	}
	k := min(o.need-len(o.buf), len(in))
	o.buf = append(o.buf, in[:k]...)
	return in[k:], len(o.buf) == o.need, nil
}

// checkLen validates a record's declared ciphertext length.
func (o *StreamOpener) checkLen(n int) error {
	if o.x != nil && n < TagLen {
		return malformed("stream record of %d bytes is shorter than the %d-byte tag", n, TagLen)
	}
	if o.x == nil && n > MaxPlaintext {
		return malformedTooLarge("plaintext stream record of %d bytes exceeds %d", n, MaxPlaintext)
	}
	return nil
}

// scratch returns o.buf emptied with capacity for n bytes. Growth doubles up
// to MaxCiphertext, so the buffer settles after a few large records.
func (o *StreamOpener) scratch(n int) []byte {
	if cap(o.buf) < n {
		o.buf = make([]byte, 0, min(max(n, 2*cap(o.buf), 512), MaxCiphertext))
	}
	return o.buf[:0]
}

// openChunk opens a record that lies in the caller's chunk, decrypting into
// the opener's scratch buffer.
func (o *StreamOpener) openChunk(ciphertext []byte) ([]byte, error) {
	if o.x == nil {
		return ciphertext, nil
	}
	if into := o.into(len(ciphertext)); into != nil {
		return o.open(into, ciphertext)
	}
	return o.open(o.scratch(len(ciphertext)-TagLen), ciphertext)
}

// into returns Into's destination for a keyed record of n ciphertext bytes,
// if it offers one with room for the plaintext.
func (o *StreamOpener) into(n int) []byte {
	if o.Into == nil || o.x == nil {
		return nil
	}
	if dst := o.Into(n - TagLen); cap(dst) >= n-TagLen {
		return dst[:0]
	}
	return nil
}

// open returns the plaintext of ciphertext, appended to dst when keyed, and
// ciphertext itself in plaintext mode.
func (o *StreamOpener) open(dst, ciphertext []byte) ([]byte, error) {
	if o.x == nil {
		return ciphertext, nil
	}
	if o.n > maxNonce {
		return nil, fmt.Errorf("record: open: %w", noise.ErrMaxNonce)
	}
	pt, err := o.x.open(dst, o.n, nil, ciphertext)
	if err != nil {
		return nil, ErrAuth
	}
	o.n++
	return pt, nil
}

// Buffered returns the number of bytes of a partial record held by the
// opener, at most MaxStreamRecord-1.
func (o *StreamOpener) Buffered() int {
	if o.nhdr == 0 {
		return 0
	}
	return o.nhdr + len(o.buf)
}

// Err returns the error that killed the opener, or nil.
func (o *StreamOpener) Err() error { return o.err }
