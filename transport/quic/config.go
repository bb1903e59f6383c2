package quic

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	quicgo "github.com/quic-go/quic-go"

	"github.com/weftnet/weft/identity"
)

// Defaults of Config; doc.go says why each is what it is.
const (
	DefaultIdleTimeout       = 30 * time.Second
	DefaultHandshakeTimeout  = 5 * time.Second
	DefaultCloseTimeout      = 5 * time.Second
	DefaultStreamWindowBytes = 16 << 20
	DefaultSendBufferBytes   = 1 << 20
	DefaultRecvBufferBytes   = 1 << 20
)

// initialStreamWindow is where quic-go's window auto-tuning starts (its
// own default): it grows towards StreamWindowBytes as fast as the reader
// drains it, so an idle connection does not pin a large window.
const initialStreamWindow = 512 << 10

// Config configures a Transport. The zero value of every field but
// Identity means the default written beside it.
type Config struct {
	// Identity is this node's key. The transport's TLS certificate is bound
	// to it, and every connection proves it to the peer. Required.
	Identity identity.PrivateKey

	// IdleTimeout is how long a connection may hear nothing from its peer
	// before it dies (OnClose gets ErrReset): quic-go's MaxIdleTimeout, the
	// smaller of the two sides' applying. Default 30s.
	IdleTimeout time.Duration
	// KeepAlive is how often a connection that has nothing to send pings
	// its peer, so that neither side's IdleTimeout, nor a NAT binding, ends
	// a healthy but quiet connection. Default IdleTimeout/2 (quic-go sends
	// at most every IdleTimeout/2 anyway); negative turns keep-alives off.
	KeepAlive time.Duration
	// HandshakeTimeout bounds a QUIC and TLS handshake (quic-go's
	// HandshakeIdleTimeout: the dial fails if the peer is silent that long)
	// and the wait for an accepted connection's stream. Default 5s.
	HandshakeTimeout time.Duration
	// CloseTimeout bounds how long Close spends handing what was written to
	// quic-go (the peer's flow control may hold it back) before it resets
	// the connection. After that, the closing side waits for the peer to
	// answer its FIN for at most IdleTimeout: like a TCP socket in
	// FIN_WAIT, it keeps retransmitting to a slow but live peer, and a peer
	// that is gone is noticed at once (see doc.go, Closing). Default 5s.
	CloseTimeout time.Duration

	// StreamWindowBytes is the largest flow-control window of a
	// connection's stream (quic-go's MaxStreamReceiveWindow): what a sender
	// may have in flight to this side. The connection-level window is 1.5
	// times it. Default 16 MiB.
	StreamWindowBytes int
	// SendBufferBytes is how much written data Buffered does not count: a
	// sender that keeps Buffered at 0 has up to this much queued for
	// quic-go, like a kernel socket buffer. Default 1 MiB.
	SendBufferBytes int
	// RecvBufferBytes bounds what a connection has read from its stream
	// and not yet handed to its handler; beyond it the connection stops
	// reading and QUIC flow control holds the sender back. Default 1 MiB.
	RecvBufferBytes int

	// WrapPacketConn, if set, wraps every UDP socket the transport opens
	// before quic-go uses it. It is a testing and simulation hook (inject
	// loss, duplication, reordering; count packets). A wrapper that is not
	// a *net.UDPConn turns off quic-go's UDP optimisations (GSO, batched
	// reads, ECN), so leave it nil in production.
	WrapPacketConn func(net.PacketConn) net.PacketConn

	// Logger receives the transport's rare diagnostics. Default: silent.
	Logger *slog.Logger
}

// validate fills in the defaults and rejects nonsense, naming the field.
func (c *Config) validate() error {
	if c.Identity.IsZero() {
		return errors.New("quic: Config.Identity is required")
	}
	for name, v := range map[string]time.Duration{"IdleTimeout": c.IdleTimeout, "HandshakeTimeout": c.HandshakeTimeout, "CloseTimeout": c.CloseTimeout} {
		if v < 0 {
			return fmt.Errorf("quic: Config.%s is %v; it must not be negative", name, v)
		}
	}
	for name, v := range map[string]int{"StreamWindowBytes": c.StreamWindowBytes, "SendBufferBytes": c.SendBufferBytes, "RecvBufferBytes": c.RecvBufferBytes} {
		if v < 0 {
			return fmt.Errorf("quic: Config.%s is %d; it must not be negative", name, v)
		}
	}
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&c.CloseTimeout, DefaultCloseTimeout)
	setDefault(&c.StreamWindowBytes, DefaultStreamWindowBytes)
	setDefault(&c.SendBufferBytes, DefaultSendBufferBytes)
	setDefault(&c.RecvBufferBytes, DefaultRecvBufferBytes)
	if c.KeepAlive == 0 {
		c.KeepAlive = c.IdleTimeout / 2
	}
	if c.KeepAlive >= c.IdleTimeout {
		return fmt.Errorf("quic: Config.KeepAlive (%v) must be shorter than IdleTimeout (%v)", c.KeepAlive, c.IdleTimeout)
	}
	if c.StreamWindowBytes < initialStreamWindow {
		return fmt.Errorf("quic: Config.StreamWindowBytes is %d; it must be at least %d", c.StreamWindowBytes, initialStreamWindow)
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

// quicConfig returns quic-go's configuration. incomingStreams is how many
// bidirectional streams the peer may open: 1 on a listener (the dialer's
// stream), none on a dialer.
func (c *Config) quicConfig(incomingStreams int64) *quicgo.Config {
	keepAlive := c.KeepAlive
	if keepAlive < 0 {
		keepAlive = 0
	}
	w := uint64(c.StreamWindowBytes)
	return &quicgo.Config{
		HandshakeIdleTimeout:           c.HandshakeTimeout,
		MaxIdleTimeout:                 c.IdleTimeout,
		KeepAlivePeriod:                keepAlive,
		InitialStreamReceiveWindow:     initialStreamWindow,
		MaxStreamReceiveWindow:         w,
		InitialConnectionReceiveWindow: initialStreamWindow * 3 / 2,
		MaxConnectionReceiveWindow:     w * 3 / 2,
		MaxIncomingStreams:             incomingStreams,
		MaxIncomingUniStreams:          -1,
		EnableDatagrams:                true, // for the close nudges only (pipe.go)
	}
}
