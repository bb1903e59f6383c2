package endpoint

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
)

// Limits on configuration values.
const (
	// MaxMessageLimit is the largest MaxMessageBytes a Config may ask for.
	MaxMessageLimit = 64 << 20
	// DefaultMaxMessageBytes is the default largest message.
	DefaultMaxMessageBytes = 4 << 20
)

// Cipher names a record cipher; see Config.Ciphers.
type Cipher = handshake.Cipher

// The record ciphers.
const (
	ChaChaPoly = handshake.ChaChaPoly
	AESGCM     = handshake.AESGCM
)

// Config configures endpoints. The zero value of every field but Identity
// means the default written beside it.
type Config struct {
	// Identity is this node's key; the peer learns its peer ID from it.
	// Required.
	Identity identity.PrivateKey

	// Handler receives each message, on the endpoint's worker, in order.
	// msg is valid only during the call: copy what you keep. It must not
	// block. Nil means messages queue for Recv instead.
	Handler func(ep *Endpoint, msg []byte)
	// OnClose runs once when the endpoint ends (on no particular
	// goroutine): err is nil after a local Close whose messages were all
	// delivered; undelivered counts the messages accepted by Send that the
	// peer never acknowledged.
	OnClose func(ep *Endpoint, err error, undelivered int)

	// MaxMessageBytes is the largest message this side sends or accepts.
	// Default 4 MiB; at most 64 MiB.
	MaxMessageBytes int
	// SendBufferBytes bounds queued plus unacknowledged bytes; Send blocks
	// and TrySend fails beyond it. Default 8 MiB, raised to fit one
	// largest message.
	SendBufferBytes int
	// RecvWindowBytes bounds received bytes not yet consumed (by Handler,
	// or Recv); the peer may not send beyond it. Default 8 MiB, raised to
	// fit one largest message.
	RecvWindowBytes int

	// ResumeTimeout is how long an endpoint whose connection died waits to
	// resume it before it closes and reports what was not delivered.
	// Default 30s.
	ResumeTimeout time.Duration
	// KeepAlive is how long a connection may stay silent before the
	// endpoint pings it. Default 5s.
	KeepAlive time.Duration
	// IdleTimeout is how long without hearing anything before the
	// connection is declared dead (and resumed). Default 20s; more than
	// KeepAlive.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds one handshake. Default 10s.
	HandshakeTimeout time.Duration
	// RedialMin and RedialMax bound the jittered exponential backoff
	// between redials. Defaults 20ms and 2s.
	RedialMin, RedialMax time.Duration

	// Ciphers is the record cipher preference. Default: AESGCM first when
	// this machine has AES hardware, else ChaChaPoly first; AESGCM is used
	// only when both sides have it in hardware.
	Ciphers []Cipher
	// InsecurePlaintext turns encryption off. For tests and benchmarks
	// only: both sides must set it or the handshake fails.
	InsecurePlaintext bool
	// Compression offers S2 compression of whole records; used when both
	// sides offer it, skipped for records that do not shrink.
	Compression bool
	// DatagramPayloadBytes is the largest datagram sent on a datagram
	// transport. Default 1200.
	DatagramPayloadBytes int

	// Logger receives diagnostics. Default: silent.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Identity.IsZero() {
		return errors.New("endpoint: Config.Identity is required")
	}
	if c.MaxMessageBytes < 0 || c.MaxMessageBytes > MaxMessageLimit {
		return fmt.Errorf("endpoint: Config.MaxMessageBytes is %d; it must be between 0 (default 4 MiB) and %d", c.MaxMessageBytes, MaxMessageLimit)
	}
	for name, v := range map[string]int{"SendBufferBytes": c.SendBufferBytes, "RecvWindowBytes": c.RecvWindowBytes, "DatagramPayloadBytes": c.DatagramPayloadBytes} {
		if v < 0 {
			return fmt.Errorf("endpoint: Config.%s is %d; it must not be negative", name, v)
		}
	}
	setDefault(&c.MaxMessageBytes, DefaultMaxMessageBytes)
	setDefault(&c.SendBufferBytes, 8<<20)
	setDefault(&c.RecvWindowBytes, 8<<20)
	setDefault(&c.DatagramPayloadBytes, 1200)
	c.SendBufferBytes = max(c.SendBufferBytes, c.MaxMessageBytes+16)
	c.RecvWindowBytes = max(c.RecvWindowBytes, c.MaxMessageBytes+16)
	if c.DatagramPayloadBytes < 256 || c.DatagramPayloadBytes > 65000 {
		return fmt.Errorf("endpoint: Config.DatagramPayloadBytes is %d; it must be between 256 and 65000", c.DatagramPayloadBytes)
	}
	setDefault(&c.ResumeTimeout, 30*time.Second)
	setDefault(&c.KeepAlive, 5*time.Second)
	setDefault(&c.IdleTimeout, 20*time.Second)
	setDefault(&c.HandshakeTimeout, 10*time.Second)
	setDefault(&c.RedialMin, 20*time.Millisecond)
	setDefault(&c.RedialMax, 2*time.Second)
	if c.IdleTimeout <= c.KeepAlive {
		return fmt.Errorf("endpoint: Config.IdleTimeout (%v) must be longer than KeepAlive (%v)", c.IdleTimeout, c.KeepAlive)
	}
	if c.RedialMax < c.RedialMin {
		return fmt.Errorf("endpoint: Config.RedialMax (%v) is below RedialMin (%v)", c.RedialMax, c.RedialMin)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

func (c *Config) handshakeConfig(expect identity.PeerID) handshake.Config {
	return handshake.Config{
		Identity:          c.Identity,
		Expect:            expect,
		Ciphers:           c.Ciphers,
		InsecurePlaintext: c.InsecurePlaintext,
		Compression:       c.Compression,
		MaxMessageBytes:   c.MaxMessageBytes,
	}
}
