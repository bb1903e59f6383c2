package hub

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
)

// Config configures a Hub. Driver, Identity and Transports are required;
// the zero value of every other field means the default written beside it.
type Config struct {
	// Driver runs the hub's endpoints. The hub does not close it. Required.
	Driver *driver.Driver
	// Identity is this node's key. Required.
	Identity identity.PrivateKey
	// Transports carry the hub's connections. Each address, to listen on
	// or to dial, goes to the first transport whose Handles accepts it.
	// Required: at least one.
	Transports []transport.Transport
	// ListenAddrs are where the hub accepts members' connections (port 0
	// picks a free port; Hub.Addrs tells which). Default: none, the hub
	// only dials.
	ListenAddrs []ma.Multiaddr
	// Peers are the initial members: each a peer ID and the addresses to
	// dial it at (any transport). A member without addresses is only
	// accepted, never dialed. Our own ID is not allowed. Default: none;
	// AddPeer adds more.
	Peers []identity.Contact

	// Handler receives every message and request from members. It runs on
	// the goroutine that reads the sender's lane, one message at a time
	// per member and lane, in order; while it runs, that lane of that
	// member waits (a slow handler slows only its sender). m.Payload is
	// valid only until the handler returns (its buffer is reused): copy
	// what you keep; m.Reply and m.Fail may still be called later. Nil:
	// messages are dropped and requests answered with an error.
	// SetHandler replaces it.
	Handler func(m *Message)
	// OnPeerEvent hears every member going up (all lanes connected) or
	// down, in order, on one goroutine of the hub's. It must not call
	// Close. Nil: no events.
	OnPeerEvent func(PeerEvent)

	// Endpoint is the template of every endpoint the hub opens or accepts
	// (limits, timeouts, ciphers). Its Identity, Handler and OnClose are
	// set by the hub. Default: endpoint's defaults. Its ResumeTimeout is
	// how long a member whose connection died may take to come back
	// before the hub declares it down.
	Endpoint endpoint.Config

	// RedialMin and RedialMax bound the jittered exponential backoff
	// between attempts to connect a member's lane. Defaults 50ms and 5s.
	RedialMin, RedialMax time.Duration
	// DialTimeout bounds one attempt (transport dial and handshake).
	// Default 10s.
	DialTimeout time.Duration
	// HelloTimeout bounds how long a new connection may take to be
	// activated (or refused) after its handshake. Default 10s.
	HelloTimeout time.Duration
	// RequestTimeout bounds Request and Quorum calls whose context has no
	// deadline. Default 10s.
	RequestTimeout time.Duration

	// Logger receives diagnostics; refusals are logged at Info. Default:
	// silent.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Driver == nil:
		return errors.New("hub: Config.Driver is required")
	case c.Identity.IsZero():
		return errors.New("hub: Config.Identity is required")
	case len(c.Transports) == 0:
		return errors.New("hub: Config.Transports is required (at least one)")
	}
	for i, t := range c.Transports {
		if t == nil {
			return fmt.Errorf("hub: Config.Transports[%d] is nil", i)
		}
	}
	for name, v := range map[string]time.Duration{"RedialMin": c.RedialMin, "RedialMax": c.RedialMax,
		"DialTimeout": c.DialTimeout, "HelloTimeout": c.HelloTimeout, "RequestTimeout": c.RequestTimeout} {
		if v < 0 {
			return fmt.Errorf("hub: Config.%s is %v; it must not be negative", name, v)
		}
	}
	setDefault(&c.RedialMin, 50*time.Millisecond)
	setDefault(&c.RedialMax, 5*time.Second)
	setDefault(&c.DialTimeout, 10*time.Second)
	setDefault(&c.HelloTimeout, 10*time.Second)
	setDefault(&c.RequestTimeout, 10*time.Second)
	if c.RedialMax < c.RedialMin {
		return fmt.Errorf("hub: Config.RedialMax (%v) is below RedialMin (%v)", c.RedialMax, c.RedialMin)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Endpoint.Identity = c.Identity
	c.Endpoint.Handler = nil
	if c.Endpoint.Logger == nil {
		c.Endpoint.Logger = c.Logger
	}
	return nil
}

func setDefault(v *time.Duration, def time.Duration) {
	if *v == 0 {
		*v = def
	}
}
