package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// ConfigError is Run's error for a Config that validation rejects; the
// message names the field.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Report is the outcome of a run.
type Report struct {
	Machine Machine
	Config  Config
	Results []Result
	split   bool
}

// group is the cells that are compared with each other: one scenario and
// size, every variant. Its variants run alternately, round after round.
type group struct {
	scenario string
	size     int
	conns    int
	variants []Variant
}

// plan lists the groups of a configuration in report order.
func plan(cfg *Config) []group {
	var vs []Variant
	for _, name := range Systems() {
		if slices.Contains(cfg.Systems, name) {
			vs = append(vs, systems[name].variants(cfg)...)
		}
	}
	var gs []group
	for _, sc := range cfg.Scenarios {
		sizes, conns := cfg.Sizes, 1
		switch sc {
		case PingPong:
			sizes = cfg.PingPongSizes
		case FanOut:
			sizes, conns = cfg.FanOutSizes, cfg.FanOut
		case ManyConns:
			sizes, conns = cfg.ManyConnsSizes, cfg.Conns
		}
		gvs := vs
		if isHubScenario(sc) {
			sizes, gvs = []int{64}, hubVariants(vs)
			if len(gvs) == 0 {
				continue // weft over tcp, secure, is not in the matrix
			}
		}
		for _, size := range sizes {
			gs = append(gs, group{scenario: sc, size: size, conns: conns, variants: gvs})
		}
	}
	return gs
}

// Run measures every cell of cfg: in each group (a scenario and a size)
// the variants run one after the other, round after round (A B A B …),
// Warmup rounds first, and each Result is the median and range of the
// Rounds that follow. A cell that fails keeps its error and the rounds it
// had; the run goes on. Run fails only for a bad Config, a child process
// that does not start, or ctx.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, &ConfigError{Err: err}
	}
	rep := &Report{Machine: ThisMachine(), Config: cfg, split: cfg.Split != nil}
	var ch *child
	if cfg.Split != nil {
		var err error
		if ch, err = startChild(cfg.Split()); err != nil {
			return nil, err
		}
	}
	e := newEnv(ch, cfg.Logger)
	defer e.close()
	gs := plan(&cfg)
	p := newProgress(cfg.Progress, countSteps(gs, &cfg))
	defer p.done()
	for _, g := range gs {
		res, err := runGroup(ctx, e, &cfg, g, p, &rep.Machine)
		rep.Results = append(rep.Results, res...)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func countSteps(gs []group, cfg *Config) int {
	n := 0
	for _, g := range gs {
		n += len(g.variants) * (cfg.Warmup + cfg.Rounds)
	}
	return n
}

// runGroup runs one group's rounds, alternating its variants.
func runGroup(ctx context.Context, e *env, cfg *Config, g group, p *progress, m *Machine) ([]Result, error) {
	samples := make([][]Sample, len(g.variants))
	errs := make([]error, len(g.variants))
	for i, v := range g.variants {
		if spec, err := lookupTransport(v.Transport); v.System == Weft && err == nil && spec.InProcess && e.child != nil {
			errs[i] = fmt.Errorf("transport %s is in-process only, not for --split", v.Transport)
		}
	}
	rounds := cfg.Warmup + cfg.Rounds
	for r := range rounds {
		for i, v := range g.variants {
			if errs[i] != nil {
				p.skip()
				continue
			}
			c := Cell{Scenario: g.scenario, Variant: v, Size: g.size, Conns: g.conns}
			p.step(c, r, cfg.Warmup, rounds)
			s, err := measureOne(ctx, e, cfg, c)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if err != nil {
				errs[i] = err
				cfg.Logger.Warn("bench: cell failed", "scenario", c.Scenario, "size", c.Size, "variant", v.String(), "err", err)
				continue
			}
			if r >= cfg.Warmup {
				samples[i] = append(samples[i], s)
			}
		}
	}
	res := make([]Result, len(g.variants))
	for i, v := range g.variants {
		c := Cell{Scenario: g.scenario, Variant: v, Size: g.size, Conns: g.conns}
		res[i] = summarize(c, samples[i], errs[i], e.child != nil, m)
	}
	return res, nil
}

func measureOne(ctx context.Context, e *env, cfg *Config, c Cell) (Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	s, err := e.measure(ctx, c, Limits{Duration: cfg.Duration})
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (Timeout %v)", err, cfg.Timeout)
	}
	return s, err
}

// progress draws one rewritten line on a terminal.
type progress struct {
	w     io.Writer
	total int
	n     int
	start time.Time
}

func newProgress(w io.Writer, total int) *progress {
	return &progress{w: w, total: total, start: time.Now()}
}

func (p *progress) skip() { p.n++ }

func (p *progress) step(c Cell, round, warmup, rounds int) {
	p.n++
	if p.w == nil {
		return
	}
	what := fmt.Sprintf("round %d/%d", round-warmup+1, rounds-warmup)
	if round < warmup {
		what = "warm-up"
	}
	fmt.Fprintf(p.w, "\r\033[K[%d/%d %s] %s %s · %s · %s", p.n, p.total, time.Since(p.start).Round(time.Second),
		c.Scenario, SizeName(c.Size), c.Variant, what)
}

func (p *progress) done() {
	if p.w != nil {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
