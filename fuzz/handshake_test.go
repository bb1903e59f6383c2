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

// handshakeConfig returns a handshake Config with the identity key of seed
// 32×b, a fixed Noise static key (cheaper than a fresh one) and a
// deterministic random source, so that every State built from the same b
// sends the same messages.
func handshakeConfig(tb testing.TB, b byte) handshake.Config {
	key, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{b}, identity.SeedSize))
	if err != nil {
		tb.Fatal(err)
	}
	static, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{b + 0x40}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	var seed [32]byte
	seed[0] = b
	return handshake.Config{
		Identity:    key,
		NoiseStatic: noise.DHKey{Private: static.Bytes(), Public: static.PublicKey().Bytes()},
		Rand:        rand.NewChaCha8(seed),
	}
}

// newHandshakeState returns a deterministic initiator (b = 1) or responder
// (b = 2).
func newHandshakeState(tb testing.TB, initiator bool) *handshake.State {
	var s *handshake.State
	var err error
	if initiator {
		s, err = handshake.NewInitiator(handshakeConfig(tb, 1))
	} else {
		s, err = handshake.NewResponder(handshakeConfig(tb, 2))
	}
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// handshakeMessages runs the deterministic handshake and returns msg1,
// msg2 and msg3; the States the fuzz target builds accept them.
func handshakeMessages(tb testing.TB) [3][]byte {
	ini, res := newHandshakeState(tb, true), newHandshakeState(tb, false)
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
	ini = newHandshakeState(tb, true)
	if _, err := ini.Start(); err != nil {
		tb.Fatal(err)
	}
	if _, r, err := ini.Step(m[1]); err != nil || r == nil {
		tb.Fatal("captured msg2 rejected:", err)
	}
	res = newHandshakeState(tb, false)
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

func FuzzHandshakePayload(f *testing.F) {
	msgs := handshakeMessages(f)
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
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRoundTrip(t, "DecodeOffer", data, handshake.DecodeOffer)
		checkRoundTrip(t, "DecodeIdentity(msg3)", data, func(b []byte) ([]byte, error) { return handshake.DecodeIdentity(b, false) })
		checkRoundTrip(t, "DecodeIdentity(msg2)", data, func(b []byte) ([]byte, error) { return handshake.DecodeIdentity(b, true) })

		responder := newHandshakeState(t, false)
		out, res, err := responder.Step(data)
		checkStep(t, "responder at msg1", out, res, err)

		initiator := newHandshakeState(t, true)
		if _, err := initiator.Start(); err != nil {
			t.Fatal(err)
		}
		out, res, err = initiator.Step(data)
		checkStep(t, "initiator at msg2", out, res, err)
		if err == nil && (out == nil || res == nil) {
			t.Fatal("initiator accepted msg2 without producing msg3 and a Result")
		}

		responder = newHandshakeState(t, false)
		if _, _, err := responder.Step(msgs[0]); err != nil {
			t.Fatal(err)
		}
		out, res, err = responder.Step(data)
		checkStep(t, "responder at msg3", out, res, err)
	})
}
