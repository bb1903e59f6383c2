package bench

import (
	"slices"
	"time"
)

// Result is one measured cell: the median and range over its rounds.
// Figures that the scenario does not measure are nil (null in JSON).
type Result struct {
	Scenario    string `json:"scenario"`
	System      string `json:"system"`
	Transport   string `json:"transport"`
	Security    string `json:"security"`
	Secure      bool   `json:"secure"`
	Workers     int    `json:"workers"`
	Compression bool   `json:"compression"`
	Size        int    `json:"size"`
	Conns       int    `json:"conns"`
	Split       bool   `json:"split"`

	// MsgsPerSec is messages delivered per second (pingpong: round
	// trips per second), the median over rounds, with its range.
	MsgsPerSec    *float64 `json:"msgs_per_sec"`
	MsgsPerSecMin *float64 `json:"msgs_per_sec_min"`
	MsgsPerSecMax *float64 `json:"msgs_per_sec_max"`
	// BytesPerSec is message bytes delivered per second (not pingpong).
	BytesPerSec    *float64 `json:"bytes_per_sec"`
	BytesPerSecMin *float64 `json:"bytes_per_sec_min"`
	BytesPerSecMax *float64 `json:"bytes_per_sec_max"`
	// Round-trip percentiles in microseconds (pingpong): medians over
	// rounds; P50Min and P50Max give p50's range.
	P50us  *float64 `json:"p50_us"`
	P90us  *float64 `json:"p90_us"`
	P99us  *float64 `json:"p99_us"`
	P999us *float64 `json:"p999_us"`
	P50Min *float64 `json:"p50_us_min"`
	P50Max *float64 `json:"p50_us_max"`
	// HeapBytesPerConn and GoroutinesPerConn are per connection end
	// (manyconns), medians over rounds.
	HeapBytesPerConn  *float64 `json:"heap_bytes_per_conn"`
	GoroutinesPerConn *float64 `json:"goroutines_per_conn"`

	// Runs is the number of rounds measured; Rounds their samples.
	Runs   int      `json:"runs"`
	Rounds []Sample `json:"rounds"`
	// Error says why the cell has fewer rounds than asked, if it does.
	Error string `json:"error,omitempty"`

	Machine *Machine `json:"machine"`
	Method  *Method  `json:"method"`
}

// Method says how a run measured: rounds and warm-up per cell, the
// sending time of one measurement, and whether receivers ran in a child
// process.
type Method struct {
	Rounds   int           `json:"rounds"`
	Warmup   int           `json:"warmup"`
	Duration time.Duration `json:"duration_ns"`
	Split    bool          `json:"split"`
}

// Variant returns the result's system configuration.
func (r *Result) Variant() Variant {
	return Variant{System: r.System, Transport: r.Transport, Security: r.Security, Workers: r.Workers, Compression: r.Compression}
}

// summarize makes a Result from a cell's samples.
func summarize(c Cell, samples []Sample, err error, split bool, m *Machine) Result {
	v := c.Variant
	r := Result{
		Scenario: c.Scenario, System: v.System, Transport: v.Transport, Security: v.Security,
		Secure: v.Secure(), Workers: v.Workers, Compression: v.Compression,
		Size: c.Size, Conns: max(c.Conns, 1), Split: split,
		Runs: len(samples), Rounds: samples, Machine: m,
	}
	if r.Rounds == nil {
		r.Rounds = []Sample{}
	}
	if err != nil {
		r.Error = err.Error()
	}
	if len(samples) == 0 {
		return r
	}
	r.MsgsPerSec, r.MsgsPerSecMin, r.MsgsPerSecMax = stat(samples, Sample.MsgsPerSec)
	switch c.Scenario {
	case PingPong, HubQuorum:
		us := func(d func(Sample) time.Duration) func(Sample) float64 {
			return func(s Sample) float64 { return float64(d(s)) / 1e3 }
		}
		r.P50us, r.P50Min, r.P50Max = stat(samples, us(func(s Sample) time.Duration { return s.P50 }))
		r.P90us, _, _ = stat(samples, us(func(s Sample) time.Duration { return s.P90 }))
		r.P99us, _, _ = stat(samples, us(func(s Sample) time.Duration { return s.P99 }))
		r.P999us, _, _ = stat(samples, us(func(s Sample) time.Duration { return s.P999 }))
	default:
		size := float64(c.Size)
		r.BytesPerSec, r.BytesPerSecMin, r.BytesPerSecMax = stat(samples, func(s Sample) float64 { return s.MsgsPerSec() * size })
	}
	if c.Scenario == ManyConns {
		r.HeapBytesPerConn, _, _ = stat(samples, func(s Sample) float64 { return s.HeapPerConn })
		r.GoroutinesPerConn, _, _ = stat(samples, func(s Sample) float64 { return s.GoroutinesPerConn })
	}
	return r
}

// stat returns the median, minimum and maximum of f over samples.
func stat(samples []Sample, f func(Sample) float64) (med, lo, hi *float64) {
	vs := make([]float64, len(samples))
	for i, s := range samples {
		vs[i] = f(s)
	}
	slices.Sort(vs)
	m := median(vs)
	return &m, &vs[0], &vs[len(vs)-1]
}

// median of sorted values (the mean of the middle two for an even count).
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
