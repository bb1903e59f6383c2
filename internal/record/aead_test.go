package record

import (
	"bytes"
	"testing"

	"github.com/flynn/noise"
)

// TestAEADMatchesNoise: the allocation-free path is taken for both Noise
// ciphers and seals exactly what flynn/noise seals, nonce for nonce.
func TestAEADMatchesNoise(t *testing.T) {
	for _, fn := range []noise.CipherFunc{noise.CipherAESGCM, noise.CipherChaChaPoly} {
		send, ref := cipherPair(t, fn)
		x := newAEAD(send)
		if x.a == nil {
			t.Fatalf("%s: fell back to the noise.Cipher", fn.CipherName())
		}
		pt := []byte("a record's plaintext")
		for _, n := range []uint64{0, 1, 255, 256, 1 << 32, maxNonce} {
			ref.SetNonce(n)
			want, err := ref.Encrypt(nil, []byte("ad"), pt)
			if err != nil {
				t.Fatal(err)
			}
			got := x.seal(nil, n, []byte("ad"), pt)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: nonce %d: sealed bytes differ from flynn/noise's", fn.CipherName(), n)
			}
			back, err := x.open(nil, n, []byte("ad"), got)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("%s: nonce %d: open: %q, %v", fn.CipherName(), n, back, err)
			}
			if _, err := x.open(nil, n+1, []byte("ad"), got); err == nil {
				t.Fatalf("%s: opened under the wrong nonce", fn.CipherName())
			}
		}
	}
}

// opaqueCipher hides the cipher.AEAD inside a noise.Cipher.
type opaqueCipher struct{ c noise.Cipher }

func (o opaqueCipher) Encrypt(out []byte, n uint64, ad, pt []byte) []byte {
	return o.c.Encrypt(out, n, ad, pt)
}

func (o opaqueCipher) Decrypt(out []byte, n uint64, ad, ct []byte) ([]byte, error) {
	return o.c.Decrypt(out, n, ad, ct)
}

type opaqueFunc struct{ noise.CipherFunc }

func (f opaqueFunc) Cipher(k [32]byte) noise.Cipher { return opaqueCipher{f.CipherFunc.Cipher(k)} }

// TestAEADFallback: a cipher whose AEAD is not reachable still works,
// through its noise.Cipher.
func TestAEADFallback(t *testing.T) {
	send, recv := cipherPair(t, opaqueFunc{noise.CipherAESGCM})
	s, o := NewStreamSealer(send), NewStreamOpener(recv)
	if s.x.a != nil {
		t.Fatal("found an AEAD behind an opaque cipher")
	}
	wire, err := s.Seal(nil, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := o.Feed(wire, func(pt []byte) error { got = append(got, pt...); return nil }); err != nil || string(got) != "hello" {
		t.Fatalf("got %q, %v", got, err)
	}
}
