package libp2p

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// DefaultProtocol is the stream protocol weft endpoints speak over libp2p.
const DefaultProtocol protocol.ID = "/weft/endpoint/1.0.0"

// Defaults of Config; doc.go says why each is what it is.
const (
	DefaultCloseTimeout    = 5 * time.Second
	DefaultSendBufferBytes = 1 << 20
	DefaultRecvBufferBytes = 1 << 20
)

// Config configures a Transport. The zero value of every field but Host
// means the default written beside it.
type Config struct {
	// Host is the go-libp2p host the transport opens and accepts streams
	// on. Its key must be Ed25519 (go-libp2p's default), so that its peer
	// ID is a weft identity.PeerID. Required. The transport never closes
	// it: close the host after the transport's connections.
	Host host.Host

	// Protocol is the protocol ID of the transport's streams. Both sides
	// must use the same one. Default DefaultProtocol.
	Protocol protocol.ID

	// CloseTimeout bounds how long Close spends flushing what was written
	// and then waiting for the peer to close its side, before it resets
	// the stream. Default 5s.
	CloseTimeout time.Duration

	// SendBufferBytes is how much written data Buffered does not count: a
	// sender that keeps Buffered at 0 has up to this much queued for the
	// stream, like a kernel socket buffer. Default 1 MiB.
	SendBufferBytes int
	// RecvBufferBytes bounds what a connection has read from its stream
	// and not yet handed to its handler; beyond it the connection stops
	// reading, and yamux's (or QUIC's) flow control holds the sender back.
	// Default 1 MiB.
	RecvBufferBytes int

	// AllowLimitedConn lets Dial open its stream over a limited connection
	// (a circuit relay's, capped in time and bytes) when that is all the
	// host has to the peer. Default false: like go-libp2p's NewStream,
	// Dial then waits, until its context ends, for a direct connection
	// (which hole punching may open).
	AllowLimitedConn bool

	// Logger receives the transport's rare diagnostics. Default: silent.
	Logger *slog.Logger
}

// validate fills in the defaults and rejects nonsense, naming the field.
func (c *Config) validate() error {
	if c.Host == nil {
		return errors.New("libp2p: Config.Host is required")
	}
	if c.CloseTimeout < 0 {
		return fmt.Errorf("libp2p: Config.CloseTimeout is %v; it must not be negative", c.CloseTimeout)
	}
	for name, v := range map[string]int{"SendBufferBytes": c.SendBufferBytes, "RecvBufferBytes": c.RecvBufferBytes} {
		if v < 0 {
			return fmt.Errorf("libp2p: Config.%s is %d; it must not be negative", name, v)
		}
	}
	if c.Protocol == "" {
		c.Protocol = DefaultProtocol
	}
	if c.Protocol[0] != '/' {
		return fmt.Errorf("libp2p: Config.Protocol %q must start with '/'", c.Protocol)
	}
	setDefault(&c.CloseTimeout, DefaultCloseTimeout)
	setDefault(&c.SendBufferBytes, DefaultSendBufferBytes)
	setDefault(&c.RecvBufferBytes, DefaultRecvBufferBytes)
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
