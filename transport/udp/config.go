package udp

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/weftnet/weft/internal/udpwire"
)

// Defaults of the zero fields of Config.
const (
	// DefaultMaxDatagramBytes is the default MaxDatagram of a connection:
	// with the one-byte header and the IPv6 and UDP headers it fits the
	// 1280-byte minimum MTU of IPv6, so it is never fragmented (QUIC's
	// choice, and the endpoint's default DatagramPayloadBytes).
	DefaultMaxDatagramBytes = 1200
	// DefaultMaxConns is the default number of connections a listener
	// keeps, one per remote address.
	DefaultMaxConns = 4096
	// DefaultMaxQueued is the default number of datagrams a listener
	// holds for one connection while handing them over to its worker.
	DefaultMaxQueued = 64
	// DefaultSocketBuffer is the default SO_SNDBUF and SO_RCVBUF.
	DefaultSocketBuffer = 4 << 20
	// DefaultResetsPerSecond is the default rate of RESET datagrams a
	// listener sends.
	DefaultResetsPerSecond = 1000
	// maxDatagramLimit is the largest UDP payload over IPv4 (65535 less
	// the IP and UDP headers) less the INITIAL header.
	maxDatagramLimit = 65507 - udpwire.InitialOverhead
)

// Config configures a Transport. The zero value is usable: every zero
// field means the default written beside it.
type Config struct {
	// MaxDatagramBytes is the largest packet Write accepts (Conn.MaxDatagram)
	// and the largest payload a connection receives; bigger ones are
	// dropped and counted (Stats.DroppedTooLarge). Default
	// DefaultMaxDatagramBytes (1200); at most 65504.
	MaxDatagramBytes int
	// MaxConns bounds the connections a listener keeps (one per remote
	// address). INITIAL datagrams from new addresses beyond it are
	// dropped and counted (Stats.DroppedConnLimit). Default
	// DefaultMaxConns (4096).
	MaxConns int
	// MaxQueued bounds the datagrams a listener holds for one connection
	// while they wait to be handed to its worker; beyond it they are
	// dropped and counted (Stats.DroppedQueueFull). Default
	// DefaultMaxQueued (64).
	MaxQueued int
	// ResetsPerSecond bounds the RESET datagrams a listener sends to
	// addresses it has no connection for (bursts of up to a tenth of a
	// second's worth). Default DefaultResetsPerSecond (1000).
	ResetsPerSecond int
	// SocketSendBuffer and SocketRecvBuffer set SO_SNDBUF and SO_RCVBUF of
	// every socket. Default DefaultSocketBuffer (4 MiB) each, which the
	// kernel caps at net.core.wmem_max and rmem_max: the OS's usual 208
	// KiB overflows under a burst of a few hundred datagrams (a thousand
	// dialers' INITIALs, a congestion window's worth) and UDP drops what
	// does not fit. A negative value keeps the OS's default.
	SocketSendBuffer, SocketRecvBuffer int
	// Faults injects loss, duplication and reordering into every datagram
	// the transport's connections send. For tests only: loopback loses
	// nothing. Default: none.
	Faults Faults
	// Logger receives the transport's rare diagnostics. Default: silent.
	Logger *slog.Logger
}

// Faults are probabilities (0..1) applied to each datagram a connection
// sends, for tests: Loss drops it, Duplicate sends it twice, Reorder holds
// it back until the connection's next datagram has gone. Each connection
// draws from its own generator, seeded from Seed and the order in which
// connections were made.
type Faults struct {
	Loss, Duplicate, Reorder float64
	Seed                     uint64
}

func (f Faults) any() bool { return f.Loss > 0 || f.Duplicate > 0 || f.Reorder > 0 }

func (c *Config) validate() error {
	for name, v := range map[string]int{"MaxDatagramBytes": c.MaxDatagramBytes, "MaxConns": c.MaxConns, "MaxQueued": c.MaxQueued,
		"ResetsPerSecond": c.ResetsPerSecond} {
		if v < 0 {
			return fmt.Errorf("udp: Config.%s is %d; it must not be negative", name, v)
		}
	}
	for name, p := range map[string]float64{"Loss": c.Faults.Loss, "Duplicate": c.Faults.Duplicate, "Reorder": c.Faults.Reorder} {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("udp: Config.Faults.%s is %v; it must be between 0 and 1", name, p)
		}
	}
	if c.MaxDatagramBytes == 0 {
		c.MaxDatagramBytes = DefaultMaxDatagramBytes
	}
	if c.MaxDatagramBytes > maxDatagramLimit {
		return fmt.Errorf("udp: Config.MaxDatagramBytes is %d; the limit is %d", c.MaxDatagramBytes, maxDatagramLimit)
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxQueued == 0 {
		c.MaxQueued = DefaultMaxQueued
	}
	if c.ResetsPerSecond == 0 {
		c.ResetsPerSecond = DefaultResetsPerSecond
	}
	if c.SocketSendBuffer == 0 {
		c.SocketSendBuffer = DefaultSocketBuffer
	}
	if c.SocketRecvBuffer == 0 {
		c.SocketRecvBuffer = DefaultSocketBuffer
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Stats are a Transport's counters, over all its listeners and
// connections. Every Dropped counter counts datagrams, not bytes.
type Stats struct {
	// DatagramsSent and DatagramsReceived count the packets the
	// connections' handlers wrote (whether or not they then went out) and
	// the packets delivered to them; the transport's own control
	// datagrams are not counted.
	DatagramsSent, DatagramsReceived uint64
	// DroppedUnknown: datagrams from addresses a listener has no
	// connection for that are not a valid INITIAL (garbage, or traffic
	// of an association the listener closed).
	DroppedUnknown uint64
	// DroppedConnLimit: INITIAL datagrams from new addresses while the
	// listener held Config.MaxConns connections, or was closed.
	DroppedConnLimit uint64
	// DroppedQueueFull: datagrams over Config.MaxQueued for one connection,
	// and datagrams of other addresses that a new connection's socket got
	// before its connect (doc.go) beyond the 8 MiB of them a listener
	// holds for routing.
	DroppedQueueFull uint64
	// DroppedTooLarge: received payloads over Config.MaxDatagramBytes.
	DroppedTooLarge uint64
	// DroppedMalformed: datagrams on a connection with a bad header or a
	// wrong token.
	DroppedMalformed uint64
	// DroppedAmplification: datagrams a listener's connection did not send
	// because the remote address was not validated yet and the datagram
	// would have taken it past the bytes received from there.
	DroppedAmplification uint64
	// DroppedSendError: datagrams the OS refused (a full socket buffer, an
	// ICMP error reported on the socket).
	DroppedSendError uint64
	// DroppedByFaults: datagrams Config.Faults dropped.
	DroppedByFaults uint64
	// ResetsSent and ResetsReceived count RESET datagrams; a received
	// RESET with the right token closes the dialer's connection.
	ResetsSent, ResetsReceived uint64
}

// counters are the live Stats.
type counters struct {
	sent, received                                       atomic.Uint64
	unknown, connLimit, queueFull, tooLarge, malformed   atomic.Uint64
	amplification, sendError, byFaults, resetsS, resetsR atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		DatagramsSent: c.sent.Load(), DatagramsReceived: c.received.Load(),
		DroppedUnknown: c.unknown.Load(), DroppedConnLimit: c.connLimit.Load(),
		DroppedQueueFull: c.queueFull.Load(), DroppedTooLarge: c.tooLarge.Load(),
		DroppedMalformed: c.malformed.Load(), DroppedAmplification: c.amplification.Load(),
		DroppedSendError: c.sendError.Load(), DroppedByFaults: c.byFaults.Load(),
		ResetsSent: c.resetsS.Load(), ResetsReceived: c.resetsR.Load(),
	}
}
