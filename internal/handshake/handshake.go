package handshake

import (
	"bytes"
	"fmt"

	"github.com/flynn/noise"

	"github.com/weftnet/weft/identity"
)

// MaxHandshakeMessageBytes bounds every handshake message (the Noise
// limit, and what a 2-byte length prefix can frame). Step rejects larger
// inputs as malformed.
const MaxHandshakeMessageBytes = noise.MaxMsgLen

const (
	// prologue is mixed into the Noise transcript by both sides.
	prologue = "weft-handshake-v1"
	// signatureDomain is the identity signature domain over a Noise static
	// public key (see identity.PrivateKey.Sign).
	signatureDomain = "weft-noise-static"
)

// Result is the outcome of a completed handshake on one side. Both sides
// agree on Cipher, Plaintext and Compression, and one side's Send (SendKey)
// is the other's Recv (RecvKey).
type Result struct {
	Peer identity.PeerID // the identity the peer proved

	Cipher              Cipher // transport cipher; zero when Plaintext
	Plaintext           bool   // records are not encrypted (both sides set InsecurePlaintext)
	Compression         bool   // both sides offered compression
	PeerMaxMessageBytes int    // the largest message the peer accepts

	// Send and Recv encrypt records to and decrypt records from the peer,
	// with counter nonces starting at 0; nil when Plaintext. Calling
	// Cipher() on one (for explicit nonces) disables its Encrypt/Decrypt,
	// as flynn/noise documents.
	Send, Recv *noise.CipherState

	// SendKey and RecvKey are the raw keys of Send and Recv, for building
	// other cipher states (for example with explicit nonces on datagram
	// links); zero when Plaintext. Secret.
	SendKey, RecvKey [32]byte
}

// phase is where a State is in the protocol.
type phase uint8

const (
	phaseStart     phase = iota // initiator, before Start
	phaseAwaitMsg1              // responder
	phaseAwaitMsg2              // initiator, msg1 sent
	phaseAwaitMsg3              // responder, msg2 sent
	phaseDone                   // Result returned
)

// State is one side of one handshake: a state machine fed whole inbound
// messages by [State.Step]. It does no I/O, starts no goroutines and keeps
// no time; the caller frames messages and retransmits them on datagram
// links. A State is not safe for concurrent use.
type State struct {
	cfg       config
	initiator bool
	hs        *noise.HandshakeState // nil once done or failed
	phase     phase
	hello     hello // this side's identity payload
	offer     offer // initiator: sent; responder: received
	decision  decision
	lastIn    []byte // the message Step last consumed
	lastOut   []byte // the message Step returned for it
	err       error  // sticky
}

// NewInitiator returns the State of the side that sends msg1 (the dialer).
// It fails only for an invalid Config or a failing Rand.
func NewInitiator(cfg Config) (*State, error) {
	s, err := newState(cfg, true)
	if err != nil {
		return nil, err
	}
	s.offer = offer{
		aesHardware: s.cfg.aesHardware, compression: s.cfg.compression,
		plaintext: s.cfg.plaintext, ciphers: setOf(s.cfg.ciphers),
		maxMessageBytes: s.cfg.maxMessageBytes,
	}
	return s, nil
}

// NewResponder returns the State of the side that receives msg1 (the
// listener). It fails only for an invalid Config or a failing Rand.
func NewResponder(cfg Config) (*State, error) {
	s, err := newState(cfg, false)
	if err != nil {
		return nil, err
	}
	s.phase = phaseAwaitMsg1
	return s, nil
}

// newState validates cfg, signs the Noise static key and starts Noise.
func newState(cfg Config, initiator bool) (*State, error) {
	c, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	sig, err := c.key.Sign(signatureDomain, c.static.Public)
	if err != nil {
		return nil, fmt.Errorf("handshake: sign Noise static key: %w", err)
	}
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   chachaSuite,
		Random:        c.rand,
		Pattern:       noise.HandshakeXX,
		Initiator:     initiator,
		Prologue:      []byte(prologue),
		StaticKeypair: c.static,
	})
	if err != nil {
		return nil, fmt.Errorf("handshake: start Noise: %w", err)
	}
	s := &State{cfg: c, initiator: initiator, hs: hs, hello: hello{key: c.key.Public()}}
	copy(s.hello.sig[:], sig)
	return s, nil
}

// Start returns msg1. Only an initiator calls it, once, before Step.
func (s *State) Start() ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if !s.initiator {
		return nil, s.fail(fmt.Errorf("%w: Start called on a responder", ErrUnexpected))
	}
	if s.phase != phaseStart {
		return nil, s.fail(fmt.Errorf("%w: Start called twice", ErrUnexpected))
	}
	out, _, _, err := s.hs.WriteMessage(nil, encodeOffer(s.offer))
	if err != nil {
		return nil, s.fail(s.writeError("msg1", err))
	}
	s.phase = phaseAwaitMsg2
	return out, nil
}

// Step consumes one whole inbound handshake message and returns the
// message to send in reply (nil if none) and, on the call that completes the
// handshake on this side, the Result:
//
//	responder: Step(msg1) = msg2, nil; Step(msg3) = nil, Result
//	initiator: Step(msg2) = msg3, Result (Start gave msg1)
//
// Step does not retain in; the caller owns out. Given an exact copy of the
// message it consumed last (a retransmission on a datagram link: the peer
// did not receive our reply), Step returns that reply again and changes
// nothing.
//
// An error kills the State: this and every later call return it. Errors
// wrap one of the sentinels of this package (errors from a failing
// Config.Rand wrap that error instead). Step never panics, whatever in
// holds.
func (s *State) Step(in []byte) (out []byte, res *Result, err error) {
	if s.err != nil {
		return nil, nil, s.err
	}
	if s.lastIn != nil && bytes.Equal(in, s.lastIn) {
		return bytes.Clone(s.lastOut), nil, nil
	}
	if len(in) > MaxHandshakeMessageBytes {
		return nil, nil, s.fail(malformed(s.expecting(), "%d bytes, more than %d", len(in), MaxHandshakeMessageBytes))
	}
	switch s.phase {
	case phaseAwaitMsg1:
		out, err = s.readMsg1(in)
	case phaseAwaitMsg2:
		out, res, err = s.readMsg2(in)
	case phaseAwaitMsg3:
		res, err = s.readMsg3(in)
	case phaseStart:
		err = fmt.Errorf("%w: Step called on an initiator before Start", ErrUnexpected)
	default:
		err = fmt.Errorf("%w: %d-byte message after the handshake completed", ErrUnexpected, len(in))
	}
	if err != nil {
		return nil, nil, s.fail(err)
	}
	s.lastIn, s.lastOut = bytes.Clone(in), bytes.Clone(out)
	return out, res, nil
}

// readMsg1 is the responder's first step: read the offer, decide, and
// write msg2.
func (s *State) readMsg1(in []byte) ([]byte, error) {
	payload, _, _, err := s.hs.ReadMessage(nil, in)
	if err != nil {
		return nil, malformedErr("msg1", err)
	}
	if s.offer, err = decodeOffer(payload); err != nil {
		return nil, malformedErr("msg1 payload", err)
	}
	if s.decision, err = decide(s.offer, &s.cfg); err != nil {
		return nil, err
	}
	h := s.hello
	h.hasDecision, h.decision = true, s.decision
	out, _, _, err := s.hs.WriteMessage(nil, encodeHello(h))
	if err != nil {
		return nil, s.writeError("msg2", err)
	}
	s.phase = phaseAwaitMsg3
	return out, nil
}

// readMsg2 is the initiator's step: authenticate the responder, check its
// decision against the offer, and write msg3.
func (s *State) readMsg2(in []byte) ([]byte, *Result, error) {
	payload, _, _, err := s.hs.ReadMessage(nil, in)
	if err != nil {
		return nil, nil, malformedErr("msg2", err)
	}
	h, err := decodeHello(payload, true)
	if err != nil {
		return nil, nil, malformedErr("msg2 payload", err)
	}
	peer, err := s.authenticate("msg2", h)
	if err != nil {
		return nil, nil, err
	}
	if err := checkDecision(s.offer, h.decision); err != nil {
		return nil, nil, err
	}
	s.decision = h.decision
	out, send, recv, err := s.hs.WriteMessage(nil, encodeHello(s.hello))
	if err != nil {
		return nil, nil, s.writeError("msg3", err)
	}
	return out, s.finish(peer, h.decision.maxMessageBytes, send, recv), nil
}

// readMsg3 is the responder's last step: authenticate the initiator.
func (s *State) readMsg3(in []byte) (*Result, error) {
	payload, recv, send, err := s.hs.ReadMessage(nil, in)
	if err != nil {
		return nil, malformedErr("msg3", err)
	}
	h, err := decodeHello(payload, false)
	if err != nil {
		return nil, malformedErr("msg3 payload", err)
	}
	peer, err := s.authenticate("msg3", h)
	if err != nil {
		return nil, err
	}
	return s.finish(peer, s.offer.maxMessageBytes, send, recv), nil
}

// authenticate checks the peer's signature over the Noise static key it
// just proved it holds, and Config.Expect.
func (s *State) authenticate(msg string, h hello) (identity.PeerID, error) {
	peer := identity.PeerIDFromPublicKey(h.key)
	if !h.key.Verify(signatureDomain, s.hs.PeerStatic(), h.sig[:]) {
		return identity.PeerID{}, fmt.Errorf("%w: %s: signature of %s over the Noise static key", ErrBadSignature, msg, peer)
	}
	if !s.cfg.expect.IsZero() && peer != s.cfg.expect {
		return identity.PeerID{}, &PeerMismatchError{Want: s.cfg.expect, Got: peer}
	}
	return peer, nil
}

// finish builds the Result from Noise's split cipher states, rebuilt with
// the decided cipher.
func (s *State) finish(peer identity.PeerID, peerMax int, send, recv *noise.CipherState) *Result {
	d := s.decision
	r := &Result{Peer: peer, Cipher: d.cipher, Plaintext: d.plaintext, Compression: d.compression, PeerMaxMessageBytes: peerMax}
	if !d.plaintext {
		r.SendKey, r.RecvKey = send.UnsafeKey(), recv.UnsafeKey()
		r.Send = noise.UnsafeNewCipherState(d.cipher.suite(), r.SendKey, 0)
		r.Recv = noise.UnsafeNewCipherState(d.cipher.suite(), r.RecvKey, 0)
	}
	s.hs, s.phase = nil, phaseDone
	return r
}

// writeError explains a failure to write msg: Config.Rand failed, or a
// Diffie-Hellman with the peer's ephemeral key failed because it is a
// low-order point (the peer's message was malformed).
func (s *State) writeError(msg string, err error) error {
	if rr, ok := s.cfg.rand.(*randReader); ok && rr.err != nil {
		return fmt.Errorf("handshake: write %s: Rand: %w", msg, err)
	}
	return malformedErr(s.expecting()+": ephemeral key", err)
}

// fail kills the State with err and returns it.
func (s *State) fail(err error) error {
	s.err, s.hs, s.lastIn, s.lastOut = err, nil, nil, nil
	return err
}

// expecting names the message this side waits for, in errors.
func (s *State) expecting() string {
	switch s.phase {
	case phaseAwaitMsg1:
		return "msg1"
	case phaseAwaitMsg2:
		return "msg2"
	case phaseAwaitMsg3:
		return "msg3"
	}
	return "message"
}

// decide is the responder's choice for an offer (see the package
// documentation, "Decision").
func decide(o offer, c *config) (decision, error) {
	if o.plaintext != c.plaintext {
		return decision{}, fmt.Errorf("%w: initiator InsecurePlaintext=%t, responder InsecurePlaintext=%t",
			ErrInsecureMismatch, o.plaintext, c.plaintext)
	}
	d := decision{compression: o.compression && c.compression, plaintext: c.plaintext, maxMessageBytes: c.maxMessageBytes}
	if d.plaintext {
		return d, nil
	}
	d.cipher = chooseCipher(c.ciphers, o.ciphers, o.aesHardware && c.aesHardware)
	if d.cipher == 0 {
		return decision{}, fmt.Errorf("%w: initiator allows %v, responder allows %v", ErrNoCommonCipher, o.ciphers, c.ciphers)
	}
	return d, nil
}

// chooseCipher picks the transport cipher from the responder's preference
// list and the initiator's set, or returns zero if they share none. When
// both CPUs have AES hardware the responder's preference decides; otherwise
// ChaChaPoly is chosen whenever both allow it, as AES-GCM without hardware
// is slow and not constant time.
func chooseCipher(pref []Cipher, peer cipherSet, bothAESHardware bool) Cipher {
	common := setOf(pref) & peer
	if !bothAESHardware && common.has(ChaChaPoly) {
		return ChaChaPoly
	}
	for _, c := range pref {
		if common.has(c) {
			return c
		}
	}
	return 0
}

// checkDecision is the initiator's check of the responder's decision
// against its own offer.
func checkDecision(o offer, d decision) error {
	if d.plaintext != o.plaintext {
		return fmt.Errorf("%w: initiator InsecurePlaintext=%t, responder decided plaintext=%t",
			ErrInsecureMismatch, o.plaintext, d.plaintext)
	}
	if d.compression && !o.compression {
		return malformed("msg2 payload", "responder turned on compression, which the initiator did not offer")
	}
	if !d.plaintext && !o.ciphers.has(d.cipher) {
		return fmt.Errorf("%w: responder chose %v, initiator allows %v", ErrNoCommonCipher, d.cipher, o.ciphers)
	}
	return nil
}
