package fuzz

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/flynn/noise"

	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
)

// handshakeKeys holds the identity and Noise static keys of the
// deterministic handshake sides 1 to 4, derived once per fuzz target:
// deriving a pair (an Ed25519 and an X25519 base-point multiplication) costs
// more than most handshake steps the targets fuzz; doing it per input took
// over half of FuzzAuthMessage's time.
type handshakeKeys [5]struct {
	id     identity.PrivateKey
	static noise.DHKey
}

// newHandshakeKeys derives side b's keys from seeds 32×b and 32×(b+0x40).
func newHandshakeKeys(tb testing.TB) *handshakeKeys {
	var k handshakeKeys
	for b := byte(1); b < byte(len(k)); b++ {
		key, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{b}, identity.SeedSize))
		if err != nil {
			tb.Fatal(err)
		}
		static, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{b + 0x40}, 32))
		if err != nil {
			tb.Fatal(err)
		}
		k[b].id = key
		k[b].static = noise.DHKey{Private: static.Bytes(), Public: static.PublicKey().Bytes()}
	}
	return &k
}

// config returns side b's handshake Config with a fresh deterministic
// random source, so that every State built from the same b sends the same
// messages. The keys are shared, which is safe: calls of a fuzz function
// within one process are sequential, and a Config is never modified.
func (k *handshakeKeys) config(b byte) handshake.Config {
	var seed [32]byte
	seed[0] = b
	return handshake.Config{Identity: k[b].id, NoiseStatic: k[b].static, Rand: rand.NewChaCha8(seed)}
}

// peer returns side b's peer ID.
func (k *handshakeKeys) peer(b byte) identity.PeerID {
	return identity.PeerIDFromPublicKey(k[b].id.Public())
}

// state returns a deterministic initiator (side 1) or responder (side 2).
func (k *handshakeKeys) state(tb testing.TB, initiator bool) *handshake.State {
	var s *handshake.State
	var err error
	if initiator {
		s, err = handshake.NewInitiator(k.config(1))
	} else {
		s, err = handshake.NewResponder(k.config(2))
	}
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// handshakeMessages runs the deterministic handshake and returns msg1,
// msg2 and msg3; the States the fuzz target builds accept them.
func handshakeMessages(tb testing.TB, k *handshakeKeys) [3][]byte {
	ini, res := k.state(tb, true), k.state(tb, false)
	var m [3][]byte
	var err error
	if m[0], err = ini.Start(); err != nil {
		tb.Fatal(err)
	}
	if m[1], _, err = res.Step(m[0]); err != nil {
		tb.Fatal(err)
	}
	if m[2], _, err = ini.Step(m[1]); err != nil {
		tb.Fatal(err)
	}
	if _, r, err := res.Step(m[2]); err != nil || r == nil {
		tb.Fatal("deterministic handshake failed:", err)
	}
	// Fresh States accept the captured msg2 and msg3, so the seeds reach
	// the payload decoders and signature checks behind the decryption.
	ini = k.state(tb, true)
	if _, err := ini.Start(); err != nil {
		tb.Fatal(err)
	}
	if _, r, err := ini.Step(m[1]); err != nil || r == nil {
		tb.Fatal("captured msg2 rejected:", err)
	}
	res = k.state(tb, false)
	if _, _, err := res.Step(m[0]); err != nil {
		tb.Fatal(err)
	}
	if _, r, err := res.Step(m[2]); err != nil || r == nil {
		tb.Fatal("captured msg3 rejected:", err)
	}
	return m
}

// handshakeErrors are the sentinels every Step error wraps.
var handshakeErrors = []error{
	handshake.ErrPeerMismatch, handshake.ErrInsecureMismatch, handshake.ErrNoCommonCipher,
	handshake.ErrBadSignature, handshake.ErrMalformed, handshake.ErrUnexpected,
}

// checkStep checks the results of one Step call.
func checkStep(t *testing.T, what string, out []byte, res *handshake.Result, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if out != nil || res != nil {
		t.Fatalf("%s: output together with error %v", what, err)
	}
	for _, sentinel := range handshakeErrors {
		if errors.Is(err, sentinel) {
			return
		}
	}
	t.Fatalf("%s: error %v wraps no sentinel", what, err)
}

// checkRoundTrip checks that a payload that decodes re-encodes to itself
// and decodes again.
func checkRoundTrip(t *testing.T, what string, data []byte, decode func([]byte) ([]byte, error)) {
	t.Helper()
	re, err := decode(data)
	if err != nil {
		if !errors.Is(err, handshake.ErrMalformed) {
			t.Fatalf("%s: error %v does not wrap ErrMalformed", what, err)
		}
		return
	}
	if !bytes.Equal(re, data) {
		t.Fatalf("%s: %x re-encodes as %x", what, data, re)
	}
	again, err := decode(re)
	if err != nil || !bytes.Equal(again, re) {
		t.Fatalf("%s: re-encoding %x decodes as %x, %v", what, re, again, err)
	}
}

// handshakePhases are the States FuzzHandshakePayload feeds its input to.
var handshakePhases = [...]string{"responder at msg1", "initiator at msg2", "responder at msg3"}

// FuzzHandshakePayload: the payload decoders accept only canonical
// encodings, and a State fed the input at the phase chosen by phase%3 fails
// only with the package's sentinels. One phase per input, not all three:
// each needs a fresh State and X25519 work (the responder at msg3 computes
// msg2 first), so feeding every input to all three made this target several
// times slower than the others, and the phase is just another input the
// fuzzer explores.
func FuzzHandshakePayload(f *testing.F) {
	keys := newHandshakeKeys(f)
	msgs := handshakeMessages(f, keys)
	key := bytes.Repeat([]byte{0x11}, identity.PublicKeySize)
	sig := bytes.Repeat([]byte{0x22}, identity.SignatureSize)
	hello := append(append([]byte{1}, key...), sig...)
	for _, seed := range [][]byte{
		msgs[0], msgs[1], msgs[2],
		msgs[0][32:],                          // the offer
		{1, 0x07, 0x03, 0x80, 0x80, 0x40},     // offer: every flag, 1 MiB
		hello,                                 // msg3 payload
		append(hello, 0x03, 0x00, 0x01),       // msg2 payload: plaintext decision
		append(hello, 0x01, 0x02, 0x80, 0x01), // msg2 payload: AESGCM, compression
		nil, {0}, {2, 0, 3, 1}, bytes.Repeat([]byte{0xff}, 100),
	} {
		for phase := range handshakePhases {
			f.Add(uint8(phase), seed)
		}
	}
	f.Fuzz(func(t *testing.T, phase uint8, data []byte) {
		checkRoundTrip(t, "DecodeOffer", data, handshake.DecodeOffer)
		checkRoundTrip(t, "DecodeIdentity(msg3)", data, func(b []byte) ([]byte, error) { return handshake.DecodeIdentity(b, false) })
		checkRoundTrip(t, "DecodeIdentity(msg2)", data, func(b []byte) ([]byte, error) { return handshake.DecodeIdentity(b, true) })

		p := int(phase) % len(handshakePhases)
		s := keys.state(t, p == 1)
		switch p {
		case 1:
			if _, err := s.Start(); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, _, err := s.Step(msgs[0]); err != nil {
				t.Fatal(err)
			}
		}
		out, res, err := s.Step(data)
		checkStep(t, handshakePhases[p], out, res, err)
		if p == 1 && err == nil && (out == nil || res == nil) {
			t.Fatal("initiator accepted msg2 without producing msg3 and a Result")
		}
	})
}
