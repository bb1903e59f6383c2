package record

import (
	"slices"

	"github.com/klauspost/compress/s2"
)

// Plaintext header bits: the first byte of every record plaintext.
const (
	// HdrCompressed marks a body compressed with S2 (block format).
	HdrCompressed = 0x01
)

// Compress appends the S2 block encoding of body to dst. It reports false,
// and returns dst unchanged, when the encoding is not smaller than body: the
// caller then sends body as it is. body must not overlap dst's spare
// capacity.
func Compress(dst, body []byte) ([]byte, bool) {
	bound := s2.MaxEncodedLen(len(body))
	if bound < 0 {
		return dst, false
	}
	n := len(dst)
	dst = slices.Grow(dst, bound)
	enc := s2.Encode(dst[n:n+bound], body)
	if len(enc) >= len(body) {
		return dst[:n], false
	}
	return dst[:n+len(enc)], true
}

// Decompress appends the decoding of the S2 block comp to dst. It reads the
// declared decoded length first and rejects it, before allocating or
// decoding, if it exceeds limit; that error wraps ErrTooLarge and
// ErrMalformed. Corrupt input wraps ErrMalformed. comp must not overlap
// dst's spare capacity.
func Decompress(dst, comp []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(comp)
	if err != nil {
		return dst, malformed("compressed body: %v", err)
	}
	if n > limit {
		return dst, malformedTooLarge("compressed body declares %d bytes, limit %d", n, limit)
	}
	l := len(dst)
	dst = slices.Grow(dst, n)
	out, err := s2.Decode(dst[l:l+n], comp)
	if err != nil {
		return dst[:l], malformed("compressed body: %v", err)
	}
	if len(out) != n { // s2 guarantees it; keep the aliasing assumption honest
		return dst[:l], malformed("compressed body decoded to %d bytes, declared %d", len(out), n)
	}
	return dst[:l+n], nil
}

// AppendPlaintext appends a record plaintext for f to dst: the header byte,
// then the body (AppendFrame), S2-compressed when compress is set and that
// makes it smaller. The plaintext is never longer than 1+len(body), so
// Frame.Overhead and MaxOverhead hold with or without compression. scratch
// holds the uncompressed body while compressing; it is reused across calls,
// must not alias dst, and a nil *[]byte disables compression.
func AppendPlaintext(dst []byte, f *Frame, compress bool, scratch *[]byte) []byte {
	if !compress || scratch == nil {
		dst = append(dst, 0)
		return AppendFrame(dst, f)
	}
	body := AppendFrame((*scratch)[:0], f)
	*scratch = body
	hdr := len(dst)
	dst = append(dst, HdrCompressed)
	dst, ok := Compress(dst, body)
	if !ok {
		dst[hdr] = 0
		dst = append(dst, body...)
	}
	return dst
}

// OpenPlaintext checks the header byte of a record plaintext and returns the
// body for ParseFrame: a sub-slice of pt, or, if compressed, the decoding in
// *scratch (reused across calls; its capacity grows to the largest body
// seen; a nil scratch allocates). A compressed body declaring more than limit bytes is rejected before
// it is decoded. Errors wrap ErrMalformed.
func OpenPlaintext(pt []byte, limit int, scratch *[]byte) (body []byte, err error) {
	if len(pt) == 0 {
		return nil, malformed("empty record plaintext")
	}
	hdr := pt[0]
	if hdr&^HdrCompressed != 0 {
		return nil, malformed("reserved bits set in plaintext header 0x%02x", hdr)
	}
	if hdr&HdrCompressed == 0 {
		return pt[1:], nil
	}
	var buf []byte
	if scratch != nil {
		buf = (*scratch)[:0]
	}
	body, err = Decompress(buf, pt[1:], limit)
	if err != nil {
		return nil, err
	}
	if scratch != nil {
		*scratch = body
	}
	return body, nil
}
