package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Cell is one measured configuration: a scenario, a system's variant, a
// message size and, for fanout and manyconns, a number of connections.
type Cell struct {
	Scenario string  `json:"scenario"`
	Variant  Variant `json:"variant"`
	Size     int     `json:"size"`
	Conns    int     `json:"conns"`
}

// Limits bound one measurement: the sender sends (or pings) for Duration,
// or exactly Count messages (round trips) when Count is set.
type Limits struct {
	Duration time.Duration
	Count    int
}

func (l Limits) more(done int, start time.Time) bool {
	if l.Count > 0 {
		return done < l.Count
	}
	return time.Since(start) < l.Duration
}

// Sample is one measurement of a cell.
type Sample struct {
	// Msgs is the messages delivered (throughput, fanout, manyconns) or
	// the round trips (pingpong).
	Msgs uint64 `json:"msgs"`
	// Elapsed runs from the first message sent to the last one received.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Round-trip percentiles (pingpong).
	P50  time.Duration `json:"p50_ns,omitempty"`
	P90  time.Duration `json:"p90_ns,omitempty"`
	P99  time.Duration `json:"p99_ns,omitempty"`
	P999 time.Duration `json:"p999_ns,omitempty"`
	// HeapPerConn is live heap bytes per connection end in this process,
	// and GoroutinesPerConn goroutines (manyconns).
	HeapPerConn       float64 `json:"heap_per_conn,omitempty"`
	GoroutinesPerConn float64 `json:"goroutines_per_conn,omitempty"`
}

// MsgsPerSec is the sample's rate.
func (s Sample) MsgsPerSec() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Msgs) / s.Elapsed.Seconds()
}

// Measure runs cell once, in this process, on a fresh instance of its
// system: what a go test benchmark calls with Limits{Count: b.N}.
func Measure(ctx context.Context, cell Cell, lim Limits) (Sample, error) {
	e := newEnv(nil, nil)
	defer e.close()
	return e.measure(ctx, cell, lim)
}

// env holds the systems of a run and where their servers run.
type env struct {
	log     *slog.Logger
	mu      sync.Mutex
	systems map[string]System
	child   *child // nil: servers run in this process
}

func newEnv(c *child, log *slog.Logger) *env {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &env{systems: map[string]System{}, child: c, log: log}
}

// release closes a rig; a failure to close is logged, not a failed
// measurement.
func (e *env) release(c Cell, r *rig) {
	if err := r.close(); err != nil {
		e.log.Debug("bench: close", "cell", c.Variant.String(), "scenario", c.Scenario, "err", err)
	}
}

func (e *env) system(name string) (System, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.systems[name]; ok {
		return s, nil
	}
	s, err := openSystem(name)
	if err != nil {
		return nil, err
	}
	e.systems[name] = s
	return s, nil
}

func (e *env) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, s := range e.systems {
		errs = append(errs, s.Close())
	}
	if e.child != nil {
		errs = append(errs, e.child.close())
	}
	return errors.Join(errs...)
}

// ends is the number of connection ends a manyconns run holds in this
// process per connection.
func (e *env) ends() int {
	if e.child != nil {
		return 1
	}
	return 2
}

func (e *env) measure(ctx context.Context, c Cell, lim Limits) (Sample, error) {
	if c.Size < 1 || c.Size > MaxSize {
		return Sample{}, fmt.Errorf("bench: size %d out of range", c.Size)
	}
	switch c.Scenario {
	case Throughput:
		return e.oneWay(ctx, c, lim, 1)
	case FanOut:
		return e.oneWay(ctx, c, lim, max(c.Conns, 1))
	case PingPong:
		return e.pingPong(ctx, c, lim)
	case ManyConns:
		return e.manyConns(ctx, c, lim)
	case HubBroadcast, HubQuorum:
		return e.hubScenario(ctx, c, lim)
	}
	return Sample{}, fmt.Errorf("bench: scenario %q: %w", c.Scenario, ErrUnknown)
}

// rig is a server and a dialer's connections to it.
type rig struct {
	srv   Server
	dl    Dialer
	conns []Conn
	once  sync.Once
	err   error
}

// close closes everything once and returns the first call's error.
func (r *rig) close() error {
	r.once.Do(func() { r.err = r.closeAll() })
	return r.err
}

func (r *rig) closeAll() error {
	var errs []error
	for _, c := range r.conns {
		errs = append(errs, c.Close())
	}
	if r.dl != nil {
		errs = append(errs, r.dl.Close())
	}
	if r.srv != nil {
		errs = append(errs, r.srv.Close())
	}
	return errors.Join(errs...)
}

// setup starts a server, a dialer, and n primed connections: each has
// carried one message (Sink) or round trip (Echo), so handshakes and
// stream set-up are over before anything is timed.
func (e *env) setup(ctx context.Context, c Cell, mode Mode, n int) (*rig, error) {
	sys, err := e.system(c.Variant.System)
	if err != nil {
		return nil, err
	}
	r := &rig{}
	spec := ServerSpec{Variant: c.Variant, Mode: mode, MaxMessageBytes: c.Size}
	if e.child != nil {
		r.srv, err = e.child.listen(ctx, spec)
	} else {
		r.srv, err = sys.Listen(ctx, spec)
	}
	if err == nil {
		r.dl, err = sys.NewDialer(ctx, c.Variant, c.Size)
	}
	if err == nil {
		err = r.dial(ctx, mode, n, c.Size)
	}
	if err != nil {
		return nil, errors.Join(err, r.close())
	}
	return r, nil
}

func (r *rig) dial(ctx context.Context, mode Mode, n, size int) error {
	msg := make([]byte, size)
	for range n {
		conn, err := r.dl.Dial(ctx, r.srv.Addr(), mode)
		if err != nil {
			return fmt.Errorf("bench: dial connection %d of %d: %w", len(r.conns)+1, n, err)
		}
		r.conns = append(r.conns, conn)
		if mode == Echo {
			err = conn.RoundTrip(ctx, msg)
		} else {
			err = conn.Send(ctx, msg, 1)
		}
		if err != nil {
			return fmt.Errorf("bench: prime connection %d: %w", len(r.conns), err)
		}
	}
	if mode == Sink {
		return r.srv.WaitReceived(ctx, uint64(n))
	}
	return nil
}

// oneWay is throughput (n = 1) and fanout: one goroutine sends batches of
// about 64 KiB to each connection in turn until the limit, then the
// receiver drains.
func (e *env) oneWay(ctx context.Context, c Cell, lim Limits, n int) (Sample, error) {
	r, err := e.setup(ctx, c, Sink, n)
	if err != nil {
		return Sample{}, err
	}
	defer e.release(c, r)
	msg := make([]byte, c.Size)
	batch := max(1, bufSize/c.Size)
	base := r.srv.Received()
	sent := 0
	start := time.Now()
	for lim.more(sent, start) {
		k := batch
		if lim.Count > 0 {
			k = max(1, min(k, (lim.Count-sent)/n))
		}
		for _, conn := range r.conns {
			if err := conn.Send(ctx, msg, k); err != nil {
				return Sample{}, err
			}
		}
		sent += k * n
	}
	if err := r.srv.WaitReceived(ctx, base+uint64(sent)); err != nil {
		return Sample{}, err
	}
	return Sample{Msgs: uint64(sent), Elapsed: time.Since(start)}, nil
}

// pingPong times round trips of one message in flight into an HDR
// histogram (1 ns to 1 min, 3 significant digits).
func (e *env) pingPong(ctx context.Context, c Cell, lim Limits) (Sample, error) {
	r, err := e.setup(ctx, c, Echo, 1)
	if err != nil {
		return Sample{}, err
	}
	defer e.release(c, r)
	conn := r.conns[0]
	msg := make([]byte, c.Size)
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	n := 0
	start := time.Now()
	for lim.more(n, start) {
		t0 := time.Now()
		if err := conn.RoundTrip(ctx, msg); err != nil {
			return Sample{}, err
		}
		_ = h.RecordValue(int64(time.Since(t0)))
		n++
	}
	el := time.Since(start)
	q := func(p float64) time.Duration { return time.Duration(h.ValueAtQuantile(p)) }
	s := Sample{Msgs: uint64(n), Elapsed: el, P50: q(50), P90: q(90), P99: q(99), P999: q(99.9)}
	return s, nil
}

// manyConns opens Conns connections, measures the live heap and
// goroutines they add, then sends from a few goroutines, each cycling
// over its share of the connections with 16 messages at a time.
func (e *env) manyConns(ctx context.Context, c Cell, lim Limits) (Sample, error) {
	n := max(c.Conns, 1)
	heap0, g0 := liveHeap()
	r, err := e.setup(ctx, c, Sink, n)
	if err != nil {
		return Sample{}, err
	}
	defer e.release(c, r)
	heap1, g1 := liveHeap()
	ends := float64(n * e.ends())
	s := Sample{HeapPerConn: (heap1 - heap0) / ends, GoroutinesPerConn: float64(g1-g0) / ends}
	senders := min(n, 4)
	sent := make([]int, senders)
	errs := make([]error, senders)
	base := r.srv.Received()
	start := time.Now()
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent[g], errs[g] = sendShare(ctx, r.conns, g, senders, c.Size, Limits{Duration: lim.Duration, Count: lim.Count / senders})
		}()
	}
	wg.Wait()
	total := 0
	for g := range senders {
		if errs[g] != nil {
			return Sample{}, errs[g]
		}
		total += sent[g]
	}
	if err := r.srv.WaitReceived(ctx, base+uint64(total)); err != nil {
		return Sample{}, err
	}
	s.Msgs, s.Elapsed = uint64(total), time.Since(start)
	return s, nil
}

// sendShare sends on connections g, g+step, … in turn until lim.
func sendShare(ctx context.Context, conns []Conn, g, step, size int, lim Limits) (int, error) {
	msg := make([]byte, size)
	sent := 0
	start := time.Now()
	for lim.more(sent, start) {
		for i := g; i < len(conns); i += step {
			if err := conns[i].Send(ctx, msg, 16); err != nil {
				return sent, err
			}
			sent += 16
		}
	}
	return sent, nil
}

// liveHeap returns the live heap after a collection, and the goroutines.
func liveHeap() (float64, int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc), runtime.NumGoroutine()
}
