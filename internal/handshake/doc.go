// Package handshake is the endpoint's authenticated key exchange: a Noise XX
// handshake whose payloads bind each side's Noise static key to its Ed25519
// node identity and negotiate how records are protected afterwards.
//
// It is a pure state machine for an event loop: no I/O, goroutines, clocks
// or blocking. The caller (the endpoint) frames messages on the wire (a
// 2-byte length prefix on streams, one datagram per message on datagram
// links), feeds each whole inbound message to [State.Step], sends what Step
// returns, and retransmits its last message on datagram links:
//
//	// dialer                                  // listener
//	st, _ := handshake.NewInitiator(cfg)       st, _ := handshake.NewResponder(cfg)
//	msg1, err := st.Start()                    // for each inbound message in:
//	send(msg1)                                 out, res, err := st.Step(in)
//	// for each inbound message in:            if err != nil { close; return }
//	out, res, err := st.Step(in)               if out != nil { send(out) }
//	if err != nil { close; return }            if res != nil { use res }
//	if out != nil { send(out) }
//	if res != nil { use res }
//
// This comment is the protocol's specification.
//
// Over a transport that has already authenticated the peer and encrypts
// (transport.Authenticated: QUIC's TLS 1.3 with the certificate binding of
// certificate.go, a libp2p stream), the endpoint runs [AuthState] instead:
// one plaintext negotiation message each way inside the transport's
// encryption (authenticated.go documents its format), no Noise.
// [NewAuthInitiator] and [NewAuthResponder] build no Noise state (no key
// generation, no signature); a caller that learns only from the connection
// which handshake it runs checks its Config first with [Config.Check].
//
// # Noise
//
// The protocol is Noise_XX_25519_ChaChaPoly_SHA256 (the Noise Protocol Framework, as
// implemented by github.com/flynn/noise) with the prologue
// "weft-handshake-v1". Each side's Noise static key is a fresh X25519 key
// pair per handshake unless Config.NoiseStatic supplies one: identity comes
// from the Ed25519 signature in the payload, not from the static key. Every
// handshake message is at most [MaxHandshakeMessageBytes] (65535) bytes;
// larger inputs are rejected before any processing. All payloads start with
// a version byte, 1; a decoder rejects any other version, unknown flag bits,
// non-minimal or out-of-range integers, and trailing bytes, so every valid
// payload has exactly one encoding.
//
// # msg1, initiator to responder: e, payload = offer
//
// The offer is sent in clear text, but is mixed into the handshake hash, so
// any change to it makes the initiator fail to decrypt msg2:
//
//	version          1 byte   1
//	flags            1 byte   0x01 this CPU has AES hardware
//	                          0x02 offers compression (Config.Compression)
//	                          0x04 asks for plaintext (Config.InsecurePlaintext)
//	ciphers          1 byte   ciphers the initiator allows: 0x01 ChaChaPoly,
//	                          0x02 AESGCM; not zero
//	maxMessageBytes  uvarint  largest message the initiator accepts,
//	                          1..MaxMessageBytesLimit
//
// "AES hardware" means AES-NI and PCLMULQDQ on amd64, or the AES and PMULL
// extensions on arm64 (golang.org/x/sys/cpu); never elsewhere. A passive
// observer learns these flags.
//
// # Decision, by the responder on msg1
//
//  1. If exactly one side set InsecurePlaintext, fail with
//     [ErrInsecureMismatch]. If both did, the decision is plaintext: no
//     cipher (and no cipher check).
//  2. Otherwise the common ciphers are those in both the offer and the
//     responder's Config.Ciphers; if there are none, fail with
//     [ErrNoCommonCipher]. If both sides have AES hardware, choose the first
//     common cipher in the responder's preference order (AESGCM first by
//     default on such a CPU). If not, choose ChaChaPoly if it is common (AES
//     without hardware is slow and not constant time), else AESGCM. With the
//     default preferences this is: AESGCM iff both sides have AES hardware
//     and neither side's Config.Ciphers leaves it out, else ChaChaPoly.
//  3. Compression is on iff both sides offered it.
//
// A responder that fails sends nothing; the caller closes the connection.
//
// # msg2, responder to initiator: e, ee, s, es, payload = identity + decision
//
// The payload is encrypted (ChaChaPoly, under keys from ee and es):
//
//	version          1 byte    1
//	identity key     32 bytes  the responder's Ed25519 public key
//	signature        64 bytes  identity.Sign("weft-noise-static", s), where s
//	                           is the responder's Noise static public key
//	flags            1 byte    0x01 compression on, 0x02 plaintext
//	cipher           1 byte    1 ChaChaPoly, 2 AESGCM; 0 iff plaintext
//	maxMessageBytes  uvarint   largest message the responder accepts
//
// The initiator, in this order:
//
//  1. decrypts msg2 (a tampered msg1 or msg2 fails here, [ErrMalformed]);
//  2. verifies the signature over the static key s that msg2 just carried,
//     with the identity key from the payload ([ErrBadSignature]). Noise's es
//     proves the responder holds s's private key and the signature proves s
//     belongs to the identity key, so the responder is that identity;
//  3. derives the peer ID ([identity.PeerIDFromPublicKey]) and, if
//     Config.Expect is set, fails with a [*PeerMismatchError] unless they are
//     equal;
//  4. checks the decision against its offer: plaintext must equal what it
//     asked for ([ErrInsecureMismatch]), compression may be on only if it
//     offered it ([ErrMalformed]), and the cipher must be one it allows
//     ([ErrNoCommonCipher]).
//
// Only then does it write msg3; after any failure it writes nothing, so no
// application data ever reaches a peer that failed these checks.
//
// # msg3, initiator to responder: s, se, payload = identity
//
// Encrypted under keys from ee, es and se:
//
//	version          1 byte    1
//	identity key     32 bytes  the initiator's Ed25519 public key
//	signature        64 bytes  identity.Sign("weft-noise-static", s), where s
//	                           is the initiator's Noise static public key
//
// The responder decrypts it, verifies the signature as in step 2 above (se
// proves the initiator holds s), derives the peer ID and checks its own
// Config.Expect, if set.
//
// # Transport keys
//
// After msg3 both sides run Noise's Split. The two 32-byte keys (initiator
// to responder, responder to initiator) are taken out of the ChaChaPoly
// cipher states and put into new cipher states of the decided cipher, with
// nonce 0: [Result.Send], [Result.Recv], and the raw [Result.SendKey] and
// [Result.RecvKey] for explicit-nonce use. Using AESGCM for records although
// the handshake ran ChaChaPoly is safe because the keys come from the same
// HKDF output either way, and the decision is bound to the transcript: msg1's
// offer is hashed, msg2's and msg3's payloads are AEAD-protected and hashed,
// so an attacker who changes any of them (to force plaintext, a weaker
// cipher, or to strip compression) makes a decryption fail. In plaintext mode
// there are no cipher states and both keys are zero; the peers are still
// authenticated, but records are not protected at all.
//
// The handshake gives no replay protection for records, no rekeying and no
// nonce limits beyond Noise's own; those belong to the record layer.
//
// # Errors and retransmission
//
// Every error from [State.Start] and [State.Step] wraps one of
// [ErrPeerMismatch], [ErrInsecureMismatch], [ErrNoCommonCipher],
// [ErrBadSignature], [ErrMalformed] or [ErrUnexpected] (or, for a failing
// Config.Rand, that error) and kills the State: every later call returns the
// same error. Step never panics on any input. Step given an exact copy of the
// message it consumed last returns its reply to it again without changing
// state, so on a datagram link a lost msg2 or msg3 is repaired by the peer
// retransmitting msg1 or msg2.
package handshake
