package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/weftnet/weft/bench"
)

// childEnv marks the child process of --split (also for test binaries,
// whose TestMain looks for it).
const childEnv = "WEFT_BENCH_CHILD"

// runBench measures weft beside its peers and reports the figures.
func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && (args[0] == "--child" || args[0] == "-child") {
		return bench.ServeChild(os.Stdin, os.Stdout)
	}
	fs := newFlagSet("bench", "[flags]", stderr)
	o := benchFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := o.config(fs)
	if err != nil {
		return &usageError{msg: err.Error()}
	}
	if o.json && o.gobench {
		return &usageError{msg: "-json and -gobench both print to stdout; use -json-out or -gobench-out for the other"}
	}
	var plotFormat string
	if o.plot != "" {
		if plotFormat, err = bench.PlotFormat(o.plot); err != nil {
			return &usageError{msg: err.Error()}
		}
	}
	if isTerminal(stderr) {
		cfg.Progress = stderr
	}
	if o.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.from != "" {
		rep, err := readReport(o.from)
		if err != nil {
			return err
		}
		return o.write(rep, plotFormat, stdout)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	var ce *bench.ConfigError
	if errors.As(err, &ce) {
		return &usageError{msg: err.Error()}
	}
	if err != nil {
		return err
	}
	rep.Machine.Command = strings.TrimSpace("weft bench " + strings.Join(args, " "))
	return o.write(rep, plotFormat, stdout)
}

// readReport reads the results of an earlier run (-json-out).
func readReport(path string) (*bench.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return bench.ReadJSON(f)
}

// benchOptions are the flags of weft bench.
type benchOptions struct {
	quick, json, gobench, split, verbose        bool
	jsonOut, gobenchOut, plot, configFile, from string
	scenarios, systems, transports, sec         string
	workers, compression                        string
	sizes, ppSizes, foSizes, mcSizes            string
	fanout, conns, rounds, warmup               int
	duration, timeout                           time.Duration
}

func benchFlags(fs *flag.FlagSet) *benchOptions {
	o := &benchOptions{}
	fs.BoolVar(&o.quick, "quick", false, "a short run: 64 B and 1 MiB throughput and 64 B ping-pong, 3 rounds of 250ms (under a minute)")
	fs.BoolVar(&o.json, "json", false, "print the results as one JSON array instead of the table")
	fs.BoolVar(&o.gobench, "gobench", false, "print Go benchmark lines (for benchstat) instead of the table")
	fs.StringVar(&o.jsonOut, "json-out", "", "also write the JSON array to `file`")
	fs.StringVar(&o.gobenchOut, "gobench-out", "", "also write Go benchmark lines to `file`")
	fs.StringVar(&o.plot, "plot", "", "draw throughput against size and latency percentiles to `file` (.png or .svg)")
	fs.StringVar(&o.from, "from", "", "measure nothing: report the results of an earlier run, read from its JSON `file`")
	fs.StringVar(&o.configFile, "config", "", "read the matrix from a JSON `file` (fields of bench.Config in snake case); flags override it")
	fs.StringVar(&o.scenarios, "scenarios", "", "comma-separated: "+strings.Join(bench.Scenarios(), ", ")+" (default all; -quick: throughput, pingpong)")
	fs.StringVar(&o.systems, "systems", "", "comma-separated: "+strings.Join(bench.Systems(), ", ")+" (default all)")
	fs.StringVar(&o.transports, "transports", "", "weft's transports, comma-separated: "+strings.Join(bench.Transports(), ", ")+" (default tcp)")
	fs.StringVar(&o.sec, "security", "", "weft's security, comma-separated: secure, aesgcm, chachapoly, plaintext (default secure,plaintext)")
	fs.StringVar(&o.workers, "workers", "", "weft's driver workers, comma-separated; 0 is GOMAXPROCS (default 0)")
	fs.StringVar(&o.compression, "compression", "", "weft's compression, comma-separated: off, on (default off)")
	fs.StringVar(&o.sizes, "sizes", "", "throughput message sizes, like 64,1KiB,1MiB (default 64,1KiB,64KiB,1MiB)")
	fs.StringVar(&o.ppSizes, "pingpong-sizes", "", "ping-pong message sizes (default 64,1KiB)")
	fs.StringVar(&o.foSizes, "fanout-sizes", "", "fan-out message sizes (default 64,64KiB)")
	fs.StringVar(&o.mcSizes, "manyconns-sizes", "", "many-connections message sizes (default 64)")
	fs.IntVar(&o.fanout, "fanout", 0, "receiving connections of fanout (default 8)")
	fs.IntVar(&o.conns, "conns", 0, "connections of manyconns (default 1000)")
	fs.IntVar(&o.rounds, "rounds", 0, "measured rounds per cell (default 5; -quick 3)")
	fs.IntVar(&o.warmup, "warmup", 0, "warm-up rounds per cell, -1 for none (default 1)")
	fs.DurationVar(&o.duration, "duration", 0, "sending time of one measurement (default 1s; -quick 250ms)")
	fs.DurationVar(&o.timeout, "timeout", 0, "limit of one measurement, set-up and drain included (default 1m; -quick 20s)")
	fs.BoolVar(&o.split, "split", false, "run the receivers in a child process (this binary), not beside the senders")
	fs.BoolVar(&o.verbose, "v", false, "log failed cells and diagnostics to stderr")
	return o
}

// config builds the run's configuration: -quick or the defaults, then the
// config file, then the flags given.
func (o *benchOptions) config(fs *flag.FlagSet) (bench.Config, error) {
	var cfg bench.Config
	if o.quick {
		cfg = bench.Quick()
	}
	if o.configFile != "" {
		var err error
		if cfg, err = bench.LoadConfig(o.configFile, cfg); err != nil {
			return cfg, err
		}
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err == nil {
			err = o.apply(&cfg, f.Name)
		}
	})
	if o.split {
		cfg.Split = splitCommand
	}
	return cfg, err
}

// apply copies one flag given on the command line into cfg.
func (o *benchOptions) apply(cfg *bench.Config, name string) error {
	var err error
	switch name {
	case "scenarios":
		cfg.Scenarios = list(o.scenarios)
	case "systems":
		cfg.Systems = list(o.systems)
	case "transports":
		cfg.Transports = list(o.transports)
	case "security":
		cfg.Security = list(o.sec)
	case "workers":
		cfg.Workers, err = ints(o.workers)
	case "compression":
		cfg.Compression, err = bools(o.compression)
	case "sizes":
		cfg.Sizes, err = sizes(o.sizes)
	case "pingpong-sizes":
		cfg.PingPongSizes, err = sizes(o.ppSizes)
	case "fanout-sizes":
		cfg.FanOutSizes, err = sizes(o.foSizes)
	case "manyconns-sizes":
		cfg.ManyConnsSizes, err = sizes(o.mcSizes)
	case "fanout":
		cfg.FanOut = o.fanout
	case "conns":
		cfg.Conns = o.conns
	case "rounds":
		cfg.Rounds = o.rounds
	case "warmup":
		cfg.Warmup = o.warmup
		if o.warmup == 0 {
			cfg.Warmup = -1 // "-warmup 0" means none, not the default
		}
	case "duration":
		cfg.Duration = o.duration
	case "timeout":
		cfg.Timeout = o.timeout
	}
	if err != nil {
		return fmt.Errorf("-%s: %w", name, err)
	}
	return nil
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range list(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func bools(s string) ([]bool, error) {
	var out []bool
	for _, f := range list(s) {
		switch f {
		case "on", "true":
			out = append(out, true)
		case "off", "false":
			out = append(out, false)
		default:
			return nil, fmt.Errorf("%q is neither on nor off", f)
		}
	}
	return out, nil
}

func sizes(s string) ([]int, error) {
	var out []int
	for _, f := range list(s) {
		n, err := bench.ParseSize(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// splitCommand re-runs this binary as the receiving child of --split.
func splitCommand() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.Command(exe, "bench", "--child")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Stderr = os.Stderr
	return cmd
}

// write prints the report and writes the files asked for.
func (o *benchOptions) write(rep *bench.Report, plotFormat string, stdout io.Writer) error {
	var errs []error
	for _, f := range []struct {
		path  string
		write func(io.Writer) error
	}{
		{o.jsonOut, rep.WriteJSON},
		{o.gobenchOut, rep.WriteGoBench},
		{o.plot, func(w io.Writer) error { return rep.WritePlot(w, plotFormat) }},
	} {
		if f.path != "" {
			errs = append(errs, writeFile(f.path, f.write))
		}
	}
	switch {
	case o.json:
		errs = append(errs, rep.WriteJSON(stdout))
	case o.gobench:
		errs = append(errs, rep.WriteGoBench(stdout))
	default:
		errs = append(errs, rep.WriteTable(stdout))
	}
	return errors.Join(errs...)
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// isTerminal reports whether w is a character device (a terminal; also
// /dev/null, where progress costs nothing).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
