package handshake

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/weftnet/weft/identity"
)

// The handshake over an authenticated transport.
//
// A transport.Authenticated connection (QUIC's TLS 1.3 with a certificate
// bound to the node key) has already proven both ends' transport identities
// and encrypts and integrity-protects every byte. Running Noise inside it
// would buy nothing but a second encryption, so the endpoint runs this
// exchange instead: two small plaintext messages, framed by the caller as
// Noise messages are, that negotiate what Noise's payloads negotiate besides
// the keys, and tie each side's endpoint identity to the connection.
//
//	m1, initiator to responder; m2, responder to initiator:
//
//	version          1 byte   2 (Noise payloads are version 1)
//	flags            1 byte   0x01 compression: offered (m1), on (m2)
//	                          0x02 plaintext: InsecurePlaintext is set
//	                          0x04 an identity follows
//	maxMessageBytes  uvarint  largest message the sender accepts,
//	                          1..MaxMessageBytesLimit
//	[identity key    32 bytes  the sender's Ed25519 endpoint key
//	 signature]      64 bytes  identity.Sign("weft-authenticated-link",
//	                           role || signer || verifier)
//
// An endpoint whose identity is its transport identity (the usual case: a
// node uses one key) sends no identity: the transport proved it, and the
// peer takes the connection's RemotePeer. An endpoint with another key (a
// node serving several identities over one transport; the conformance
// suite, where one transport carries many endpoints) proves it with the
// signature, whose message is role (1 byte: 1 in m1, 2 in m2), then the
// signer's and the verifier's transport peer IDs (PeerID.Bytes, fixed
// length). The signature thus only verifies on a connection authenticated
// as the signer's transport to the verifier's: it can be presented again
// only by the holder of the signer's transport key, to the same verifier.
// An identity equal to the sender's transport identity must not be sent
// (one encoding per meaning).
//
// The responder decides on m1 as Noise's does: both sides must agree on
// InsecurePlaintext ([ErrInsecureMismatch]; over an authenticated
// transport records are never encrypted by the endpoint, so the flag only
// checks that both sides are configured alike); compression is on iff both
// offered it. The initiator checks the responder's identity against
// Config.Expect ([*PeerMismatchError]) and its decision against the offer
// before anything else is sent. Step's contract (errors, retransmissions,
// no panic) is State's. Result.Send and Recv are nil: records travel in
// the plaintext framing, sealed by the transport.

const (
	// authVersion is the first byte of m1 and m2.
	authVersion = 2
	// authDomain is the identity signature domain of the exchange.
	authDomain = "weft-authenticated-link"
)

// Flags of m1 and m2.
const (
	authCompression = 1 << 0
	authPlaintext   = 1 << 1
	authIdentity    = 1 << 2
	authFlags       = authCompression | authPlaintext | authIdentity
)

// Roles signed into the identity proof.
const (
	roleInitiator = 1
	roleResponder = 2
)

// maxAuthLen bounds m1 and m2.
const maxAuthLen = 2 + maxSizeLen + identity.PublicKeySize + identity.SignatureSize

// authMsg is m1 or m2, decoded.
type authMsg struct {
	compression, plaintext bool
	maxMessageBytes        int
	hasIdentity            bool
	key                    identity.PublicKey
	sig                    [identity.SignatureSize]byte
}

// encodeAuth encodes m.
func encodeAuth(m authMsg) []byte {
	var flags byte
	if m.compression {
		flags |= authCompression
	}
	if m.plaintext {
		flags |= authPlaintext
	}
	if m.hasIdentity {
		flags |= authIdentity
	}
	b := make([]byte, 0, maxAuthLen)
	b = append(b, authVersion, flags)
	b = binary.AppendUvarint(b, uint64(m.maxMessageBytes))
	if m.hasIdentity {
		b = append(b, m.key.Bytes()...)
		b = append(b, m.sig[:]...)
	}
	return b
}

// decodeAuth decodes what encodeAuth encodes, rejecting other versions,
// unknown flags, an out-of-range or non-minimal size, a truncated identity
// and trailing bytes.
func decodeAuth(b []byte) (authMsg, error) {
	if len(b) < 2 {
		return authMsg{}, fmt.Errorf("message truncated at %d bytes", len(b))
	}
	if b[0] != authVersion {
		return authMsg{}, fmt.Errorf("version %d, want %d (is the peer speaking Noise over an authenticated transport?)", b[0], authVersion)
	}
	flags := b[1]
	if flags&^authFlags != 0 {
		return authMsg{}, fmt.Errorf("unknown flags 0x%02x", flags&^authFlags)
	}
	m := authMsg{compression: flags&authCompression != 0, plaintext: flags&authPlaintext != 0, hasIdentity: flags&authIdentity != 0}
	size, rest, err := decodeSize(b[2:])
	if err != nil {
		return authMsg{}, fmt.Errorf("max message size: %w", err)
	}
	m.maxMessageBytes = size
	if m.hasIdentity {
		if len(rest) < identity.PublicKeySize+identity.SignatureSize {
			return authMsg{}, fmt.Errorf("identity truncated at %d bytes", len(rest))
		}
		if m.key, err = identity.PublicKeyFromBytes(rest[:identity.PublicKeySize]); err != nil {
			return authMsg{}, err
		}
		copy(m.sig[:], rest[identity.PublicKeySize:])
		rest = rest[identity.PublicKeySize+identity.SignatureSize:]
	}
	if len(rest) != 0 {
		return authMsg{}, fmt.Errorf("%d trailing bytes", len(rest))
	}
	return m, nil
}

// DecodeAuthMessage decodes b as m1 or m2 of the authenticated handshake
// and returns its encoding again (equal to b: the encoding is canonical).
// It checks no signature. For fuzzing; errors wrap [ErrMalformed].
func DecodeAuthMessage(b []byte) ([]byte, error) {
	m, err := decodeAuth(b)
	if err != nil {
		return nil, malformedErr("authenticated handshake message", err)
	}
	return encodeAuth(m), nil
}

// AuthState is one side of the handshake over an authenticated transport:
// a state machine with State's Start and Step contract, and two messages
// (see the comment at the top of this file). Not safe for concurrent use.
type AuthState struct {
	cfg           config
	initiator     bool
	local, remote identity.PeerID // the transport identities
	started       bool
	done          bool
	lastIn        []byte
	lastOut       []byte
	err           error
}

// NewAuthInitiator returns the dialer's side; local and remote are the
// transport identities the connection proved (transport.Authenticated's
// LocalPeer and RemotePeer). It checks cfg as NewInitiator does (see
// [Config.Check]) but builds no Noise state: it generates no key, signs
// nothing and reads no Rand. Config.Expect applies to the endpoint
// identity the exchange proves.
func NewAuthInitiator(cfg Config, local, remote identity.PeerID) (*AuthState, error) {
	return newAuthState(cfg, true, local, remote)
}

// NewAuthResponder returns the listener's side, as NewAuthInitiator.
func NewAuthResponder(cfg Config, local, remote identity.PeerID) (*AuthState, error) {
	return newAuthState(cfg, false, local, remote)
}

func newAuthState(cfg Config, initiator bool, local, remote identity.PeerID) (*AuthState, error) {
	c, err := cfg.check()
	if err != nil {
		return nil, err
	}
	return authFromConfig(c, initiator, local, remote)
}

func authFromConfig(c config, initiator bool, local, remote identity.PeerID) (*AuthState, error) {
	if local.IsZero() || remote.IsZero() {
		return nil, errors.New("handshake: authenticated: the transport's local and remote peer IDs are required")
	}
	return &AuthState{cfg: c, initiator: initiator, local: local, remote: remote}, nil
}

// Start returns m1. Only an initiator calls it, once, before Step.
func (s *AuthState) Start() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if !s.initiator {
		return nil, s.fail(fmt.Errorf("%w: Start called on a responder", ErrUnexpected))
	}
	if s.started {
		return nil, s.fail(fmt.Errorf("%w: Start called twice", ErrUnexpected))
	}
	m, err := s.own(s.cfg.compression, s.cfg.plaintext, roleInitiator)
	if err != nil {
		return nil, s.fail(err)
	}
	s.started = true
	return encodeAuth(m), nil
}

// own builds this side's message with the given flags.
func (s *AuthState) own(compression, plaintext bool, role byte) (authMsg, error) {
	m := authMsg{compression: compression, plaintext: plaintext, maxMessageBytes: s.cfg.maxMessageBytes}
	pub := s.cfg.key.Public()
	if identity.PeerIDFromPublicKey(pub) == s.local {
		return m, nil
	}
	sig, err := s.cfg.key.Sign(authDomain, proofMessage(role, s.local, s.remote))
	if err != nil {
		return authMsg{}, fmt.Errorf("handshake: sign identity proof: %w", err)
	}
	m.hasIdentity, m.key = true, pub
	copy(m.sig[:], sig)
	return m, nil
}

// proofMessage is what an identity proof signs.
func proofMessage(role byte, signer, verifier identity.PeerID) []byte {
	b := append([]byte{role}, signer.Bytes()...)
	return append(b, verifier.Bytes()...)
}

// Step consumes m1 (responder: returns m2 and the Result) or m2 (initiator:
// returns the Result), with State.Step's contract.
func (s *AuthState) Step(in []byte) (out []byte, res *Result, err error) {
	if s.err != nil {
		return nil, nil, s.err
	}
	if s.lastIn != nil && bytes.Equal(in, s.lastIn) {
		return bytes.Clone(s.lastOut), nil, nil
	}
	switch {
	case s.done:
		err = fmt.Errorf("%w: %d-byte message after the handshake completed", ErrUnexpected, len(in))
	case s.initiator && !s.started:
		err = fmt.Errorf("%w: Step called on an initiator before Start", ErrUnexpected)
	case len(in) > maxAuthLen:
		err = malformed(s.expecting(), "%d bytes, more than %d", len(in), maxAuthLen)
	case s.initiator:
		res, err = s.readM2(in)
	default:
		out, res, err = s.readM1(in)
	}
	if err != nil {
		return nil, nil, s.fail(err)
	}
	s.done = true
	s.lastIn, s.lastOut = bytes.Clone(in), bytes.Clone(out)
	return out, res, nil
}

func (s *AuthState) expecting() string {
	if s.initiator {
		return "m2"
	}
	return "m1"
}

// readM1 is the responder's step: authenticate, decide, answer.
func (s *AuthState) readM1(in []byte) ([]byte, *Result, error) {
	m, err := decodeAuth(in)
	if err != nil {
		return nil, nil, malformedErr("m1", err)
	}
	peer, err := s.authenticate("m1", m, roleInitiator)
	if err != nil {
		return nil, nil, err
	}
	if m.plaintext != s.cfg.plaintext {
		return nil, nil, fmt.Errorf("%w: initiator InsecurePlaintext=%t, responder InsecurePlaintext=%t",
			ErrInsecureMismatch, m.plaintext, s.cfg.plaintext)
	}
	own, err := s.own(m.compression && s.cfg.compression, s.cfg.plaintext, roleResponder)
	if err != nil {
		return nil, nil, err
	}
	return encodeAuth(own), s.result(peer, own.compression, m.maxMessageBytes), nil
}

// readM2 is the initiator's step: authenticate and check the decision.
func (s *AuthState) readM2(in []byte) (*Result, error) {
	m, err := decodeAuth(in)
	if err != nil {
		return nil, malformedErr("m2", err)
	}
	peer, err := s.authenticate("m2", m, roleResponder)
	if err != nil {
		return nil, err
	}
	if m.plaintext != s.cfg.plaintext {
		return nil, fmt.Errorf("%w: initiator InsecurePlaintext=%t, responder decided plaintext=%t",
			ErrInsecureMismatch, s.cfg.plaintext, m.plaintext)
	}
	if m.compression && !s.cfg.compression {
		return nil, malformed("m2", "responder turned on compression, which the initiator did not offer")
	}
	return s.result(peer, m.compression, m.maxMessageBytes), nil
}

// authenticate returns the peer's endpoint identity: its transport
// identity, or the one its signature proves; then checks Config.Expect.
func (s *AuthState) authenticate(msg string, m authMsg, role byte) (identity.PeerID, error) {
	peer := s.remote
	if m.hasIdentity {
		peer = identity.PeerIDFromPublicKey(m.key)
		if peer == s.remote {
			return identity.PeerID{}, malformed(msg, "identity %s sent although it is the transport's own", peer)
		}
		if !m.key.Verify(authDomain, proofMessage(role, s.remote, s.local), m.sig[:]) {
			return identity.PeerID{}, fmt.Errorf("%w: %s: proof of %s over transport peers %s, %s", ErrBadSignature, msg, peer, s.remote, s.local)
		}
	}
	if !s.cfg.expect.IsZero() && peer != s.cfg.expect {
		return identity.PeerID{}, &PeerMismatchError{Want: s.cfg.expect, Got: peer}
	}
	return peer, nil
}

func (s *AuthState) result(peer identity.PeerID, compression bool, peerMax int) *Result {
	return &Result{Peer: peer, Plaintext: s.cfg.plaintext, Compression: compression, PeerMaxMessageBytes: peerMax}
}

// fail kills the state with err and returns it.
func (s *AuthState) fail(err error) error {
	s.err, s.lastIn, s.lastOut = err, nil, nil
	return err
}
