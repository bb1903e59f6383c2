package mem

import (
	"fmt"
	"log/slog"
	"time"
)

// Defaults of the zero fields of Config and LinkConfig.
const (
	// DefaultMaxDatagram is the largest UDP payload over IPv4 (65535 minus
	// the IP and UDP headers): mem datagrams are not fragmented, so the
	// default is the most a udp transport could ever carry.
	DefaultMaxDatagram = 65507
	// DefaultSendBuffer is the bytes a stream sender may have in flight
	// before Buffered grows: the size of a generous kernel socket buffer.
	DefaultSendBuffer = 4 << 20
	// DefaultRecvBuffer is the bytes of received, undelivered datagrams a
	// datagram connection holds before it drops new ones.
	DefaultRecvBuffer = 4 << 20
)

// Config configures a Network. The zero value is usable: every zero field
// means the default written beside it.
type Config struct {
	// Seed seeds every fault decision. Two networks with the same Seed,
	// links and sequence of writes per link make the same decisions.
	// Default 0 (a valid seed like any other).
	Seed uint64
	// Link is the default of every link direction; SetLink overrides it.
	// Default: the zero LinkConfig, a perfect link.
	Link LinkConfig
	// RecvBuffer is the bytes of received datagrams a datagram connection
	// holds before its handler takes them; further datagrams are dropped
	// (Stats.Overflow), as a full socket buffer does. Default
	// DefaultRecvBuffer.
	RecvBuffer int
	// Trace, when set, is called for every fault decision (see Event),
	// from the writing worker or the network's scheduler, possibly from
	// several goroutines at once, while the link is locked: it must be
	// quick and must not call the Network. Default: no tracing.
	Trace func(Event)
	// Logger receives the network's rare diagnostics. Default: silent.
	Logger *slog.Logger
}

// LinkConfig describes one direction of a link between two addresses (or
// hosts). The zero value is a perfect link: no latency, no loss, no limit.
type LinkConfig struct {
	// Latency is the one-way delay of every write (stream) or packet
	// (datagram). Default 0: delivery as soon as the receiver's worker
	// runs.
	Latency time.Duration
	// Jitter adds a uniform random delay in [-Jitter, +Jitter] to Latency
	// (the sum is at least 0). On a stream it never reorders bytes: a
	// write is never delivered before the one written before it. On a
	// datagram link it reorders packets. Default 0.
	Jitter time.Duration
	// Loss is the probability (0..1) that a datagram is dropped. Datagram
	// links only: a stream is reliable while it lives. Default 0.
	Loss float64
	// Duplicate is the probability (0..1) that a datagram is delivered
	// twice (each copy with its own delay). Datagram links only. Default 0.
	Duplicate float64
	// Reorder is the probability (0..1) that a datagram is held back by an
	// extra random delay of up to Latency+Jitter+1ms, so that packets sent
	// after it overtake it. Datagram links only. Default 0.
	Reorder float64
	// BandwidthBytesPerSec caps the direction's throughput: a write or
	// packet of n bytes occupies the link for n/Bandwidth seconds, and
	// waits for the ones before it. Default 0: unlimited.
	BandwidthBytesPerSec int64
	// MaxDatagram is the largest packet a datagram connection accepts;
	// larger writes fail with transport.ErrTooLarge. Default
	// DefaultMaxDatagram (65507).
	MaxDatagram int
	// SendBuffer is the bytes a stream sender may have in flight (written,
	// not yet handed to the peer's handler) before Conn.Buffered grows
	// above 0, as a kernel socket buffer absorbs writes before the
	// application sees backpressure. It is read when a connection opens.
	// Default DefaultSendBuffer (4 MiB).
	SendBuffer int
}

func (c *Config) validate() error {
	if c.RecvBuffer < 0 {
		return fmt.Errorf("mem: Config.RecvBuffer is %d; it must be 0 (default) or more", c.RecvBuffer)
	}
	if c.RecvBuffer == 0 {
		c.RecvBuffer = DefaultRecvBuffer
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := c.Link.validate(); err != nil {
		return fmt.Errorf("mem: Config.Link: %w", err)
	}
	return nil
}

// validate fills defaults and names the first bad field.
func (c *LinkConfig) validate() error {
	switch {
	case c.Latency < 0:
		return fmt.Errorf("mem: LinkConfig.Latency is %v; it must be 0 or more", c.Latency)
	case c.Jitter < 0:
		return fmt.Errorf("mem: LinkConfig.Jitter is %v; it must be 0 or more", c.Jitter)
	case c.BandwidthBytesPerSec < 0:
		return fmt.Errorf("mem: LinkConfig.BandwidthBytesPerSec is %d; it must be 0 (unlimited) or more", c.BandwidthBytesPerSec)
	case c.MaxDatagram < 0 || c.MaxDatagram > 1<<24:
		return fmt.Errorf("mem: LinkConfig.MaxDatagram is %d; it must be between 0 (default %d) and %d", c.MaxDatagram, DefaultMaxDatagram, 1<<24)
	case c.SendBuffer < 0:
		return fmt.Errorf("mem: LinkConfig.SendBuffer is %d; it must be 0 (default) or more", c.SendBuffer)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", c.Loss}, {"Duplicate", c.Duplicate}, {"Reorder", c.Reorder}} {
		if !(p.v >= 0 && p.v <= 1) { // also rejects NaN
			return fmt.Errorf("mem: LinkConfig.%s is %v; it must be a probability between 0 and 1", p.name, p.v)
		}
	}
	if c.MaxDatagram == 0 {
		c.MaxDatagram = DefaultMaxDatagram
	}
	if c.SendBuffer == 0 {
		c.SendBuffer = DefaultSendBuffer
	}
	return nil
}

// instant reports whether the link delivers at once (no delay, no
// bandwidth limit), and lossless reports whether it has no datagram faults.
func (c *LinkConfig) instant() bool {
	return c.Latency == 0 && c.Jitter == 0 && c.BandwidthBytesPerSec == 0
}

func (c *LinkConfig) lossless() bool {
	return c.Loss == 0 && c.Duplicate == 0 && c.Reorder == 0
}
