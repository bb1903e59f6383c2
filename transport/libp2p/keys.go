package libp2p

import (
	"crypto/ed25519"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/weftnet/weft/identity"
)

// weft's identities and go-libp2p's are the same thing in two types: an
// Ed25519 key, and a peer ID that is the identity multihash of its
// protobuf-encoded public key. These functions convert between them
// without any loss; doc.go shows how a node uses one key for both.

// HostKey returns k as a go-libp2p private key, for libp2p.Identity: a
// host made with it has k's peer ID, byte for byte.
func HostKey(k identity.PrivateKey) (crypto.PrivKey, error) {
	if k.IsZero() {
		return nil, fmt.Errorf("libp2p: host key: %w", identity.ErrZeroKey)
	}
	sk, err := crypto.UnmarshalEd25519PrivateKey(k.Ed25519())
	if err != nil {
		return nil, fmt.Errorf("libp2p: host key: %w", err)
	}
	return sk, nil
}

// IdentityOf returns the weft identity of h: its private key, from its
// peerstore, as an identity.PrivateKey. The host's key must be Ed25519
// (go-libp2p's default); otherwise it fails with ErrNotEd25519.
func IdentityOf(h host.Host) (identity.PrivateKey, error) {
	sk := h.Peerstore().PrivKey(h.ID())
	if sk == nil {
		return identity.PrivateKey{}, fmt.Errorf("libp2p: the peerstore of host %s has no private key for it", h.ID())
	}
	return identityKey(sk)
}

// identityKey converts a go-libp2p Ed25519 private key.
func identityKey(sk crypto.PrivKey) (identity.PrivateKey, error) {
	if sk.Type() != crypto.Ed25519 {
		return identity.PrivateKey{}, fmt.Errorf("%w: the key is %v", ErrNotEd25519, sk.Type())
	}
	raw, err := sk.Raw()
	if err != nil {
		return identity.PrivateKey{}, fmt.Errorf("libp2p: identity key: %w", err)
	}
	if len(raw) != ed25519.PrivateKeySize {
		return identity.PrivateKey{}, fmt.Errorf("libp2p: identity key: Ed25519 key of %d bytes, want %d", len(raw), ed25519.PrivateKeySize)
	}
	k, err := identity.NewKeyFromSeed(raw[:ed25519.SeedSize])
	if err != nil {
		return identity.PrivateKey{}, fmt.Errorf("libp2p: identity key: %w", err)
	}
	if string(k.Public().Bytes()) != string(raw[ed25519.SeedSize:]) {
		return identity.PrivateKey{}, fmt.Errorf("libp2p: identity key: the Ed25519 key's public half does not match its seed")
	}
	return k, nil
}

// FromPeerID returns the weft peer ID of a libp2p peer ID (the same bytes).
// Only Ed25519 peers have one: others fail with ErrNotEd25519.
func FromPeerID(p peer.ID) (identity.PeerID, error) {
	id, err := identity.PeerIDFromBytes([]byte(p))
	if err != nil {
		return identity.PeerID{}, fmt.Errorf("%w: peer %s: %w", ErrNotEd25519, p, err)
	}
	return id, nil
}

// ToPeerID returns the libp2p peer ID of a weft peer ID (the same bytes).
func ToPeerID(id identity.PeerID) peer.ID { return peer.ID(id.Bytes()) }
