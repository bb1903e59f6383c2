package handshake

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/flynn/noise"

	"github.com/weftnet/weft/identity"
)

// testKey returns the identity key with a seed of 32 copies of b.
func testKey(t testing.TB, b byte) identity.PrivateKey {
	t.Helper()
	k, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{b}, identity.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// peerOf returns the peer ID of k.
func peerOf(k identity.PrivateKey) identity.PeerID {
	return identity.PeerIDFromPublicKey(k.Public())
}

// aes forces the AES hardware answer of a Config.
func aes(has bool) func() bool { return func() bool { return has } }

// configs returns an initiator and a responder Config with distinct keys
// and forced AES hardware.
func configs(t testing.TB, aesI, aesR bool) (Config, Config) {
	return Config{Identity: testKey(t, 1), aesHardware: aes(aesI)},
		Config{Identity: testKey(t, 2), aesHardware: aes(aesR)}
}

// transcript holds the messages of one handshake and where it stopped.
type transcript struct {
	msgs       [][]byte // msg1, msg2, msg3 as far as they were produced
	ires, rres *Result
	ierr, rerr error
}

// err returns the first error of either side.
func (tr *transcript) err() error {
	if tr.rerr != nil {
		return tr.rerr
	}
	return tr.ierr
}

// run drives a handshake in memory; tamper, if set, may change message i
// (0-based) before it is delivered.
func run(t testing.TB, ic, rc Config, tamper func(i int, msg []byte) []byte) *transcript {
	t.Helper()
	ini, err := NewInitiator(ic)
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewResponder(rc)
	if err != nil {
		t.Fatal(err)
	}
	tr := &transcript{}
	deliver := func(msg []byte) []byte {
		tr.msgs = append(tr.msgs, bytes.Clone(msg))
		if tamper != nil {
			msg = tamper(len(tr.msgs)-1, msg)
		}
		return msg
	}
	msg1, err := ini.Start()
	if err != nil {
		t.Fatal(err)
	}
	var msg2, msg3 []byte
	if msg2, tr.rres, tr.rerr = res.Step(deliver(msg1)); tr.rerr != nil {
		return tr
	}
	if msg3, tr.ires, tr.ierr = ini.Step(deliver(msg2)); tr.ierr != nil {
		if msg3 != nil {
			t.Errorf("initiator failed with %v but returned msg3", tr.ierr)
		}
		return tr
	}
	_, tr.rres, tr.rerr = res.Step(deliver(msg3))
	return tr
}

// mustRun runs a handshake that must succeed and checks that the Results
// mirror each other.
func mustRun(t *testing.T, ic, rc Config) (ires, rres *Result) {
	t.Helper()
	tr := run(t, ic, rc, nil)
	if err := tr.err(); err != nil {
		t.Fatalf("handshake failed: %v", err)
	}
	ires, rres = tr.ires, tr.rres
	if ires == nil || rres == nil {
		t.Fatalf("missing Result: initiator %v, responder %v", ires, rres)
	}
	if ires.Peer != peerOf(rc.Identity) || rres.Peer != peerOf(ic.Identity) {
		t.Errorf("peers: initiator sees %s, responder sees %s", ires.Peer, rres.Peer)
	}
	if ires.Cipher != rres.Cipher || ires.Plaintext != rres.Plaintext || ires.Compression != rres.Compression {
		t.Errorf("sides disagree: initiator %+v, responder %+v", ires, rres)
	}
	if ires.SendKey != rres.RecvKey || ires.RecvKey != rres.SendKey {
		t.Error("keys do not mirror")
	}
	return ires, rres
}

// checkTransport encrypts records on each side and decrypts them on the
// other, through the CipherStates and through the raw keys with explicit
// nonces, and checks that the cipher is the decided one.
func checkTransport(t *testing.T, a, b *Result) {
	t.Helper()
	if a.SendKey == a.RecvKey {
		t.Error("both directions use the same key")
	}
	for _, dir := range []struct{ from, to *Result }{{a, b}, {b, a}} {
		for i := range 3 {
			msg, ad := fmt.Appendf(nil, "record %d", i), []byte("ad")
			ct, err := dir.from.Send.Encrypt(nil, ad, msg)
			if err != nil {
				t.Fatal(err)
			}
			pt, err := dir.to.Recv.Decrypt(nil, ad, ct)
			if err != nil || !bytes.Equal(pt, msg) {
				t.Fatalf("record %d: decrypt = %q, %v", i, pt, err)
			}
		}
		// The decided cipher and nothing else opens records (explicit nonce).
		seal := noise.UnsafeNewCipherState(a.Cipher.suite(), dir.from.SendKey, 0).Cipher()
		ct := seal.Encrypt(nil, 42, nil, []byte("datagram"))
		if pt, err := noise.UnsafeNewCipherState(a.Cipher.suite(), dir.to.RecvKey, 0).Cipher().Decrypt(nil, 42, nil, ct); err != nil || string(pt) != "datagram" {
			t.Fatalf("explicit nonce: %q, %v", pt, err)
		}
		other := ChaChaPoly
		if a.Cipher == ChaChaPoly {
			other = AESGCM
		}
		if _, err := noise.UnsafeNewCipherState(other.suite(), dir.to.RecvKey, 0).Cipher().Decrypt(nil, 42, nil, ct); err == nil {
			t.Fatalf("%v record opened with %v", a.Cipher, other)
		}
	}
}

func TestHandshake(t *testing.T) {
	ic, rc := configs(t, true, true)
	ic.MaxMessageBytes, rc.MaxMessageBytes = 1000, 0
	ires, rres := mustRun(t, ic, rc)
	if ires.PeerMaxMessageBytes != DefaultMaxMessageBytes || rres.PeerMaxMessageBytes != 1000 {
		t.Errorf("PeerMaxMessageBytes: initiator %d, responder %d", ires.PeerMaxMessageBytes, rres.PeerMaxMessageBytes)
	}
	if ires.Plaintext || ires.Compression || ires.Send == nil || ires.Recv == nil || rres.Send == nil {
		t.Errorf("unexpected result %+v", ires)
	}
	checkTransport(t, ires, rres)

	// The other direction: the former responder dials.
	ires, rres = mustRun(t, rc, ic)
	checkTransport(t, ires, rres)
}

func TestCipherChoice(t *testing.T) {
	both := []Cipher{ChaChaPoly, AESGCM}
	tests := []struct {
		name       string
		aesI, aesR bool
		ci, cr     []Cipher
		want       Cipher
	}{
		{"default/no-hw", false, false, nil, nil, ChaChaPoly},
		{"default/initiator-hw", true, false, nil, nil, ChaChaPoly},
		{"default/responder-hw", false, true, nil, nil, ChaChaPoly},
		{"default/both-hw", true, true, nil, nil, AESGCM},
		{"initiator-forbids-aes/both-hw", true, true, []Cipher{ChaChaPoly}, nil, ChaChaPoly},
		{"responder-forbids-aes/both-hw", true, true, nil, []Cipher{ChaChaPoly}, ChaChaPoly},
		{"aes-only/no-hw", false, false, []Cipher{AESGCM}, nil, AESGCM},
		{"aes-only-responder/no-hw", false, false, nil, []Cipher{AESGCM}, AESGCM},
		{"responder-prefers-chacha/both-hw", true, true, nil, both, ChaChaPoly},
		{"initiator-prefers-chacha/both-hw", true, true, both, nil, AESGCM},
		{"responder-prefers-aes/no-hw", false, false, nil, []Cipher{AESGCM, ChaChaPoly}, ChaChaPoly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic, rc := configs(t, tt.aesI, tt.aesR)
			ic.Ciphers, rc.Ciphers = tt.ci, tt.cr
			ires, rres := mustRun(t, ic, rc)
			if ires.Cipher != tt.want {
				t.Fatalf("cipher %v, want %v", ires.Cipher, tt.want)
			}
			checkTransport(t, ires, rres)
		})
	}
}

func TestNoCommonCipher(t *testing.T) {
	ic, rc := configs(t, true, true)
	ic.Ciphers, rc.Ciphers = []Cipher{AESGCM}, []Cipher{ChaChaPoly}
	tr := run(t, ic, rc, nil)
	if !errors.Is(tr.rerr, ErrNoCommonCipher) || len(tr.msgs) != 1 {
		t.Fatalf("responder error %v after %d messages, want ErrNoCommonCipher after msg1", tr.rerr, len(tr.msgs))
	}
}

func TestPlaintext(t *testing.T) {
	for _, hw := range []bool{false, true} {
		ic, rc := configs(t, hw, hw)
		ic.InsecurePlaintext, rc.InsecurePlaintext = true, true
		ires, rres := mustRun(t, ic, rc)
		for _, r := range []*Result{ires, rres} {
			if !r.Plaintext || r.Cipher != 0 || r.Send != nil || r.Recv != nil || r.SendKey != ([32]byte{}) || r.RecvKey != ([32]byte{}) {
				t.Errorf("plaintext result %+v", r)
			}
		}
	}
	for _, initiatorAsks := range []bool{true, false} {
		ic, rc := configs(t, true, true)
		ic.InsecurePlaintext, rc.InsecurePlaintext = initiatorAsks, !initiatorAsks
		tr := run(t, ic, rc, nil)
		if !errors.Is(tr.rerr, ErrInsecureMismatch) || len(tr.msgs) != 1 {
			t.Errorf("initiator plaintext %t: responder error %v after %d messages", initiatorAsks, tr.rerr, len(tr.msgs))
		}
	}
}

func TestCompression(t *testing.T) {
	for _, c := range []struct{ i, r, want bool }{{false, false, false}, {true, false, false}, {false, true, false}, {true, true, true}} {
		ic, rc := configs(t, false, false)
		ic.Compression, rc.Compression = c.i, c.r
		if ires, _ := mustRun(t, ic, rc); ires.Compression != c.want {
			t.Errorf("compression %t/%t: got %t", c.i, c.r, ires.Compression)
		}
	}
}

func TestExpect(t *testing.T) {
	ic, rc := configs(t, true, true)
	ic.Expect, rc.Expect = peerOf(rc.Identity), peerOf(ic.Identity)
	mustRun(t, ic, rc)

	wrong := peerOf(testKey(t, 3))
	ic.Expect = wrong
	tr := run(t, ic, rc, nil)
	var pm *PeerMismatchError
	if !errors.As(tr.ierr, &pm) || !errors.Is(tr.ierr, ErrPeerMismatch) {
		t.Fatalf("initiator error %v, want *PeerMismatchError", tr.ierr)
	}
	if pm.Want != wrong || pm.Got != peerOf(rc.Identity) {
		t.Errorf("mismatch Want %s Got %s", pm.Want, pm.Got)
	}
	if len(tr.msgs) != 2 || tr.rres != nil {
		t.Errorf("%d messages produced; msg3 must never be", len(tr.msgs))
	}

	ic.Expect, rc.Expect = identity.PeerID{}, wrong
	tr = run(t, ic, rc, nil)
	if !errors.As(tr.rerr, &pm) || pm.Got != peerOf(ic.Identity) {
		t.Fatalf("responder error %v, want *PeerMismatchError", tr.rerr)
	}
}

// stride is the step between byte positions that exhaustive tests try: every
// one, or every fifth in -short mode.
func stride(t *testing.T) int {
	if testing.Short() {
		return 5
	}
	return 1
}

func TestTamper(t *testing.T) {
	ic, rc := configs(t, true, true)
	ref := run(t, ic, rc, nil)
	if ref.err() != nil {
		t.Fatal(ref.err())
	}
	lens := []int{len(ref.msgs[0]), len(ref.msgs[1]), len(ref.msgs[2])}
	for msg := range 3 {
		for pos := 0; pos < lens[msg]; pos += stride(t) {
			tr := run(t, ic, rc, func(i int, m []byte) []byte {
				if i == msg {
					m = bytes.Clone(m)
					m[pos] ^= 0x01
				}
				return m
			})
			if tr.err() == nil {
				t.Fatalf("msg%d byte %d flipped: handshake succeeded", msg+1, pos)
			}
			if tr.ires != nil && tr.rres != nil {
				t.Fatalf("msg%d byte %d flipped: both sides completed", msg+1, pos)
			}
		}
	}
}

// rawResponder is a Noise responder without this package's checks, to send
// crafted msg2 payloads.
func rawResponder(t *testing.T, msg1 []byte) (*noise.HandshakeState, noise.DHKey) {
	t.Helper()
	static, err := noise.DH25519.GenerateKeypair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite: chachaSuite, Pattern: noise.HandshakeXX, Prologue: []byte(prologue), StaticKeypair: static,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := hs.ReadMessage(nil, msg1); err != nil {
		t.Fatal(err)
	}
	return hs, static
}

// signedHello builds an identity payload for key with a signature by
// signer over msg in domain.
func signedHello(t *testing.T, key, signer identity.PrivateKey, domain string, msg []byte) hello {
	t.Helper()
	sig, err := signer.Sign(domain, msg)
	if err != nil {
		t.Fatal(err)
	}
	h := hello{key: key.Public()}
	copy(h.sig[:], sig)
	return h
}

// craftedMsg2 sends msg2 with the payload made by mk (given the crafted
// responder's static key) to a fresh initiator for ic and returns the
// initiator's Step results.
func craftedMsg2(t *testing.T, ic Config, mk func(static []byte) hello) ([]byte, *Result, error) {
	t.Helper()
	ini, err := NewInitiator(ic)
	if err != nil {
		t.Fatal(err)
	}
	msg1, err := ini.Start()
	if err != nil {
		t.Fatal(err)
	}
	hs, static := rawResponder(t, msg1)
	msg2, _, _, err := hs.WriteMessage(nil, encodeHello(mk(static.Public)))
	if err != nil {
		t.Fatal(err)
	}
	return ini.Step(msg2)
}

// okDecision is a valid decision for an initiator with default settings.
var okDecision = decision{cipher: ChaChaPoly, maxMessageBytes: 100}

func TestBadSignatureMsg2(t *testing.T) {
	ic, _ := configs(t, false, false)
	k, other := testKey(t, 5), testKey(t, 6)
	tests := map[string]func(static []byte) hello{
		"other key":    func(s []byte) hello { return signedHello(t, k, other, signatureDomain, s) },
		"wrong domain": func(s []byte) hello { return signedHello(t, k, k, "weft-other", s) },
		"wrong static": func(s []byte) hello { return signedHello(t, k, k, signatureDomain, make([]byte, 32)) },
		"zero sig":     func(s []byte) hello { return hello{key: k.Public()} },
	}
	for name, mk := range tests {
		t.Run(name, func(t *testing.T) {
			out, res, err := craftedMsg2(t, ic, func(s []byte) hello {
				h := mk(s)
				h.hasDecision, h.decision = true, okDecision
				return h
			})
			if !errors.Is(err, ErrBadSignature) || out != nil || res != nil {
				t.Fatalf("Step = %d bytes, %v, %v; want ErrBadSignature", len(out), res, err)
			}
		})
	}
	// The same construction with a good signature succeeds.
	out, res, err := craftedMsg2(t, ic, func(s []byte) hello {
		h := signedHello(t, k, k, signatureDomain, s)
		h.hasDecision, h.decision = true, okDecision
		return h
	})
	if err != nil || out == nil || res == nil || res.Peer != peerOf(k) {
		t.Fatalf("good crafted msg2: %v", err)
	}
}

func TestBadDecision(t *testing.T) {
	k := testKey(t, 5)
	tests := []struct {
		name      string
		plaintext bool     // initiator InsecurePlaintext
		ciphers   []Cipher // initiator Ciphers
		d         decision
		want      error
	}{
		{"plaintext not asked", false, nil, decision{plaintext: true, maxMessageBytes: 1}, ErrInsecureMismatch},
		{"plaintext refused", true, nil, okDecision, ErrInsecureMismatch},
		{"compression not offered", false, nil, decision{cipher: ChaChaPoly, compression: true, maxMessageBytes: 1}, ErrMalformed},
		{"cipher not allowed", false, []Cipher{ChaChaPoly}, decision{cipher: AESGCM, maxMessageBytes: 1}, ErrNoCommonCipher},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ic, _ := configs(t, true, true)
			ic.InsecurePlaintext, ic.Ciphers = tt.plaintext, tt.ciphers
			out, _, err := craftedMsg2(t, ic, func(s []byte) hello {
				h := signedHello(t, k, k, signatureDomain, s)
				h.hasDecision, h.decision = true, tt.d
				return h
			})
			if !errors.Is(err, tt.want) || out != nil {
				t.Fatalf("Step = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBadSignatureMsg3(t *testing.T) {
	_, rc := configs(t, false, false)
	k := testKey(t, 5)
	tests := []struct {
		name   string
		signer identity.PrivateKey
		domain string
		want   error // nil: the crafted msg3 is accepted
	}{
		{"good", k, signatureDomain, nil},
		{"other key", testKey(t, 6), signatureDomain, ErrBadSignature},
		{"wrong domain", k, "weft-other", ErrBadSignature},
	}
	for _, tt := range tests {
		res, err := NewResponder(rc)
		if err != nil {
			t.Fatal(err)
		}
		static, _ := noise.DH25519.GenerateKeypair(rand.Reader)
		hs, _ := noise.NewHandshakeState(noise.Config{
			CipherSuite: chachaSuite, Pattern: noise.HandshakeXX, Initiator: true,
			Prologue: []byte(prologue), StaticKeypair: static,
		})
		msg1, _, _, _ := hs.WriteMessage(nil, encodeOffer(offer{ciphers: allCiphers, maxMessageBytes: 1}))
		msg2, _, err := res.Step(msg1)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := hs.ReadMessage(nil, msg2); err != nil {
			t.Fatal(err)
		}
		msg3, _, _, _ := hs.WriteMessage(nil, encodeHello(signedHello(t, k, tt.signer, tt.domain, static.Public)))
		_, r, err := res.Step(msg3)
		if tt.want == nil && (err != nil || r == nil || r.Peer != peerOf(k)) {
			t.Errorf("%s: Step(msg3) = %v, %v", tt.name, r, err)
		}
		if tt.want != nil && (!errors.Is(err, tt.want) || r != nil) {
			t.Errorf("%s: Step(msg3) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// expectDead checks that err wraps want and that the State keeps
// returning it.
func expectDead(t *testing.T, s *State, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	if _, _, again := s.Step(nil); again != err {
		t.Fatalf("Step after failure returned %v, want %v", again, err)
	}
	if _, again := s.Start(); again != err {
		t.Fatalf("Start after failure returned %v, want %v", again, err)
	}
}

func TestGarbage(t *testing.T) {
	ic, rc := configs(t, true, true)
	badOffers := [][]byte{nil, {2, 0, 3, 1}, {1, 0x80, 3, 1}, {1, 0, 0, 1}, {1, 0, 4, 1}, {1, 0, 3, 0}, {1, 0, 3, 0x81, 0}, {1, 0, 3, 1, 0}}
	// inputs derives bad inputs from the genuine message of a handshake.
	inputs := func(step int, genuine []byte) [][]byte {
		in := [][]byte{nil, {}, {1}, make([]byte, 31), make([]byte, MaxHandshakeMessageBytes+1), bytes.Repeat([]byte{0xff}, 300)}
		for n := 0; n < len(genuine); n += stride(t) {
			in = append(in, genuine[:n]) // truncations
		}
		in = append(in, append(bytes.Clone(genuine), 0)) // a trailing byte
		if step == 0 {
			for _, p := range badOffers { // a valid ephemeral key, a bad offer
				in = append(in, append(bytes.Clone(genuine[:32]), p...))
			}
		}
		return in
	}
	for step := range 3 {
		_, genuine := stateAt(t, ic, rc, step)
		for i := range inputs(step, genuine) {
			s, genuine := stateAt(t, ic, rc, step)
			out, res, err := s.Step(inputs(step, genuine)[i])
			if out != nil || res != nil {
				t.Fatalf("msg%d input %d: returned output", step+1, i)
			}
			expectDead(t, s, err, ErrMalformed)
		}
		s, genuine := stateAt(t, ic, rc, step)
		if _, _, err := s.Step(genuine); err != nil {
			t.Fatalf("msg%d: genuine message: %v", step+1, err)
		}
	}
}

// stateAt returns a State of a fresh handshake waiting for message step
// (0-based: a responder for msg1 and msg3, an initiator for msg2), and
// that message.
func stateAt(t *testing.T, ic, rc Config, step int) (*State, []byte) {
	t.Helper()
	ini, _ := NewInitiator(ic)
	res, _ := NewResponder(rc)
	msg1, _ := ini.Start()
	if step == 0 {
		return res, msg1
	}
	msg2, _, err := res.Step(msg1)
	if err != nil {
		t.Fatal(err)
	}
	if step == 1 {
		return ini, msg2
	}
	msg3, _, err := ini.Step(msg2)
	if err != nil {
		t.Fatal(err)
	}
	return res, msg3
}

func TestLowOrderEphemeral(t *testing.T) {
	ic, rc := configs(t, false, false)
	// msg1 with the all-zero point as the ephemeral key and a valid offer.
	res, _ := NewResponder(rc)
	_, genuine := stateAt(t, ic, rc, 0)
	out, _, err := res.Step(append(make([]byte, 32), genuine[32:]...))
	if out != nil {
		t.Fatal("responder answered a low-order ephemeral key")
	}
	expectDead(t, res, err, ErrMalformed)
	// msg2 with the all-zero point as the ephemeral key.
	ini, genuine := stateAt(t, ic, rc, 1)
	_, _, err = ini.Step(append(make([]byte, 32), genuine[32:]...))
	expectDead(t, ini, err, ErrMalformed)
}

func TestUnexpected(t *testing.T) {
	ic, rc := configs(t, false, false)
	res, _ := NewResponder(rc)
	_, err := res.Start()
	expectDead(t, res, err, ErrUnexpected)

	ini, _ := NewInitiator(ic)
	_, _, err = ini.Step([]byte("msg2"))
	expectDead(t, ini, err, ErrUnexpected)

	ini, _ = NewInitiator(ic)
	if _, err := ini.Start(); err != nil {
		t.Fatal(err)
	}
	_, err = ini.Start()
	expectDead(t, ini, err, ErrUnexpected)

	// A new message after completion.
	ini, _ = NewInitiator(ic)
	res, _ = NewResponder(rc)
	msg1, _ := ini.Start()
	msg2, _, _ := res.Step(msg1)
	msg3, _, _ := ini.Step(msg2)
	if _, r, err := res.Step(msg3); err != nil || r == nil {
		t.Fatal(err)
	}
	_, _, err = res.Step(msg1)
	expectDead(t, res, err, ErrUnexpected)
}

func TestRetransmit(t *testing.T) {
	ic, rc := configs(t, false, false)
	ini, _ := NewInitiator(ic)
	res, _ := NewResponder(rc)
	msg1, _ := ini.Start()
	msg2, _, err := res.Step(msg1)
	if err != nil {
		t.Fatal(err)
	}
	// msg2 lost: the initiator resends msg1.
	again, r, err := res.Step(msg1)
	if err != nil || r != nil || !bytes.Equal(again, msg2) {
		t.Fatalf("repeated msg1: %v, %v", r, err)
	}
	msg3, ires, err := ini.Step(msg2)
	if err != nil || ires == nil {
		t.Fatal(err)
	}
	// msg3 lost: the responder resends msg2, after the initiator finished.
	again, r, err = ini.Step(msg2)
	if err != nil || r != nil || !bytes.Equal(again, msg3) {
		t.Fatalf("repeated msg2: %v, %v", r, err)
	}
	_, rres, err := res.Step(msg3)
	if err != nil || rres == nil {
		t.Fatal(err)
	}
	if out, r, err := res.Step(msg3); out != nil || r != nil || err != nil {
		t.Fatalf("repeated msg3: %v, %v, %v", out, r, err)
	}
	checkTransport(t, ires, rres)
}

// badConfigs are configs every constructor must reject.
func badConfigs(t *testing.T) map[string]Config {
	k := testKey(t, 1)
	static, _ := noise.DH25519.GenerateKeypair(rand.Reader)
	return map[string]Config{
		"no identity":      {},
		"negative max":     {Identity: k, MaxMessageBytes: -1},
		"huge max":         {Identity: k, MaxMessageBytes: MaxMessageBytesLimit + 1},
		"empty ciphers":    {Identity: k, Ciphers: []Cipher{}},
		"unknown cipher":   {Identity: k, Ciphers: []Cipher{3}},
		"duplicate cipher": {Identity: k, Ciphers: []Cipher{AESGCM, AESGCM}},
		"static no public": {Identity: k, NoiseStatic: noise.DHKey{Private: static.Private}},
		"static short":     {Identity: k, NoiseStatic: noise.DHKey{Private: static.Private[:31], Public: static.Public}},
	}
}

func TestConfig(t *testing.T) {
	for name, c := range badConfigs(t) {
		if _, err := NewInitiator(c); err == nil {
			t.Errorf("%s: NewInitiator accepted it", name)
		}
		if _, err := NewResponder(c); err == nil {
			t.Errorf("%s: NewResponder accepted it", name)
		}
	}
	// A configured static key is the one the peer sees.
	static, _ := noise.DH25519.GenerateKeypair(rand.Reader)
	ic, _ := configs(t, false, false)
	ic.NoiseStatic = static
	ini, _ := NewInitiator(ic)
	msg1, _ := ini.Start()
	hs, rs := rawResponder(t, msg1)
	k2 := testKey(t, 2)
	h := signedHello(t, k2, k2, signatureDomain, rs.Public)
	h.hasDecision, h.decision = true, okDecision
	msg2, _, _, _ := hs.WriteMessage(nil, encodeHello(h))
	msg3, _, err := ini.Step(msg2)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := hs.ReadMessage(nil, msg3); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hs.PeerStatic(), static.Public) {
		t.Error("the peer did not see the configured static key")
	}
}

// failingReader fails every read.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestRandFailure(t *testing.T) {
	ic, _ := configs(t, false, false)
	ic.Rand = failingReader{}
	if _, err := NewInitiator(ic); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("NewInitiator = %v", err)
	}
	ic.NoiseStatic, _ = noise.DH25519.GenerateKeypair(rand.Reader)
	ini, err := NewInitiator(ic)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ini.Start(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Start = %v", err)
	}
}

func TestCipherString(t *testing.T) {
	for c, want := range map[Cipher]string{0: "none", ChaChaPoly: "ChaChaPoly", AESGCM: "AESGCM", 9: "Cipher(9)"} {
		if c.String() != want {
			t.Errorf("%d: %q", c, c.String())
		}
	}
	if s := allCiphers.String(); s != "[ChaChaPoly AESGCM]" {
		t.Errorf("cipherSet %q", s)
	}
}

func BenchmarkHandshake(b *testing.B) {
	ic, rc := Config{Identity: testKey(b, 1)}, Config{Identity: testKey(b, 2)}
	b.ReportAllocs()
	for b.Loop() {
		ini, _ := NewInitiator(ic)
		res, _ := NewResponder(rc)
		msg1, _ := ini.Start()
		msg2, _, _ := res.Step(msg1)
		msg3, ires, _ := ini.Step(msg2)
		_, rres, err := res.Step(msg3)
		if err != nil || ires == nil || rres == nil {
			b.Fatal("handshake failed", err)
		}
	}
}

func BenchmarkSealOpen64KiB(b *testing.B) {
	for _, c := range []struct {
		name   string
		cipher Cipher
	}{{"chacha", ChaChaPoly}, {"aesgcm", AESGCM}} {
		b.Run(c.name, func(b *testing.B) {
			var key [32]byte
			rand.Read(key[:])
			send := noise.UnsafeNewCipherState(c.cipher.suite(), key, 0)
			recv := noise.UnsafeNewCipherState(c.cipher.suite(), key, 0)
			msg := make([]byte, 64<<10)
			ct := make([]byte, 0, len(msg)+16)
			pt := make([]byte, 0, len(msg))
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				var err error
				ct, err = send.Encrypt(ct[:0], nil, msg)
				if err != nil {
					b.Fatal(err)
				}
				if pt, err = recv.Decrypt(pt[:0], nil, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
