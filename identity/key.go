package identity

import (
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SeedSize is the size in bytes of an Ed25519 private key seed.
const SeedSize = ed25519.SeedSize

// PublicKeySize is the size in bytes of an Ed25519 public key.
const PublicKeySize = ed25519.PublicKeySize

// SignatureSize is the size in bytes of a signature made by [PrivateKey.Sign].
const SignatureSize = ed25519.SignatureSize

// signPrefix starts every message weft signs; see [PrivateKey.Sign].
const signPrefix = "weft:"

var (
	// ErrInvalidDomain is returned by [PrivateKey.Sign] for a signature
	// domain that is empty or contains a NUL byte.
	ErrInvalidDomain = errors.New("identity: invalid signature domain")

	// ErrZeroKey is returned when a zero (uninitialised) [PrivateKey] is used.
	ErrZeroKey = errors.New("identity: zero private key")
)

// PrivateKey is a node's Ed25519 private key. The zero value holds no key;
// create one with [GenerateKey], [NewKeyFromSeed] or [LoadKeyFile].
type PrivateKey struct {
	key ed25519.PrivateKey
}

// PublicKey is a node's Ed25519 public key. It is comparable; the zero value
// holds no key.
type PublicKey struct {
	key [PublicKeySize]byte
	set bool
}

// GenerateKey returns a new private key using entropy from rand, which is
// normally crypto/rand.Reader.
func GenerateKey(rand io.Reader) (PrivateKey, error) {
	if rand == nil {
		return PrivateKey{}, errors.New("identity: generate key: nil random source")
	}
	var seed [SeedSize]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return PrivateKey{}, fmt.Errorf("identity: generate key: %w", err)
	}
	return NewKeyFromSeed(seed[:])
}

// NewKeyFromSeed returns the private key derived from a 32-byte seed
// (RFC 8032). It fails if seed is not exactly [SeedSize] bytes long.
func NewKeyFromSeed(seed []byte) (PrivateKey, error) {
	if len(seed) != SeedSize {
		return PrivateKey{}, fmt.Errorf("identity: key seed is %d bytes, want %d", len(seed), SeedSize)
	}
	return PrivateKey{key: ed25519.NewKeyFromSeed(seed)}, nil
}

// IsZero reports whether k holds no key.
func (k PrivateKey) IsZero() bool { return len(k.key) != ed25519.PrivateKeySize }

// Public returns the public half of k, or the zero PublicKey if k is zero.
func (k PrivateKey) Public() PublicKey {
	if k.IsZero() {
		return PublicKey{}
	}
	var p PublicKey
	copy(p.key[:], k.key[SeedSize:])
	p.set = true
	return p
}

// Seed returns a copy of the 32-byte seed k was derived from, or nil if k is
// zero. Treat it as secret as the key itself.
func (k PrivateKey) Seed() []byte {
	if k.IsZero() {
		return nil
	}
	return append([]byte(nil), k.key[:SeedSize]...)
}

// Ed25519 returns a copy of k as a standard library key, for APIs such as
// crypto/tls that need a crypto.Signer. It returns nil if k is zero.
func (k PrivateKey) Ed25519() ed25519.PrivateKey {
	if k.IsZero() {
		return nil
	}
	return append(ed25519.PrivateKey(nil), k.key...)
}

// Equal reports whether k and other are the same key, in constant time.
func (k PrivateKey) Equal(other PrivateKey) bool {
	return subtle.ConstantTimeCompare(k.key, other.key) == 1
}

// Sign signs msg for the given domain. The signed bytes are
//
//	"weft:" + domain + "\x00" + msg
//
// so a signature made for one domain never verifies for another. domain must
// be non-empty and free of NUL bytes, otherwise Sign returns an error
// wrapping [ErrInvalidDomain]. Signing with a zero key returns [ErrZeroKey].
func (k PrivateKey) Sign(domain string, msg []byte) ([]byte, error) {
	if k.IsZero() {
		return nil, ErrZeroKey
	}
	if err := checkDomain(domain); err != nil {
		return nil, err
	}
	return ed25519.Sign(k.key, signedBytes(domain, msg)), nil
}

// PublicKeyFromBytes returns the public key held in the 32 raw bytes b.
func PublicKeyFromBytes(b []byte) (PublicKey, error) {
	if len(b) != PublicKeySize {
		return PublicKey{}, fmt.Errorf("identity: public key is %d bytes, want %d", len(b), PublicKeySize)
	}
	var p PublicKey
	copy(p.key[:], b)
	p.set = true
	return p, nil
}

// IsZero reports whether p holds no key.
func (p PublicKey) IsZero() bool { return !p.set }

// Bytes returns the 32 raw bytes of p, or nil if p is zero.
func (p PublicKey) Bytes() []byte {
	if p.IsZero() {
		return nil
	}
	return append([]byte(nil), p.key[:]...)
}

// Ed25519 returns p as a standard library key, or nil if p is zero.
func (p PublicKey) Ed25519() ed25519.PublicKey {
	return ed25519.PublicKey(p.Bytes())
}

// Equal reports whether p and other are the same key.
func (p PublicKey) Equal(other PublicKey) bool { return p == other }

// Verify reports whether sig is a valid signature of msg for domain by p, as
// made by [PrivateKey.Sign]. It returns false for an invalid domain, a zero
// key or a signature of the wrong size.
func (p PublicKey) Verify(domain string, msg, sig []byte) bool {
	if p.IsZero() || len(sig) != SignatureSize || checkDomain(domain) != nil {
		return false
	}
	return ed25519.Verify(p.key[:], signedBytes(domain, msg), sig)
}

// checkDomain validates a signature domain.
func checkDomain(domain string) error {
	if domain == "" {
		return fmt.Errorf("%w: empty", ErrInvalidDomain)
	}
	if strings.IndexByte(domain, 0) >= 0 {
		return fmt.Errorf("%w: %q contains a NUL byte", ErrInvalidDomain, domain)
	}
	return nil
}

// signedBytes builds the domain-separated message that is actually signed.
func signedBytes(domain string, msg []byte) []byte {
	b := make([]byte, 0, len(signPrefix)+len(domain)+1+len(msg))
	b = append(b, signPrefix...)
	b = append(b, domain...)
	b = append(b, 0)
	return append(b, msg...)
}
