package identity_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/mr-tron/base58"

	"github.com/weftnet/weft/identity"
)

// keyFromByte returns the key whose seed is 32 copies of b.
func keyFromByte(t testing.TB, b byte) identity.PrivateKey {
	t.Helper()
	k, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{b}, identity.SeedSize))
	if err != nil {
		t.Fatalf("NewKeyFromSeed: %v", err)
	}
	return k
}

// idFromByte returns the peer ID of keyFromByte(b).
func idFromByte(t testing.TB, b byte) identity.PeerID {
	t.Helper()
	return identity.PeerIDFromPublicKey(keyFromByte(t, b).Public())
}

func TestPeerIDVectors(t *testing.T) {
	tests := []struct {
		seed   byte
		pub    string // hex, "" to skip
		proto  string // hex, "" to skip
		peerID string
	}{
		{
			seed:   0x00,
			pub:    "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
			proto:  "080112203b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29",
			peerID: "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
		},
		{seed: 0x01, peerID: "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"},
		{seed: 0xff, peerID: "12D3KooWHoSyTgntm77sXShoeX9uNkqKNMhHxKtskaHqnA54SrSG"},
	}
	for _, tt := range tests {
		t.Run(tt.peerID, func(t *testing.T) {
			pub := keyFromByte(t, tt.seed).Public()
			id := identity.PeerIDFromPublicKey(pub)
			if got := id.String(); got != tt.peerID {
				t.Errorf("String() = %s, want %s", got, tt.peerID)
			}
			if tt.pub != "" {
				if got := hex.EncodeToString(pub.Bytes()); got != tt.pub {
					t.Errorf("public key = %s, want %s", got, tt.pub)
				}
			}
			b := id.Bytes()
			if len(b) != identity.PeerIDSize || b[0] != 0x00 || b[1] != 0x24 {
				t.Fatalf("Bytes() = %x: want a 38-byte identity multihash", b)
			}
			if tt.proto != "" {
				if got := hex.EncodeToString(b[2:]); got != tt.proto {
					t.Errorf("protobuf = %s, want %s", got, tt.proto)
				}
			}
		})
	}
}

func TestPeerIDRoundTrip(t *testing.T) {
	for _, seed := range []byte{0x00, 0x01, 0x7f, 0xff} {
		k := keyFromByte(t, seed)
		id := identity.PeerIDFromPublicKey(k.Public())

		parsed, err := identity.ParsePeerID(id.String())
		if err != nil || parsed != id {
			t.Errorf("ParsePeerID(%s) = %v, %v; want the same ID", id, parsed, err)
		}
		fromBytes, err := identity.PeerIDFromBytes(id.Bytes())
		if err != nil || fromBytes != id {
			t.Errorf("PeerIDFromBytes(%x) = %v, %v; want %v", id.Bytes(), fromBytes, err, id)
		}
		text, err := id.MarshalText()
		if err != nil {
			t.Fatalf("MarshalText: %v", err)
		}
		var unmarshaled identity.PeerID
		if err := unmarshaled.UnmarshalText(text); err != nil || unmarshaled != id {
			t.Errorf("UnmarshalText(%s) = %v, %v; want %v", text, unmarshaled, err, id)
		}
		pub, err := id.PublicKey()
		if err != nil || !pub.Equal(k.Public()) {
			t.Errorf("PublicKey() = %x, %v; want %x", pub.Bytes(), err, k.Public().Bytes())
		}
	}
}

// encodeWith returns the base58 form of the peer ID bytes of seed 0x00
// after edit changes them.
func encodeWith(t *testing.T, edit func([]byte) []byte) string {
	t.Helper()
	return base58.Encode(edit(idFromByte(t, 0x00).Bytes()))
}

func TestParsePeerIDErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string // substring of the error after the quoted input
	}{
		{"empty", "", "empty"},
		{"not base58", "12D3KooW0OIl", "not base58"},
		{"space", "12D3KooW DpJ7", "not base58"},
		{"sha256 multihash", "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N", "multihash code 0x12"},
		{"truncated", encodeWith(t, func(b []byte) []byte { return b[:len(b)-1] }), "truncated"},
		{"header only", encodeWith(t, func(b []byte) []byte { return b[:2] }), "truncated"},
		{"extra bytes", encodeWith(t, func(b []byte) []byte { return append(b, 0) }), "1 extra bytes"},
		{"secp256k1 key type", encodeWith(t, func(b []byte) []byte { b[3] = 0x02; return b }), "key type 2 (Secp256k1)"},
		{"rsa key type", encodeWith(t, func(b []byte) []byte { b[3] = 0x00; return b }), "key type 0 (RSA)"},
		{"no key type field", encodeWith(t, func(b []byte) []byte { b[2] = 0x10; return b }), "key type field"},
		{"no data field", encodeWith(t, func(b []byte) []byte { b[4] = 0x1a; return b }), "no key data field"},
		{"bad data length", encodeWith(t, func(b []byte) []byte { b[5] = 0x1f; return b }), "declared 31"},
		{"too long", strings.Repeat("2", 200), "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := identity.ParsePeerID(tt.input)
			if err == nil {
				t.Fatalf("ParsePeerID(%q) = %v, want an error", tt.input, id)
			}
			if !errors.Is(err, identity.ErrInvalidPeerID) {
				t.Errorf("error %v does not match ErrInvalidPeerID", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "identity: peer ID ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q: want prefix %q and %q", msg, "identity: peer ID ", tt.want)
			}
			if len(tt.input) < 100 && !strings.Contains(msg, `"`+tt.input+`"`) {
				t.Errorf("error %q does not quote the input", msg)
			}
			if !id.IsZero() {
				t.Errorf("failed parse returned non-zero ID %v", id)
			}
		})
	}
}

func TestPeerIDFromBytesErrors(t *testing.T) {
	valid := idFromByte(t, 0x00).Bytes()
	edit := func(f func([]byte) []byte) []byte { return f(bytes.Clone(valid)) }
	tests := []struct {
		name  string
		input []byte
		want  string
	}{
		{"nil", nil, "empty"},
		{"bad varint", []byte{0x80}, "truncated multihash code"},
		{"sha256 code", edit(func(b []byte) []byte { b[0] = 0x12; return b }), "multihash code 0x12"},
		{"one byte", []byte{0x00}, "no multihash length"},
		{"truncated", valid[:20], "truncated"},
		{"extra", append(bytes.Clone(valid), 1, 2), "2 extra bytes"},
		{"ecdsa", edit(func(b []byte) []byte { b[3] = 0x03; return b }), "key type 3 (ECDSA)"},
		{"unknown key type", edit(func(b []byte) []byte { b[3] = 0x09; return b }), "key type 9 (unknown)"},
		{"short key", []byte{0x00, 0x05, 0x08, 0x01, 0x12, 0x01, 0xaa}, "public key data is 1 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := identity.PeerIDFromBytes(tt.input)
			if err == nil {
				t.Fatalf("PeerIDFromBytes(%x) succeeded, want an error", tt.input)
			}
			if !errors.Is(err, identity.ErrInvalidPeerID) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want ErrInvalidPeerID and %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), hex.EncodeToString(tt.input)) {
				t.Errorf("error %q does not show the input", err)
			}
		})
	}
}

func TestPeerIDZero(t *testing.T) {
	var id identity.PeerID
	if !id.IsZero() || id.String() != "" || id.Bytes() != nil {
		t.Errorf("zero PeerID: IsZero %v, String %q, Bytes %x", id.IsZero(), id.String(), id.Bytes())
	}
	if _, err := id.PublicKey(); err == nil {
		t.Error("zero PeerID PublicKey: want an error")
	}
	if text, err := id.MarshalText(); err != nil || len(text) != 0 {
		t.Errorf("zero MarshalText = %q, %v", text, err)
	}
	id = idFromByte(t, 1)
	if err := id.UnmarshalText(nil); err != nil || !id.IsZero() {
		t.Errorf("UnmarshalText(empty) = %v, %v; want zero, nil", id, err)
	}
	if err := id.UnmarshalText([]byte("nope")); !errors.Is(err, identity.ErrInvalidPeerID) {
		t.Errorf("UnmarshalText(nope) error = %v", err)
	}
	if !identity.PeerIDFromPublicKey(identity.PublicKey{}).IsZero() {
		t.Error("PeerIDFromPublicKey(zero) is not zero")
	}
}

func TestPeerIDCompare(t *testing.T) {
	ids := []identity.PeerID{idFromByte(t, 0xff), {}, idFromByte(t, 0x00), idFromByte(t, 0x01)}
	slices.SortFunc(ids, identity.PeerID.Compare)
	for i := 1; i < len(ids); i++ {
		if got := bytes.Compare(ids[i-1].Bytes(), ids[i].Bytes()); got >= 0 {
			t.Errorf("after sort, %v is not before %v", ids[i-1], ids[i])
		}
		if ids[i].Compare(ids[i-1]) != 1 || ids[i-1].Compare(ids[i]) != -1 {
			t.Errorf("Compare is not antisymmetric for %v, %v", ids[i-1], ids[i])
		}
	}
	if !ids[0].IsZero() {
		t.Error("zero PeerID does not sort first")
	}
	a := idFromByte(t, 0x01)
	if a.Compare(idFromByte(t, 0x01)) != 0 {
		t.Error("Compare of equal IDs is not 0")
	}
	seen := map[identity.PeerID]bool{a: true}
	if !seen[idFromByte(t, 0x01)] || seen[idFromByte(t, 0x00)] {
		t.Error("PeerID does not work as a map key")
	}
}

func TestNewKeyFromSeedLength(t *testing.T) {
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := identity.NewKeyFromSeed(make([]byte, n)); err == nil || !strings.HasPrefix(err.Error(), "identity: ") {
			t.Errorf("NewKeyFromSeed(%d bytes) error = %v, want identity: error", n, err)
		}
	}
}

// failingReader always fails.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func TestGenerateKey(t *testing.T) {
	a, err := identity.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := identity.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if a.Equal(b) || a.Public().Equal(b.Public()) {
		t.Error("two generated keys are equal")
	}
	if _, err := identity.GenerateKey(failingReader{}); err == nil || !strings.Contains(err.Error(), "no entropy") {
		t.Errorf("GenerateKey(failing) error = %v", err)
	}
	if _, err := identity.GenerateKey(io.LimitReader(rand.Reader, 10)); err == nil {
		t.Error("GenerateKey(short reader): want an error")
	}
	if _, err := identity.GenerateKey(nil); err == nil {
		t.Error("GenerateKey(nil): want an error")
	}
}

func TestKeyAccessors(t *testing.T) {
	k := keyFromByte(t, 0x01)
	if !bytes.Equal(k.Seed(), bytes.Repeat([]byte{1}, 32)) {
		t.Errorf("Seed() = %x", k.Seed())
	}
	std := k.Ed25519()
	if !bytes.Equal(std.Seed(), k.Seed()) || !bytes.Equal(std.Public().(ed25519.PublicKey), k.Public().Bytes()) {
		t.Error("Ed25519() does not match the key")
	}
	std[0] ^= 1 // must not change k
	if !k.Equal(keyFromByte(t, 0x01)) || k.Equal(keyFromByte(t, 0x02)) {
		t.Error("Equal or Ed25519 copy is wrong")
	}
	var zero identity.PrivateKey
	if !zero.IsZero() || zero.Seed() != nil || zero.Ed25519() != nil || !zero.Public().IsZero() {
		t.Error("zero PrivateKey accessors are not empty")
	}
	pub, err := identity.PublicKeyFromBytes(k.Public().Bytes())
	if err != nil || !pub.Equal(k.Public()) || !bytes.Equal(pub.Ed25519(), k.Public().Bytes()) {
		t.Errorf("PublicKeyFromBytes round trip: %v", err)
	}
	if _, err := identity.PublicKeyFromBytes(make([]byte, 31)); err == nil {
		t.Error("PublicKeyFromBytes(31 bytes): want an error")
	}
}

func TestSignVerify(t *testing.T) {
	k := keyFromByte(t, 0x01)
	pub := k.Public()
	msg := []byte("hello")
	sig, err := k.Sign("handshake", msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) != identity.SignatureSize || !pub.Verify("handshake", msg, sig) {
		t.Fatal("valid signature does not verify")
	}
	// The signed bytes are exactly "weft:" + domain + "\x00" + msg.
	if !ed25519.Verify(pub.Ed25519(), []byte("weft:handshake\x00hello"), sig) {
		t.Error("signature is not over weft:<domain>\\x00<msg>")
	}
	tampered := bytes.Clone(sig)
	tampered[10] ^= 0x01
	other := keyFromByte(t, 0x02).Public()
	tests := []struct {
		name        string
		pub         identity.PublicKey
		domain      string
		msg, sig    []byte
		wantVerifed bool
	}{
		{"valid", pub, "handshake", msg, sig, true},
		{"other domain", pub, "record", msg, sig, false},
		{"domain prefix", pub, "hand", msg, sig, false},
		{"tampered signature", pub, "handshake", msg, tampered, false},
		{"tampered message", pub, "handshake", []byte("hellO"), sig, false},
		{"other key", other, "handshake", msg, sig, false},
		{"zero key", identity.PublicKey{}, "handshake", msg, sig, false},
		{"short signature", pub, "handshake", msg, sig[:63], false},
		{"nil signature", pub, "handshake", msg, nil, false},
		{"empty domain", pub, "", msg, sig, false},
		{"NUL domain", pub, "hand\x00shake", msg, sig, false},
	}
	for _, tt := range tests {
		if got := tt.pub.Verify(tt.domain, tt.msg, tt.sig); got != tt.wantVerifed {
			t.Errorf("%s: Verify = %v, want %v", tt.name, got, tt.wantVerifed)
		}
	}
}

func TestSignDomainBoundary(t *testing.T) {
	// Moving bytes between domain and message must change what is signed.
	k := keyFromByte(t, 0x03)
	sig, err := k.Sign("ab", []byte("c"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Public().Verify("a", []byte("bc"), sig) {
		t.Error(`signature for ("ab", "c") verifies for ("a", "bc")`)
	}
}

func TestSignErrors(t *testing.T) {
	k := keyFromByte(t, 0x01)
	for _, domain := range []string{"", "a\x00b", "\x00"} {
		if _, err := k.Sign(domain, nil); !errors.Is(err, identity.ErrInvalidDomain) {
			t.Errorf("Sign(%q) error = %v, want ErrInvalidDomain", domain, err)
		}
	}
	var zero identity.PrivateKey
	if _, err := zero.Sign("x", nil); !errors.Is(err, identity.ErrZeroKey) {
		t.Errorf("zero key Sign error = %v, want ErrZeroKey", err)
	}
}
