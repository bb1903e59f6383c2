package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
)

// Mode says what a Server does with the messages it receives, and what a
// connection dialed to it is used for.
type Mode int

const (
	// Sink servers count each message and drop it; their connections
	// only Send.
	Sink Mode = iota + 1
	// Echo servers send each message back on its connection; their
	// connections only RoundTrip.
	Echo
)

func (m Mode) String() string {
	switch m {
	case Sink:
		return "sink"
	case Echo:
		return "echo"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// The security settings. Weft takes Secure (the endpoint's default cipher
// preference), AESGCM, ChaChaPoly or Plaintext; the peers report what they
// use (TLS for quic-go, Noise or Plaintext for libp2p).
const (
	Secure     = "secure"
	AESGCM     = "aesgcm"
	ChaChaPoly = "chachapoly"
	Plaintext  = "plaintext"
	TLS        = "tls"
	Noise      = "noise"
)

// The systems: weft and the peers it is measured beside.
const (
	Weft   = "weft"
	RawTCP = "raw-tcp"
	Gnet   = "gnet"
	QUICGo = "quic-go"
	Libp2p = "libp2p"
)

// Variant is one configuration of one system: a row of the report.
type Variant struct {
	System      string `json:"system"`
	Transport   string `json:"transport"`
	Security    string `json:"security"`
	Workers     int    `json:"workers"` // event loops (weft, gnet); 0: GOMAXPROCS
	Compression bool   `json:"compression"`
}

// Secure reports whether the variant encrypts its traffic.
func (v Variant) Secure() bool { return v.Security != Plaintext }

// String names the variant the way the table shows it.
func (v Variant) String() string {
	s := v.System + " " + v.Transport + " " + v.Security
	if v.Workers > 0 {
		s += fmt.Sprintf(" w%d", v.Workers)
	}
	if v.Compression {
		s += " s2"
	}
	return s
}

// ServerSpec says what server to start.
type ServerSpec struct {
	Variant         Variant `json:"variant"`
	Mode            Mode    `json:"mode"`
	MaxMessageBytes int     `json:"max_message_bytes"`
}

// System is a messaging system under test. Its servers and dialers listen
// and dial on loopback only.
type System interface {
	// Listen starts a server.
	Listen(ctx context.Context, spec ServerSpec) (Server, error)
	// NewDialer returns what opens connections to servers of v (a node:
	// weft's Driver, a libp2p host, a QUIC transport).
	NewDialer(ctx context.Context, v Variant, maxMessageBytes int) (Dialer, error)
	// Close releases what the system shares between its servers and
	// dialers (weft's in-memory network).
	Close() error
}

// Server receives messages on any number of connections.
type Server interface {
	// Addr is what Dialer.Dial takes: the system's own address format.
	Addr() string
	// Received returns the messages received so far, on all connections.
	Received() uint64
	// WaitReceived returns once Received is at least n, or ctx ends.
	WaitReceived(ctx context.Context, n uint64) error
	// Close closes the server and its connections.
	Close() error
}

// Dialer opens connections.
type Dialer interface {
	// Dial connects to a server; mode is the server's.
	Dial(ctx context.Context, addr string, mode Mode) (Conn, error)
	// Close closes the dialer and every connection it opened.
	Close() error
}

// Conn is one connection (or stream). Its methods are called from one
// goroutine at a time.
type Conn interface {
	// Send sends n copies of msg to a Sink server. It returns once the
	// system has taken them (queued or written), not when they arrive.
	Send(ctx context.Context, msg []byte, n int) error
	// RoundTrip sends msg to an Echo server and waits for it to come back.
	RoundTrip(ctx context.Context, msg []byte) error
	// Close closes the connection.
	Close() error
}

// ErrUnknown is returned for a system or transport name that is not
// registered.
var ErrUnknown = errors.New("bench: unknown name")

// systemEntry describes a registered system.
type systemEntry struct {
	open func() System
	// variants lists the system's rows for a configuration.
	variants func(cfg *Config) []Variant
}

var systems = map[string]systemEntry{}

// registerSystem adds a system; the system files call it from init.
func registerSystem(name string, e systemEntry) { systems[name] = e }

// Systems returns the names of the registered systems, weft first.
func Systems() []string {
	names := make([]string, 0, len(systems))
	for n := range systems {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := systemRank(names[i]), systemRank(names[j])
		return ri < rj || ri == rj && names[i] < names[j]
	})
	return names
}

// systemRank orders the systems in reports: weft, then its peers.
func systemRank(name string) int {
	for i, n := range []string{Weft, RawTCP, Gnet, QUICGo, Libp2p} {
		if n == name {
			return i
		}
	}
	return 100
}

// openSystem returns a fresh instance of the named system.
func openSystem(name string) (System, error) {
	e, ok := systems[name]
	if !ok {
		return nil, fmt.Errorf("bench: system %q: %w", name, ErrUnknown)
	}
	return e.open(), nil
}

// counter counts received messages and wakes one waiter when a target is
// reached. Every system's server uses it, so the harness costs each the
// same: one atomic add and one atomic load per call of add.
type counter struct {
	n      atomic.Uint64
	target atomic.Uint64
	wake   chan struct{}
}

func newCounter() *counter {
	c := &counter{wake: make(chan struct{}, 1)}
	c.target.Store(math.MaxUint64)
	return c
}

func (c *counter) add(k uint64) {
	if c.n.Add(k) >= c.target.Load() {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// Received implements Server.
func (c *counter) Received() uint64 { return c.n.Load() }

// WaitReceived implements Server. One waiter at a time.
func (c *counter) WaitReceived(ctx context.Context, n uint64) error {
	c.target.Store(n)
	defer c.target.Store(math.MaxUint64)
	for c.n.Load() < n {
		select {
		case <-c.wake:
		case <-ctx.Done():
			return fmt.Errorf("bench: received %d of %d messages: %w", c.n.Load(), n, ctx.Err())
		}
	}
	return nil
}

// closers closes what was registered, last first, once.
type closers struct {
	mu   sync.Mutex
	fns  []func() error
	done bool
}

func (c *closers) add(fn func() error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return false
	}
	c.fns = append(c.fns, fn)
	return true
}

func (c *closers) close() error {
	c.mu.Lock()
	fns := c.fns
	c.fns, c.done = nil, true
	c.mu.Unlock()
	var errs []error
	for i := len(fns) - 1; i >= 0; i-- {
		errs = append(errs, fns[i]())
	}
	return errors.Join(errs...)
}
