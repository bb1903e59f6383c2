package record

import (
	"bytes"
	"crypto/cipher"
	"encoding/binary"

	"github.com/flynn/noise"
)

// aead seals and opens records with the Noise transport cipher and an
// explicit nonce, without allocating: flynn/noise builds every nonce in a
// new slice, one allocation per record, a measurable part of the cost of a
// small record. It calls the cipher.AEAD inside the noise.Cipher with the
// nonce Noise specifies (32 zero bits, then the counter: big-endian for
// AESGCM, little-endian for ChaChaPoly), once it has checked that layout
// against the noise.Cipher itself; if neither layout matches (a cipher it
// does not know), it uses the noise.Cipher.
type aead struct {
	c     noise.Cipher
	a     cipher.AEAD // nil: use c
	be    bool        // the counter is big-endian (AESGCM)
	nonce [12]byte
}

// maxNonce is the last nonce a record may use. probeNonce, the one above
// it, only ever seals the discarded probe of newAEAD; the Noise rekey
// nonce, 2^64-1, is never used.
const (
	maxNonce   = noise.MaxNonce - 1
	probeNonce = noise.MaxNonce
)

// newAEAD takes cs's cipher, after which cs must not Encrypt or Decrypt.
func newAEAD(cs *noise.CipherState) *aead {
	x := &aead{c: cs.Cipher()}
	a, ok := x.c.(cipher.AEAD)
	if !ok || a.NonceSize() != len(x.nonce) || a.Overhead() != TagLen {
		return x
	}
	// The probe's two byte orders of probeNonce differ, and its output
	// never leaves this function.
	want := x.c.Encrypt(nil, probeNonce, nil, nil)
	for _, be := range [...]bool{true, false} {
		x.a, x.be = a, be
		if bytes.Equal(x.seal(nil, probeNonce, nil, nil), want) {
			return x
		}
	}
	x.a = nil
	return x
}

func (x *aead) setNonce(n uint64) []byte {
	if x.be {
		binary.BigEndian.PutUint64(x.nonce[4:], n)
	} else {
		binary.LittleEndian.PutUint64(x.nonce[4:], n)
	}
	return x.nonce[:]
}

// seal appends the ciphertext of plaintext under nonce n to out.
func (x *aead) seal(out []byte, n uint64, ad, plaintext []byte) []byte {
	if x.a == nil {
		return x.c.Encrypt(out, n, ad, plaintext)
	}
	return x.a.Seal(out, x.setNonce(n), plaintext, ad)
}

// open appends the plaintext of ciphertext under nonce n to out.
func (x *aead) open(out []byte, n uint64, ad, ciphertext []byte) ([]byte, error) {
	if x.a == nil {
		return x.c.Decrypt(out, n, ad, ciphertext)
	}
	return x.a.Open(out, x.setNonce(n), ciphertext, ad)
}
