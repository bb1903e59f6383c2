package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The scenarios.
const (
	Throughput = "throughput" // one way, as fast as the receiver takes it
	PingPong   = "pingpong"   // one message in flight, echoed
	FanOut     = "fanout"     // one sender, FanOut receiving connections
	ManyConns  = "manyconns"  // Conns connections sending at once
)

// Scenarios returns the scenario names in report order.
func Scenarios() []string {
	return []string{Throughput, PingPong, FanOut, ManyConns, HubBroadcast, HubQuorum}
}

// Config is a benchmark run: a matrix of systems and settings, and how to
// measure each cell. The zero value of each field means the default
// written beside it; Quick returns the --quick settings. It reads from a
// JSON file with the field names in snake case (LoadConfig).
type Config struct {
	// Scenarios to run. Default all of Scenarios().
	Scenarios []string `json:"scenarios"`
	// Systems to run. Default all of Systems().
	Systems []string `json:"systems"`
	// Transports are weft's transports (RegisterTransport). Default tcp.
	Transports []string `json:"transports"`
	// Security are weft's settings: secure (the endpoint's default cipher
	// preference), aesgcm, chachapoly, plaintext. Default secure and
	// plaintext. quic-go runs when any is secure; libp2p runs with Noise
	// when any is secure and without security when plaintext is listed.
	Security []string `json:"security"`
	// Workers are weft's Driver workers (0: GOMAXPROCS). Default [0].
	Workers []int `json:"workers"`
	// Compression settings of weft's endpoints. Default [false].
	Compression []bool `json:"compression"`

	// Sizes are the message sizes of throughput, in bytes. Default 64 B,
	// 1 KiB, 64 KiB, 1 MiB.
	Sizes []int `json:"sizes"`
	// PingPongSizes default to 64 B and 1 KiB.
	PingPongSizes []int `json:"pingpong_sizes"`
	// FanOutSizes default to 64 B and 64 KiB.
	FanOutSizes []int `json:"fanout_sizes"`
	// ManyConnsSizes default to 64 B.
	ManyConnsSizes []int `json:"manyconns_sizes"`
	// FanOut is the number of receiving connections of fanout. Default 8.
	FanOut int `json:"fanout"`
	// Conns is the number of connections of manyconns. Default 1000.
	Conns int `json:"conns"`

	// Rounds measured per cell, after the warm-up. Default 5.
	Rounds int `json:"rounds"`
	// Warmup rounds, not reported. Default 1; -1 for none.
	Warmup int `json:"warmup"`
	// Duration of one measurement: the sender sends (or pings) for this
	// long, then the receiver drains. Default 1s.
	Duration time.Duration `json:"duration"`
	// Timeout bounds one measurement, setup and drain included. Default
	// 60s.
	Timeout time.Duration `json:"timeout"`

	// Split runs the servers in a child process that this function starts
	// (ServeChild on its stdin and stdout); nil runs everything in this
	// process. Loopback only either way.
	Split func() *exec.Cmd `json:"-"`
	// Progress receives a one-line progress display ("\r"-rewritten);
	// nil: silent.
	Progress io.Writer `json:"-"`
	// Logger receives diagnostics (failed cells). Default: silent.
	Logger *slog.Logger `json:"-"`
}

// Quick returns the --quick configuration: 64 B and 1 MiB throughput and
// 64 B ping-pong for every system, three short rounds after a warm-up.
func Quick() Config {
	return Config{
		Scenarios:     []string{Throughput, PingPong},
		Sizes:         []int{64, 1 << 20},
		PingPongSizes: []int{64},
		Rounds:        3,
		Duration:      250 * time.Millisecond,
		Timeout:       20 * time.Second,
	}
}

// LoadConfig reads a JSON configuration file on top of base: the fields
// the file has replace base's, the others stay. Durations are Go strings
// ("500ms"); unknown fields are an error.
func LoadConfig(path string, base Config) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return base, fmt.Errorf("bench: config: %w", err)
	}
	return ParseConfig(data, base)
}

// ParseConfig is LoadConfig for the file's contents.
func ParseConfig(data []byte, base Config) (Config, error) {
	type fileConfig Config
	raw := struct {
		fileConfig
		Duration string `json:"duration"`
		Timeout  string `json:"timeout"`
	}{fileConfig: fileConfig(base)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return base, fmt.Errorf("bench: config: %w", err)
	}
	cfg := Config(raw.fileConfig)
	for _, d := range []struct {
		s   string
		dst *time.Duration
	}{{raw.Duration, &cfg.Duration}, {raw.Timeout, &cfg.Timeout}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return base, fmt.Errorf("bench: config: %w", err)
		}
		*d.dst = v
	}
	return cfg, nil
}

// MaxSize is the largest message size a Config may ask for.
const MaxSize = 64 << 20

func (c *Config) validate() error {
	def := func(dst *[]int, v ...int) {
		if len(*dst) == 0 {
			*dst = v
		}
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = Scenarios()
	}
	if len(c.Systems) == 0 {
		c.Systems = Systems()
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{"tcp"}
	}
	if len(c.Security) == 0 {
		c.Security = []string{Secure, Plaintext}
	}
	if len(c.Compression) == 0 {
		c.Compression = []bool{false}
	}
	def(&c.Workers, 0)
	def(&c.Sizes, 64, 1<<10, 64<<10, 1<<20)
	def(&c.PingPongSizes, 64, 1<<10)
	def(&c.FanOutSizes, 64, 64<<10)
	def(&c.ManyConnsSizes, 64)
	setInt(&c.FanOut, 8)
	setInt(&c.Conns, 1000)
	setInt(&c.Rounds, 5)
	setInt(&c.Warmup, 1)
	c.Warmup = max(c.Warmup, 0)
	if c.Duration == 0 {
		c.Duration = time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c.check()
}

func setInt(v *int, def int) {
	if *v == 0 {
		*v = def
	}
}

// check rejects nonsense, naming the field.
func (c *Config) check() error {
	if err := checkNames("Scenarios", c.Scenarios, Scenarios()); err != nil {
		return err
	}
	if err := checkNames("Systems", c.Systems, Systems()); err != nil {
		return err
	}
	if err := checkNames("Transports", c.Transports, Transports()); err != nil {
		return err
	}
	if err := checkNames("Security", c.Security, []string{Secure, AESGCM, ChaChaPoly, Plaintext}); err != nil {
		return err
	}
	for name, sizes := range map[string][]int{"Sizes": c.Sizes, "PingPongSizes": c.PingPongSizes, "FanOutSizes": c.FanOutSizes, "ManyConnsSizes": c.ManyConnsSizes} {
		for _, s := range sizes {
			if s < 1 || s > MaxSize {
				return fmt.Errorf("bench: Config.%s has %d; sizes are 1 B to %d B", name, s, MaxSize)
			}
		}
	}
	for _, w := range c.Workers {
		if w < 0 || w > 1024 {
			return fmt.Errorf("bench: Config.Workers has %d; it must be 0 (GOMAXPROCS) to 1024", w)
		}
	}
	switch {
	case c.FanOut < 1 || c.FanOut > 10_000:
		return fmt.Errorf("bench: Config.FanOut is %d; it must be 1 to 10000", c.FanOut)
	case c.Conns < 1 || c.Conns > 100_000:
		return fmt.Errorf("bench: Config.Conns is %d; it must be 1 to 100000", c.Conns)
	case c.Rounds < 1 || c.Rounds > 1000:
		return fmt.Errorf("bench: Config.Rounds is %d; it must be 1 to 1000", c.Rounds)
	case c.Duration < time.Millisecond || c.Duration > time.Hour:
		return fmt.Errorf("bench: Config.Duration is %v; it must be 1ms to 1h", c.Duration)
	case c.Timeout < c.Duration:
		return fmt.Errorf("bench: Config.Timeout (%v) is shorter than Duration (%v)", c.Timeout, c.Duration)
	}
	return nil
}

func checkNames(field string, got, known []string) error {
	for _, g := range got {
		if !slices.Contains(known, g) {
			return fmt.Errorf("bench: Config.%s has %q; known: %s: %w", field, g, strings.Join(known, ", "), ErrUnknown)
		}
	}
	return nil
}

func (c *Config) anySecure() bool {
	return slices.ContainsFunc(c.Security, func(s string) bool { return s != Plaintext })
}

func (c *Config) hasSecurity(s string) bool { return slices.Contains(c.Security, s) }

// ParseSize reads a message size: a number of bytes with an optional B,
// KiB, MiB suffix (also K, M, KB, MB as binary multiples).
func ParseSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	mult := 1
	for _, suf := range []struct {
		s string
		m int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
		if strings.HasSuffix(t, suf.s) {
			t, mult = strings.TrimSuffix(t, suf.s), suf.m
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil || n < 1 || n > MaxSize/mult {
		return 0, fmt.Errorf("bench: size %q: want 1 B to 64 MiB, like 64, 1KiB or 1MiB", s)
	}
	return n * mult, nil
}

// SizeName writes a size the way reports show it: 64B, 1KiB, 1MiB.
func SizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
