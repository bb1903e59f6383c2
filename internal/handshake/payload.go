package handshake

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weftnet/weft/identity"
)

// payloadVersion is the first byte of every handshake payload. A decoder
// rejects every other value; a future version changes it.
const payloadVersion = 1

// Offer flags (msg1).
const (
	offerAESHardware = 1 << 0
	offerCompression = 1 << 1
	offerPlaintext   = 1 << 2
	offerFlags       = offerAESHardware | offerCompression | offerPlaintext
)

// Decision flags (msg2).
const (
	decisionCompression = 1 << 0
	decisionPlaintext   = 1 << 1
	decisionFlags       = decisionCompression | decisionPlaintext
)

// Payload sizes: fixed fields, plus a uvarint size of at most maxSizeLen
// bytes (the uvarint of MaxMessageBytesLimit).
const (
	maxSizeLen       = 5
	maxOfferLen      = 3 + maxSizeLen                                      // version, flags, ciphers, size
	helloLen         = 1 + identity.PublicKeySize + identity.SignatureSize // version, key, signature
	maxHelloDecision = helloLen + 2 + maxSizeLen                           // + flags, cipher, size
)

// offer is the cleartext payload of msg1: what the initiator can do and
// wants.
type offer struct {
	aesHardware     bool      // the initiator's CPU has AES hardware
	compression     bool      // the initiator offers compression
	plaintext       bool      // the initiator asks for InsecurePlaintext
	ciphers         cipherSet // the ciphers the initiator allows; not empty
	maxMessageBytes int       // the largest message the initiator accepts
}

// decision is the responder's choice, carried in the msg2 payload.
type decision struct {
	cipher          Cipher // zero iff plaintext
	compression     bool
	plaintext       bool
	maxMessageBytes int // the largest message the responder accepts
}

// hello is the encrypted payload of msg2 (with a decision) and msg3
// (without): a node's identity key and its signature over the sender's Noise
// static public key.
type hello struct {
	key         identity.PublicKey
	sig         [identity.SignatureSize]byte
	hasDecision bool
	decision    decision
}

// encodeOffer encodes o:
//
//	version(1)=1 | flags(1) | ciphers(1) | maxMessageBytes(uvarint)
func encodeOffer(o offer) []byte {
	var flags byte
	if o.aesHardware {
		flags |= offerAESHardware
	}
	if o.compression {
		flags |= offerCompression
	}
	if o.plaintext {
		flags |= offerPlaintext
	}
	b := make([]byte, 0, maxOfferLen)
	b = append(b, payloadVersion, flags, byte(o.ciphers))
	return binary.AppendUvarint(b, uint64(o.maxMessageBytes))
}

// decodeOffer decodes what encodeOffer encodes, rejecting unknown versions
// and flags, an empty cipher set, an out-of-range size and trailing bytes.
func decodeOffer(b []byte) (offer, error) {
	if err := checkVersion(b); err != nil {
		return offer{}, err
	}
	if len(b) < 3 {
		return offer{}, fmt.Errorf("offer truncated at %d bytes", len(b))
	}
	flags, set := b[1], cipherSet(b[2])
	if flags&^offerFlags != 0 {
		return offer{}, fmt.Errorf("offer has unknown flags 0x%02x", flags&^offerFlags)
	}
	if set == 0 || set&^allCiphers != 0 {
		return offer{}, fmt.Errorf("offer cipher set 0x%02x: want a non-empty subset of 0x%02x", byte(set), byte(allCiphers))
	}
	size, rest, err := decodeSize(b[3:])
	if err != nil {
		return offer{}, fmt.Errorf("offer max message size: %w", err)
	}
	if len(rest) != 0 {
		return offer{}, fmt.Errorf("%d trailing bytes after offer", len(rest))
	}
	return offer{
		aesHardware: flags&offerAESHardware != 0, compression: flags&offerCompression != 0,
		plaintext: flags&offerPlaintext != 0, ciphers: set, maxMessageBytes: size,
	}, nil
}

// encodeHello encodes h:
//
//	version(1)=1 | identity key(32) | signature(64)
//	[msg2 only:] flags(1) | cipher(1) | maxMessageBytes(uvarint)
func encodeHello(h hello) []byte {
	b := make([]byte, 0, maxHelloDecision)
	b = append(b, payloadVersion)
	b = append(b, h.key.Bytes()...)
	b = append(b, h.sig[:]...)
	if !h.hasDecision {
		return b
	}
	d := h.decision
	var flags byte
	if d.compression {
		flags |= decisionCompression
	}
	if d.plaintext {
		flags |= decisionPlaintext
	}
	b = append(b, flags, byte(d.cipher))
	return binary.AppendUvarint(b, uint64(d.maxMessageBytes))
}

// decodeHello decodes what encodeHello encodes; withDecision says whether a
// decision must follow the signature (msg2) or nothing may (msg3).
func decodeHello(b []byte, withDecision bool) (hello, error) {
	if err := checkVersion(b); err != nil {
		return hello{}, err
	}
	if len(b) < helloLen {
		return hello{}, fmt.Errorf("identity payload truncated at %d bytes, want %d", len(b), helloLen)
	}
	var h hello
	var err error
	if h.key, err = identity.PublicKeyFromBytes(b[1 : 1+identity.PublicKeySize]); err != nil {
		return hello{}, err
	}
	copy(h.sig[:], b[1+identity.PublicKeySize:helloLen])
	rest := b[helloLen:]
	if withDecision {
		h.hasDecision = true
		if h.decision, rest, err = decodeDecision(rest); err != nil {
			return hello{}, err
		}
	}
	if len(rest) != 0 {
		return hello{}, fmt.Errorf("%d trailing bytes after identity payload", len(rest))
	}
	return h, nil
}

// decodeDecision decodes the decision part of a msg2 payload and returns
// the bytes after it.
func decodeDecision(b []byte) (decision, []byte, error) {
	if len(b) < 2 {
		return decision{}, nil, fmt.Errorf("decision truncated at %d bytes", len(b))
	}
	flags, c := b[0], Cipher(b[1])
	if flags&^decisionFlags != 0 {
		return decision{}, nil, fmt.Errorf("decision has unknown flags 0x%02x", flags&^decisionFlags)
	}
	d := decision{cipher: c, compression: flags&decisionCompression != 0, plaintext: flags&decisionPlaintext != 0}
	if d.plaintext && c != 0 {
		return decision{}, nil, fmt.Errorf("decision is plaintext with cipher %v", c)
	}
	if !d.plaintext && !c.valid() {
		return decision{}, nil, fmt.Errorf("decision has unknown cipher %d", uint8(c))
	}
	size, rest, err := decodeSize(b[2:])
	if err != nil {
		return decision{}, nil, fmt.Errorf("decision max message size: %w", err)
	}
	d.maxMessageBytes = size
	return d, rest, nil
}

// checkVersion checks the version byte that starts every payload.
func checkVersion(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty payload")
	}
	if b[0] != payloadVersion {
		return fmt.Errorf("unsupported payload version %d (want %d)", b[0], payloadVersion)
	}
	return nil
}

// decodeSize decodes a minimally encoded uvarint in [1,
// MaxMessageBytesLimit] and returns the bytes after it.
func decodeSize(b []byte) (int, []byte, error) {
	v, n := binary.Uvarint(b)
	switch {
	case n == 0:
		return 0, nil, errors.New("truncated uvarint")
	case n < 0:
		return 0, nil, errors.New("uvarint overflows 64 bits")
	case n != len(binary.AppendUvarint(nil, v)):
		return 0, nil, errors.New("uvarint not minimally encoded")
	case v < 1 || v > MaxMessageBytesLimit:
		return 0, nil, fmt.Errorf("%d out of range [1, %d]", v, MaxMessageBytesLimit)
	}
	return int(v), b[n:], nil
}

// DecodeOffer decodes b as a msg1 payload and returns its encoding again
// (equal to b, since the encoding is canonical). For fuzzing; errors wrap
// [ErrMalformed].
func DecodeOffer(b []byte) ([]byte, error) {
	o, err := decodeOffer(b)
	if err != nil {
		return nil, malformedErr("offer", err)
	}
	return encodeOffer(o), nil
}

// DecodeIdentity decodes b as a msg2 payload (withDecision) or a msg3
// payload and returns its encoding again (equal to b, since the encoding is
// canonical). It does not check the signature. For fuzzing; errors wrap
// [ErrMalformed].
func DecodeIdentity(b []byte, withDecision bool) ([]byte, error) {
	h, err := decodeHello(b, withDecision)
	if err != nil {
		return nil, malformedErr("identity payload", err)
	}
	return encodeHello(h), nil
}
