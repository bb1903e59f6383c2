package handshake

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/weftnet/weft/identity"
)

// authPair is one authenticated handshake: transport identities ti and tr,
// endpoint configs ic and rc.
type authPair struct {
	ti, tr identity.PeerID
	ic, rc Config
}

// runAuth drives the exchange; tamper may change message i before it is
// delivered. It returns both results and the first error.
func runAuth(t *testing.T, p authPair, tamper func(i int, m []byte) []byte) (ires, rres *Result, err error) {
	t.Helper()
	ini, err := NewAuthInitiator(p.ic, p.ti, p.tr)
	if err != nil {
		t.Fatal(err)
	}
	rsp, err := NewAuthResponder(p.rc, p.tr, p.ti)
	if err != nil {
		t.Fatal(err)
	}
	if tamper == nil {
		tamper = func(_ int, m []byte) []byte { return m }
	}
	m1, err := ini.Start()
	if err != nil {
		return nil, nil, err
	}
	m2, rres, err := rsp.Step(tamper(0, m1))
	if err != nil {
		return nil, nil, err
	}
	out, ires, err := ini.Step(tamper(1, m2))
	if err != nil {
		return nil, rres, err
	}
	if out != nil {
		t.Errorf("initiator's Step(m2) returned a %d-byte message; want none", len(out))
	}
	return ires, rres, nil
}

func TestAuthSameIdentity(t *testing.T) {
	ki, kr := testKey(t, 1), testKey(t, 2)
	p := authPair{ti: peerOf(ki), tr: peerOf(kr), ic: Config{Identity: ki, Compression: true}, rc: Config{Identity: kr, Compression: true, MaxMessageBytes: 4096}}
	ires, rres, err := runAuth(t, p, func(i int, m []byte) []byte {
		if m[1]&authIdentity != 0 {
			t.Errorf("message %d carries an identity although it is the transport's", i+1)
		}
		if len(m) > 8 {
			t.Errorf("message %d is %d bytes; want a few", i+1, len(m))
		}
		return m
	})
	if err != nil {
		t.Fatal(err)
	}
	if ires.Peer != p.tr || rres.Peer != p.ti {
		t.Errorf("peers %s, %s; want the transport identities %s, %s", ires.Peer, rres.Peer, p.tr, p.ti)
	}
	if !ires.Compression || !rres.Compression {
		t.Error("compression off although both offered it")
	}
	if ires.PeerMaxMessageBytes != 4096 || rres.PeerMaxMessageBytes != DefaultMaxMessageBytes {
		t.Errorf("peer limits %d, %d; want 4096, %d", ires.PeerMaxMessageBytes, rres.PeerMaxMessageBytes, DefaultMaxMessageBytes)
	}
	if ires.Send != nil || ires.Recv != nil || ires.Cipher != 0 {
		t.Error("the authenticated handshake returned record ciphers")
	}
}

func TestAuthOtherIdentity(t *testing.T) {
	transport := peerOf(testKey(t, 9)) // one transport under both endpoints
	ki, kr := testKey(t, 1), testKey(t, 2)
	p := authPair{ti: transport, tr: transport, ic: Config{Identity: ki, Expect: peerOf(kr)}, rc: Config{Identity: kr}}
	ires, rres, err := runAuth(t, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ires.Peer != peerOf(kr) || rres.Peer != peerOf(ki) {
		t.Errorf("peers %s, %s; want the endpoint identities %s, %s", ires.Peer, rres.Peer, peerOf(kr), peerOf(ki))
	}
}

func TestAuthExpect(t *testing.T) {
	ki, kr, other := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	for _, sameKey := range []bool{true, false} {
		p := authPair{ti: peerOf(ki), tr: peerOf(kr), ic: Config{Identity: ki, Expect: peerOf(other)}, rc: Config{Identity: kr}}
		if !sameKey {
			p.tr = peerOf(testKey(t, 8))
		}
		_, _, err := runAuth(t, p, nil)
		var pm *PeerMismatchError
		if !errors.As(err, &pm) || pm.Want != peerOf(other) || pm.Got != peerOf(kr) {
			t.Errorf("sameKey=%t: %v; want a PeerMismatchError{Want: %s, Got: %s}", sameKey, err, peerOf(other), peerOf(kr))
		}
	}
}

func TestAuthPlaintextMismatch(t *testing.T) {
	ki, kr := testKey(t, 1), testKey(t, 2)
	for _, c := range []struct{ i, r bool }{{true, false}, {false, true}} {
		p := authPair{ti: peerOf(ki), tr: peerOf(kr), ic: Config{Identity: ki, InsecurePlaintext: c.i}, rc: Config{Identity: kr, InsecurePlaintext: c.r}}
		if _, _, err := runAuth(t, p, nil); !errors.Is(err, ErrInsecureMismatch) {
			t.Errorf("InsecurePlaintext %t/%t: %v; want ErrInsecureMismatch", c.i, c.r, err)
		}
	}
	p := authPair{ti: peerOf(ki), tr: peerOf(kr), ic: Config{Identity: ki, InsecurePlaintext: true}, rc: Config{Identity: kr, InsecurePlaintext: true}}
	ires, _, err := runAuth(t, p, nil)
	if err != nil || !ires.Plaintext {
		t.Errorf("both plaintext: %v, %+v", err, ires)
	}
}

// TestAuthForgery: a proof that does not verify for this connection (a
// signature for other transport peers, a flipped bit, a reflected proof)
// fails with ErrBadSignature; a redundant identity is malformed.
func TestAuthForgery(t *testing.T) {
	ki, kr := testKey(t, 1), testKey(t, 2)
	ti, tr := peerOf(testKey(t, 8)), peerOf(testKey(t, 9))
	base := authPair{ti: ti, tr: tr, ic: Config{Identity: ki}, rc: Config{Identity: kr}}
	sigAt := 2 + 3 + identity.PublicKeySize // version, flags, 3-byte size, key
	cases := []struct {
		name   string
		p      authPair
		tamper func(i int, m []byte) []byte
		want   error
	}{
		{"flipped signature bit in m1", base, flipAt(0, sigAt+5), ErrBadSignature},
		{"flipped signature bit in m2", base, flipAt(1, sigAt+5), ErrBadSignature},
		{"proof made for other transport peers", base, func(i int, m []byte) []byte {
			if i != 0 {
				return m
			}
			forged, err := NewAuthInitiator(Config{Identity: ki}, peerOf(testKey(t, 7)), tr)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := forged.Start()
			return out
		}, ErrBadSignature},
		{"identity equal to the transport's", base, func(i int, m []byte) []byte {
			if i != 0 {
				return m
			}
			return encodeAuth(authMsg{maxMessageBytes: DefaultMaxMessageBytes, hasIdentity: true, key: testKey(t, 8).Public()})
		}, ErrMalformed},
	}
	for _, c := range cases {
		if _, _, err := runAuth(t, c.p, c.tamper); !errors.Is(err, c.want) {
			t.Errorf("%s: %v; want %v", c.name, err, c.want)
		}
	}
	// Reflection: the initiator's own m1 fed back to it as m2 must not
	// verify, even when both ends share one transport identity.
	ini, err := NewAuthInitiator(Config{Identity: ki}, ti, ti)
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := ini.Start()
	if _, _, err := ini.Step(m1); !errors.Is(err, ErrBadSignature) {
		t.Errorf("m1 reflected as m2: %v; want ErrBadSignature", err)
	}
}

func flipAt(msg, at int) func(int, []byte) []byte {
	return func(i int, m []byte) []byte {
		if i == msg && at < len(m) {
			m = bytes.Clone(m)
			m[at] ^= 0x04
		}
		return m
	}
}

func TestAuthDecode(t *testing.T) {
	good := encodeAuth(authMsg{compression: true, maxMessageBytes: 300, hasIdentity: true, key: testKey(t, 1).Public()})
	if out, err := DecodeAuthMessage(good); err != nil || !bytes.Equal(out, good) {
		t.Fatalf("DecodeAuthMessage(good) = %x, %v", out, err)
	}
	bad := map[string][]byte{
		"empty":                    {},
		"Noise version":            {1, 0, 1},
		"unknown flag":             {authVersion, 0x08, 1},
		"size zero":                {authVersion, 0, 0},
		"size non-minimal":         {authVersion, 0, 0x81, 0x00},
		"size above limit":         append([]byte{authVersion, 0}, 0x81, 0x80, 0x80, 0x80, 0x04),
		"truncated key":            good[:len(good)-1],
		"trailing byte":            append(bytes.Clone(good), 0),
		"no identity but trailing": append([]byte{authVersion, 0, 1}, make([]byte, 96)...),
	}
	for name, b := range bad {
		if _, err := DecodeAuthMessage(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v; want ErrMalformed", name, err)
		}
	}
}

func TestAuthRetransmitAndUnexpected(t *testing.T) {
	ki, kr := testKey(t, 1), testKey(t, 2)
	ini, _ := NewAuthInitiator(Config{Identity: ki}, peerOf(ki), peerOf(kr))
	rsp, _ := NewAuthResponder(Config{Identity: kr}, peerOf(kr), peerOf(ki))
	if _, _, err := ini.Step([]byte{authVersion, 0, 1}); !errors.Is(err, ErrUnexpected) {
		t.Errorf("Step before Start: %v; want ErrUnexpected", err)
	}
	ini, _ = NewAuthInitiator(Config{Identity: ki}, peerOf(ki), peerOf(kr))
	if _, err := rsp.Start(); !errors.Is(err, ErrUnexpected) {
		t.Errorf("Start on a responder: %v; want ErrUnexpected", err)
	}
	rsp, _ = NewAuthResponder(Config{Identity: kr}, peerOf(kr), peerOf(ki))
	m1, _ := ini.Start()
	m2, _, err := rsp.Step(m1)
	if err != nil {
		t.Fatal(err)
	}
	again, res, err := rsp.Step(m1)
	if err != nil || res != nil || !bytes.Equal(again, m2) {
		t.Errorf("retransmitted m1: %x, %v, %v; want m2 again, no Result", again, res, err)
	}
	if _, _, err := rsp.Step(append(bytes.Clone(m1), 0)); !errors.Is(err, ErrUnexpected) {
		t.Errorf("another message after completion: %v; want ErrUnexpected", err)
	}
	if _, _, err := rsp.Step(m1); !errors.Is(err, ErrUnexpected) {
		t.Errorf("after an error the state stays dead: %v", err)
	}
	if _, err := ini.Start(); !errors.Is(err, ErrUnexpected) {
		t.Errorf("Start twice: %v; want ErrUnexpected", err)
	}
}

// countingReader counts the reads of a Config.Rand.
type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	r.n++
	return rand.Read(p)
}

// TestAuthConfig: the authenticated constructors check a Config exactly as
// NewInitiator does (same errors, as Config.Check reports them) but build
// no Noise state: no static key, no Rand read.
func TestAuthConfig(t *testing.T) {
	ki, kr := testKey(t, 1), testKey(t, 2)
	for name, c := range badConfigs(t) {
		_, want := NewInitiator(c)
		if want == nil {
			t.Fatalf("%s: NewInitiator accepted it", name)
		}
		if err := c.Check(); err == nil || err.Error() != want.Error() {
			t.Errorf("%s: Check = %v; want %v", name, err, want)
		}
		_, ei := NewAuthInitiator(c, peerOf(ki), peerOf(kr))
		_, er := NewAuthResponder(c, peerOf(kr), peerOf(ki))
		if ei == nil || er == nil || ei.Error() != want.Error() || er.Error() != want.Error() {
			t.Errorf("%s: NewAuthInitiator %v, NewAuthResponder %v; want %v", name, ei, er, want)
		}
	}
	rnd := &countingReader{}
	good := Config{Identity: ki, Rand: rnd, Ciphers: []Cipher{ChaChaPoly}}
	if err := good.Check(); err != nil {
		t.Fatalf("Check(good) = %v", err)
	}
	a, err := NewAuthInitiator(good, peerOf(ki), peerOf(kr))
	if err != nil {
		t.Fatal(err)
	}
	if rnd.n != 0 || len(a.cfg.static.Private) != 0 || len(a.cfg.static.Public) != 0 {
		t.Errorf("NewAuthInitiator read Rand %d times, static key %d+%d bytes; want no Noise state", rnd.n, len(a.cfg.static.Private), len(a.cfg.static.Public))
	}
	if _, err := NewInitiator(good); err != nil || rnd.n == 0 {
		t.Errorf("NewInitiator: %v after %d reads of Rand; want a fresh static key from it", err, rnd.n)
	}
	if _, err := NewAuthInitiator(Config{Identity: ki}, identity.PeerID{}, peerOf(kr)); err == nil {
		t.Error("NewAuthInitiator accepted a zero local peer")
	}
	if _, err := NewAuthResponder(Config{Identity: kr}, peerOf(kr), identity.PeerID{}); err == nil {
		t.Error("NewAuthResponder accepted a zero remote peer")
	}
}

// TestAuthKeepsConfig: what the Config says besides the keys reaches the
// exchange: Expect (checked on m2 before anything else is sent) and the
// compression offer.
func TestAuthKeepsConfig(t *testing.T) {
	ki, kr := testKey(t, 1), testKey(t, 2)
	a, err := NewAuthInitiator(Config{Identity: ki, Expect: peerOf(testKey(t, 3)), Compression: true}, peerOf(ki), peerOf(kr))
	if err != nil {
		t.Fatal(err)
	}
	m1, _ := a.Start()
	if m1[1]&authCompression == 0 {
		t.Error("m1 does not offer compression although the Config does")
	}
	rsp, _ := NewAuthResponder(Config{Identity: kr, Compression: true}, peerOf(kr), peerOf(ki))
	m2, _, err := rsp.Step(m1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Step(m2); !errors.Is(err, ErrPeerMismatch) {
		t.Errorf("NewAuthInitiator dropped the Config's Expect? %v; want ErrPeerMismatch", err)
	}
}
