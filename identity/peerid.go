package identity

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/mr-tron/base58"
)

// Wire layout of an Ed25519 peer ID, identical to libp2p's:
//
//	0x00 0x24            identity multihash, 36-byte digest
//	0x08 0x01            protobuf field 1 (KeyType), varint 1 = Ed25519
//	0x12 0x20 <32 bytes> protobuf field 2 (Data), the raw public key
const (
	multihashIdentity = 0x00
	pbKeyTypeTag      = 0x08 // field 1, wire type 0 (varint)
	pbKeyTypeEd25519  = 0x01
	pbDataTag         = 0x12 // field 2, wire type 2 (length-delimited)

	// pubKeyProtoLen is the size of the protobuf-encoded public key.
	pubKeyProtoLen = 4 + PublicKeySize

	// PeerIDSize is the size in bytes of a peer ID: the multihash header
	// plus the protobuf-encoded public key.
	PeerIDSize = 2 + pubKeyProtoLen

	// peerIDStringLen is the length of a peer ID's text form.
	peerIDStringLen = 52

	// maxPeerIDString bounds the text accepted by ParsePeerID before base58
	// decoding, whose cost grows with the square of the length.
	maxPeerIDString = 128

	// maxQuoted bounds how much of a bad input an error message repeats.
	maxQuoted = 256
)

// ErrInvalidPeerID is matched (with errors.Is) by every error from
// [ParsePeerID], [PeerIDFromBytes] and [PeerID.UnmarshalText].
var ErrInvalidPeerID = errors.New("identity: invalid peer ID")

// keyTypeNames names the libp2p key types, for error messages.
var keyTypeNames = map[uint64]string{0: "RSA", 1: "Ed25519", 2: "Secp256k1", 3: "ECDSA"}

// PeerID identifies a node: the identity multihash of its protobuf-encoded
// Ed25519 public key, exactly as libp2p computes it. PeerID is comparable and
// can be used as a map key. The zero value is no peer.
type PeerID struct {
	mh string // the PeerIDSize multihash bytes, or "" for the zero PeerID
}

// peerIDError reports why an input is not a valid peer ID.
type peerIDError struct {
	input  string // already quoted or hex-encoded
	reason string
}

// Error implements error.
func (e *peerIDError) Error() string {
	return fmt.Sprintf("identity: peer ID %s: %s", e.input, e.reason)
}

// Unwrap lets errors.Is match ErrInvalidPeerID.
func (e *peerIDError) Unwrap() error { return ErrInvalidPeerID }

// PeerIDFromPublicKey returns the peer ID of p, or the zero PeerID if p is
// zero.
func PeerIDFromPublicKey(p PublicKey) PeerID {
	if p.IsZero() {
		return PeerID{}
	}
	b := make([]byte, 0, PeerIDSize)
	b = append(b, multihashIdentity, pubKeyProtoLen)
	b = append(b, pbKeyTypeTag, pbKeyTypeEd25519, pbDataTag, PublicKeySize)
	b = append(b, p.key[:]...)
	return PeerID{mh: string(b)}
}

// ParsePeerID parses the base58btc text form of a peer ID ("12D3KooW...").
// Errors match [ErrInvalidPeerID] and quote the input.
func ParsePeerID(s string) (PeerID, error) {
	input := quote(s)
	if s == "" {
		return PeerID{}, &peerIDError{input, "empty"}
	}
	if len(s) > maxPeerIDString {
		return PeerID{}, &peerIDError{input, fmt.Sprintf("too long (%d characters, a peer ID has %d)", len(s), peerIDStringLen)}
	}
	b, err := base58.Decode(s)
	if err != nil {
		return PeerID{}, &peerIDError{input, "not base58: " + err.Error()}
	}
	return peerIDFromBytes(b, input)
}

// PeerIDFromBytes parses the binary (multihash) form of a peer ID, as
// returned by [PeerID.Bytes]. Errors match [ErrInvalidPeerID].
func PeerIDFromBytes(b []byte) (PeerID, error) {
	return peerIDFromBytes(b, hexInput(b))
}

// peerIDFromBytes validates a multihash; input names it in errors.
func peerIDFromBytes(b []byte, input string) (PeerID, error) {
	if reason := checkPeerIDBytes(b); reason != "" {
		return PeerID{}, &peerIDError{input, reason}
	}
	return PeerID{mh: string(b)}, nil
}

// checkPeerIDBytes returns why b is not a valid Ed25519 peer ID, or "".
func checkPeerIDBytes(b []byte) string {
	if len(b) == 0 {
		return "empty"
	}
	code, n := binary.Uvarint(b)
	if n <= 0 {
		return "truncated multihash code"
	}
	if code != multihashIdentity {
		return fmt.Sprintf("multihash code 0x%x, want identity (0x00): only Ed25519 peer IDs are supported", code)
	}
	if len(b) < 2 {
		return "truncated: no multihash length"
	}
	if want, got := int(b[1]), len(b)-2; got != want {
		return lengthReason("multihash digest", got, want)
	}
	return checkKeyProto(b[2:])
}

// checkKeyProto validates the protobuf-encoded public key of a peer ID.
func checkKeyProto(pb []byte) string {
	if len(pb) < 2 || pb[0] != pbKeyTypeTag {
		return "public key protobuf does not start with the key type field"
	}
	if kt := uint64(pb[1]); kt != pbKeyTypeEd25519 {
		name, ok := keyTypeNames[kt]
		if !ok {
			name = "unknown"
		}
		return fmt.Sprintf("key type %d (%s), want 1 (Ed25519)", kt, name)
	}
	if len(pb) < 4 || pb[2] != pbDataTag {
		return "public key protobuf has no key data field after the key type"
	}
	if want, got := int(pb[3]), len(pb)-4; want != PublicKeySize || got != PublicKeySize {
		return fmt.Sprintf("public key data is %d bytes (declared %d), want %d", got, want, PublicKeySize)
	}
	return ""
}

// lengthReason describes a length mismatch as truncation or extra bytes.
func lengthReason(what string, got, want int) string {
	if got < want {
		return fmt.Sprintf("truncated: %s has %d bytes, header says %d", what, got, want)
	}
	return fmt.Sprintf("%d extra bytes after the %d-byte %s", got-want, want, what)
}

// IsZero reports whether id is the zero PeerID.
func (id PeerID) IsZero() bool { return id.mh == "" }

// Bytes returns a copy of the binary (multihash) form of id, or nil if id is
// zero.
func (id PeerID) Bytes() []byte {
	if id.IsZero() {
		return nil
	}
	return []byte(id.mh)
}

// String returns the base58btc text form of id ("12D3KooW..."), or "" if id
// is zero.
func (id PeerID) String() string {
	if id.IsZero() {
		return ""
	}
	return base58.Encode([]byte(id.mh))
}

// PublicKey returns the public key embedded in id. It fails only for the
// zero PeerID.
func (id PeerID) PublicKey() (PublicKey, error) {
	if id.IsZero() {
		return PublicKey{}, errors.New("identity: zero peer ID has no public key")
	}
	return PublicKeyFromBytes([]byte(id.mh[PeerIDSize-PublicKeySize:]))
}

// Compare orders peer IDs by their binary form: it returns -1 if id sorts
// before other, +1 if after and 0 if they are equal. The zero PeerID sorts
// first. Two nodes dialing each other at once both use it to agree on which
// connection survives.
func (id PeerID) Compare(other PeerID) int {
	return strings.Compare(id.mh, other.mh)
}

// MarshalText implements encoding.TextMarshaler using [PeerID.String]. The
// zero PeerID marshals to empty text.
func (id PeerID) MarshalText() ([]byte, error) {
	return []byte(id.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler using [ParsePeerID].
// Empty text gives the zero PeerID.
func (id *PeerID) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*id = PeerID{}
		return nil
	}
	p, err := ParsePeerID(string(text))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// quote returns s quoted for an error message, shortened if long.
func quote(s string) string {
	if len(s) > maxQuoted {
		return fmt.Sprintf("%q...", s[:maxQuoted])
	}
	return fmt.Sprintf("%q", s)
}

// hexInput returns b in hex for an error message, shortened if long.
func hexInput(b []byte) string {
	if len(b) > maxQuoted/4 {
		return fmt.Sprintf("0x%x...", b[:maxQuoted/4])
	}
	return fmt.Sprintf("0x%x", b)
}
