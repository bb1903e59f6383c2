package handshake

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/flynn/noise"
	"golang.org/x/sys/cpu"

	"github.com/weftnet/weft/identity"
)

// Cipher is a transport cipher: the AEAD that protects records after the
// handshake. Its values are the ones sent on the wire. The zero Cipher is no
// cipher: [Result.Cipher] is zero when [Result.Plaintext] is set.
type Cipher uint8

// The transport ciphers. Both are the Noise cipher functions of the same
// name (Noise spec §12), with 256-bit keys and a 64-bit counter nonce.
const (
	ChaChaPoly Cipher = 1 // ChaCha20-Poly1305; fast everywhere, constant time in software
	AESGCM     Cipher = 2 // AES-256-GCM; fastest with AES and carry-less multiply instructions
)

// String returns "ChaChaPoly", "AESGCM", "none" for the zero Cipher, or
// "Cipher(n)".
func (c Cipher) String() string {
	switch c {
	case 0:
		return "none"
	case ChaChaPoly:
		return "ChaChaPoly"
	case AESGCM:
		return "AESGCM"
	}
	return fmt.Sprintf("Cipher(%d)", uint8(c))
}

// valid reports whether c is one of the transport ciphers.
func (c Cipher) valid() bool { return c == ChaChaPoly || c == AESGCM }

// suite returns the Noise cipher suite whose cipher function is c.
func (c Cipher) suite() noise.CipherSuite {
	if c == AESGCM {
		return aesSuite
	}
	return chachaSuite
}

var (
	// chachaSuite is the suite of the handshake itself and of ChaChaPoly
	// records.
	chachaSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashSHA256)
	// aesSuite builds AESGCM record ciphers; the handshake never runs it.
	aesSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherAESGCM, noise.HashSHA256)
)

// Limits on Config.MaxMessageBytes.
const (
	// DefaultMaxMessageBytes is used when Config.MaxMessageBytes is zero:
	// 1 MiB, large enough for batches of small messages while keeping the
	// worst-case buffer per endpoint small.
	DefaultMaxMessageBytes = 1 << 20

	// MaxMessageBytesLimit is the largest MaxMessageBytes either side may
	// announce (1 GiB); larger values in a peer's message are malformed.
	MaxMessageBytesLimit = 1 << 30
)

// Config configures one side of a handshake. The zero value of every field
// but Identity means the documented default. A Config is not modified and
// may be shared between handshakes.
type Config struct {
	// Identity is this node's key. Required. Its public half and a
	// signature over this side's Noise static key are sent (encrypted) to
	// the peer.
	Identity identity.PrivateKey

	// Expect, if non-zero, is the only peer this side accepts. An initiator
	// checks it on msg2 and fails before sending msg3, so it never sends
	// anything to the wrong peer; a responder checks it on msg3. Zero
	// accepts any peer, whose ID is then in [Result.Peer].
	Expect identity.PeerID

	// Ciphers lists the transport ciphers this side allows, most preferred
	// first, without duplicates. A cipher not listed is never used. Nil
	// means AESGCM, ChaChaPoly on a CPU with AES hardware and ChaChaPoly,
	// AESGCM otherwise. The order matters only on a responder whose CPU and
	// the initiator's both have AES hardware (see the package
	// documentation).
	Ciphers []Cipher

	// InsecurePlaintext turns record encryption off: the handshake still
	// authenticates both peers, but records travel in clear text. For tests
	// and benchmarks only; both sides must set it or the handshake fails
	// with ErrInsecureMismatch. Default false.
	InsecurePlaintext bool

	// Compression offers S2 compression of records; it is used iff both
	// sides offer it. Default false.
	Compression bool

	// MaxMessageBytes is the largest message this side accepts, announced
	// to the peer (which must not send larger ones). Zero means
	// DefaultMaxMessageBytes; at most MaxMessageBytesLimit.
	MaxMessageBytes int

	// NoiseStatic is this side's Noise static X25519 key pair; Public must
	// be the public key of Private (only the sizes are checked). Zero (the
	// normal case) means a fresh key pair for every handshake: the peer's
	// identity is bound by the Ed25519 signature, not by this key. Setting
	// it saves one X25519 operation per handshake.
	NoiseStatic noise.DHKey

	// Rand is the source of the Noise ephemeral (and fresh static) keys.
	// Nil means crypto/rand.Reader.
	Rand io.Reader

	// aesHardware, if set, replaces hasAESHardware: tests force either
	// answer with it.
	aesHardware func() bool
}

// config is a validated Config with its defaults filled in.
type config struct {
	key             identity.PrivateKey
	expect          identity.PeerID
	ciphers         []Cipher // preference order
	aesHardware     bool
	plaintext       bool
	compression     bool
	maxMessageBytes int
	static          noise.DHKey
	rand            io.Reader
}

// Check returns the error NewInitiator and NewResponder return for c, or
// nil if they accept it, except for a failing Rand, which Check does not
// read: it generates no key. NewAuthInitiator and NewAuthResponder check c
// the same way. A caller that learns only later which of the two
// handshakes a connection runs checks c first, and builds nothing it
// would throw away.
func (c *Config) Check() error {
	_, err := c.check()
	return err
}

// validate checks c, fills in defaults and generates a fresh Noise static
// key if none is given. Errors name the field.
func (c *Config) validate() (config, error) {
	v, err := c.check()
	if err != nil {
		return config{}, err
	}
	if len(v.static.Private) == 0 {
		if v.static, err = noise.DH25519.GenerateKeypair(v.rand); err != nil {
			return config{}, fmt.Errorf("handshake: generate Noise static key: %w", err)
		}
	}
	return v, nil
}

// check is validate without the key generation: a zero NoiseStatic stays
// zero.
func (c *Config) check() (config, error) {
	v := config{
		key: c.Identity, expect: c.Expect, plaintext: c.InsecurePlaintext,
		compression: c.Compression, maxMessageBytes: c.MaxMessageBytes,
		rand: c.Rand, aesHardware: hasAESHardware(),
	}
	if c.aesHardware != nil {
		v.aesHardware = c.aesHardware()
	}
	if v.key.IsZero() {
		return config{}, errors.New("handshake: config: Identity is required")
	}
	if v.rand == nil {
		v.rand = rand.Reader
	}
	v.rand = &randReader{r: v.rand}
	switch {
	case v.maxMessageBytes == 0:
		v.maxMessageBytes = DefaultMaxMessageBytes
	case v.maxMessageBytes < 0 || v.maxMessageBytes > MaxMessageBytesLimit:
		return config{}, fmt.Errorf("handshake: config: MaxMessageBytes %d out of range [1, %d]", v.maxMessageBytes, MaxMessageBytesLimit)
	}
	var err error
	if v.ciphers, err = checkCiphers(c.Ciphers, v.aesHardware); err != nil {
		return config{}, err
	}
	if v.static, err = checkStatic(c.NoiseStatic); err != nil {
		return config{}, err
	}
	return v, nil
}

// checkCiphers validates a preference list, or returns the default one.
func checkCiphers(list []Cipher, aesHardware bool) ([]Cipher, error) {
	if list == nil {
		if aesHardware {
			return []Cipher{AESGCM, ChaChaPoly}, nil
		}
		return []Cipher{ChaChaPoly, AESGCM}, nil
	}
	if len(list) == 0 {
		return nil, errors.New("handshake: config: Ciphers is empty (nil means the default)")
	}
	var seen cipherSet
	for _, c := range list {
		if !c.valid() {
			return nil, fmt.Errorf("handshake: config: Ciphers: unknown cipher %v", c)
		}
		if seen.has(c) {
			return nil, fmt.Errorf("handshake: config: Ciphers: %v listed twice", c)
		}
		seen = seen.with(c)
	}
	return append([]Cipher(nil), list...), nil
}

// checkStatic checks the sizes of a configured Noise static key pair and
// copies it; the zero key pair stays zero (validate generates one). It
// does not recompute the public key, which would cost as much as
// generating a key: a Public that does not belong to Private makes every
// handshake fail to decrypt, and breaks nothing else.
func checkStatic(k noise.DHKey) (noise.DHKey, error) {
	if len(k.Private) == 0 && len(k.Public) == 0 {
		return noise.DHKey{}, nil
	}
	if len(k.Private) != 32 || len(k.Public) != 32 {
		return noise.DHKey{}, fmt.Errorf("handshake: config: NoiseStatic: %d-byte private and %d-byte public key, want 32 and 32",
			len(k.Private), len(k.Public))
	}
	return noise.DHKey{Private: bytes.Clone(k.Private), Public: bytes.Clone(k.Public)}, nil
}

// hasAESHardware reports whether this CPU has the instructions that make
// AES-GCM fast and constant time: AES-NI and PCLMULQDQ on amd64, the AES and
// PMULL extensions on arm64. Elsewhere it reports false (Go's software AES
// is neither fast nor constant time; see crypto/aes).
func hasAESHardware() bool {
	switch runtime.GOARCH {
	case "amd64":
		return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	case "arm64":
		return cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	}
	return false
}

// cipherSet is a set of transport ciphers, encoded on the wire as one byte:
// bit 0 ChaChaPoly, bit 1 AESGCM.
type cipherSet uint8

// allCiphers has every bit a cipherSet may have.
const allCiphers = cipherSet(1<<(ChaChaPoly-1) | 1<<(AESGCM-1))

// setOf returns the set of the ciphers in list.
func setOf(list []Cipher) cipherSet {
	var s cipherSet
	for _, c := range list {
		s = s.with(c)
	}
	return s
}

// has reports whether c is in s.
func (s cipherSet) has(c Cipher) bool { return c.valid() && s&(1<<(c-1)) != 0 }

// with returns s plus c (a valid cipher).
func (s cipherSet) with(c Cipher) cipherSet { return s | 1<<(c-1) }

// String lists the ciphers in s, as "[ChaChaPoly AESGCM]".
func (s cipherSet) String() string {
	var list []Cipher
	for _, c := range []Cipher{ChaChaPoly, AESGCM} {
		if s.has(c) {
			list = append(list, c)
		}
	}
	return fmt.Sprint(list)
}

// randReader remembers whether its reader failed, so that a failed Noise
// write can be blamed on Rand rather than on the peer's keys.
type randReader struct {
	r   io.Reader
	err error
}

// Read reads from the underlying reader and records its first error.
func (r *randReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}
