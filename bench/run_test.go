package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tiny is a run of every scenario and system that takes a few seconds.
func tiny() Config {
	return Config{
		Transports:     []string{"tcp", "mem"},
		Sizes:          []int{64, 64 << 10},
		PingPongSizes:  []int{64},
		FanOutSizes:    []int{64},
		ManyConnsSizes: []int{64},
		FanOut:         3,
		Conns:          10,
		Rounds:         2,
		Warmup:         -1,
		Duration:       15 * time.Millisecond,
		Timeout:        20 * time.Second,
	}
}

func runTiny(t *testing.T, cfg Config) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRunEveryScenarioAndSystem(t *testing.T) {
	rep := runTiny(t, tiny())
	// 5 sizes (2 throughput, 1 each for the rest) × (weft: 2 transports ×
	// 2 security) + raw-tcp + gnet + quic-go + libp2p noise + plaintext,
	// and the two hub scenarios (weft over tcp, secure, only).
	if got, want := len(rep.Results), 5*(4+5)+2; got != want {
		t.Fatalf("%d results, want %d", got, want)
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.System] = true
		if r.Error != "" || r.Runs != 2 || len(r.Rounds) != 2 {
			t.Errorf("%s %s %s: runs %d, error %q", r.Scenario, SizeName(r.Size), r.Variant(), r.Runs, r.Error)
			continue
		}
		checkFigures(t, &r)
	}
	for _, s := range Systems() {
		if !seen[s] {
			t.Errorf("no result for %s", s)
		}
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"machine: ", "GOMAXPROCS=", "weft/raw-tcp ", "weft/gnet ", "weft/quic-go ", "weft/libp2p ", "fanout · 64B", "manyconns · 64B", "hub-broadcast · 64B", "hub-quorum · 64B"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// checkFigures checks that a result has the figures of its scenario, and
// only those.
func checkFigures(t *testing.T, r *Result) {
	t.Helper()
	pp, mc := r.Scenario == PingPong || r.Scenario == HubQuorum, r.Scenario == ManyConns
	for name, f := range map[string]struct {
		v    *float64
		want bool
	}{
		"msgs_per_sec": {r.MsgsPerSec, true}, "bytes_per_sec": {r.BytesPerSec, !pp},
		"p50_us": {r.P50us, pp}, "p99_us": {r.P99us, pp}, "p999_us": {r.P999us, pp},
		"heap_bytes_per_conn": {r.HeapBytesPerConn, mc},
	} {
		if (f.v != nil) != f.want {
			t.Errorf("%s %s: %s is %v, want set=%v", r.Scenario, r.Variant(), name, f.v, f.want)
		}
		if f.v != nil && *f.v <= 0 && name != "heap_bytes_per_conn" {
			t.Errorf("%s %s: %s = %v", r.Scenario, r.Variant(), name, *f.v)
		}
	}
	if pp && !(*r.P50us <= *r.P99us && *r.P99us <= *r.P999us) {
		t.Errorf("%s: percentiles out of order: %v %v %v", r.Variant(), *r.P50us, *r.P99us, *r.P999us)
	}
	if !pp && !(*r.MsgsPerSecMin <= *r.MsgsPerSec && *r.MsgsPerSec <= *r.MsgsPerSecMax) {
		t.Errorf("%s: median %v outside [%v, %v]", r.Variant(), *r.MsgsPerSec, *r.MsgsPerSecMin, *r.MsgsPerSecMax)
	}
}

func TestRunSplit(t *testing.T) {
	cfg := tiny()
	cfg.Scenarios = []string{Throughput, PingPong}
	cfg.Systems = []string{Weft, RawTCP, Gnet}
	cfg.Sizes = []int{1 << 10}
	cfg.Split = func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"=1")
		cmd.Stderr = os.Stderr
		return cmd
	}
	rep := runTiny(t, cfg)
	for _, r := range rep.Results {
		if !r.Split {
			t.Errorf("%s: split = false", r.Variant())
		}
		if r.Transport == "mem" {
			if r.Runs != 0 || !strings.Contains(r.Error, "in-process") {
				t.Errorf("mem under --split: runs %d, error %q", r.Runs, r.Error)
			}
			continue
		}
		if r.Error != "" || r.Runs != 2 {
			t.Errorf("%s %s: runs %d, error %q", r.Scenario, r.Variant(), r.Runs, r.Error)
		}
	}
}

// TestJSONAndGoBench checks the two machine-readable outputs of one run:
// the JSON array parses back with the fields the issue names, and every
// line of the Go benchmark output follows the format benchstat reads.
func TestJSONAndGoBench(t *testing.T) {
	cfg := tiny()
	cfg.Systems = []string{Weft, RawTCP}
	cfg.Transports = []string{"tcp"}
	rep := runTiny(t, cfg)
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	checkJSON(t, js.Bytes(), len(rep.Results))
	back, err := ReadJSON(bytes.NewReader(js.Bytes()))
	if err != nil || len(back.Results) != len(rep.Results) || back.Machine.GoVersion == "" || back.Config.Rounds != 2 {
		t.Fatalf("ReadJSON: %v, %d results, machine %+v", err, len(back.Results), back.Machine)
	}
	var gb bytes.Buffer
	if err := rep.WriteGoBench(&gb); err != nil {
		t.Fatal(err)
	}
	lines := checkGoBench(t, gb.String())
	if want := 2 * len(rep.Results); lines != want {
		t.Errorf("%d benchmark lines, want %d (one per round)", lines, want)
	}
}

func checkJSON(t *testing.T, data []byte, n int) {
	t.Helper()
	var objs []map[string]any
	if err := json.Unmarshal(data, &objs); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	if len(objs) != n {
		t.Fatalf("%d objects, want %d", len(objs), n)
	}
	for _, o := range objs {
		for _, k := range []string{"system", "transport", "scenario", "size", "secure", "msgs_per_sec", "bytes_per_sec", "p50_us", "p99_us", "runs", "machine"} {
			if _, ok := o[k]; !ok {
				t.Errorf("object lacks %q: %v", k, o)
			}
		}
		if o["scenario"] == PingPong && (o["p50_us"] == nil || o["bytes_per_sec"] != nil) {
			t.Errorf("pingpong: p50_us %v, bytes_per_sec %v", o["p50_us"], o["bytes_per_sec"])
		}
		if o["scenario"] == Throughput && (o["p50_us"] != nil || o["bytes_per_sec"] == nil) {
			t.Errorf("throughput: p50_us %v, bytes_per_sec %v", o["p50_us"], o["bytes_per_sec"])
		}
	}
}

var (
	configLine  = regexp.MustCompile(`^[a-z][^\s:]*:(\s|$)`)
	benchLineRE = regexp.MustCompile(`^Benchmark[^a-z\s]\S*$`)
)

// checkGoBench checks out against the Go benchmark data format
// (golang.org/design/14313-benchmark-data): configuration lines "key:
// value" with a lower-case key, and result lines of a name starting with
// "Benchmark" and an upper-case letter, an iteration count, then pairs of
// a number and a unit. It returns the number of result lines.
func checkGoBench(t testing.TB, out string) int {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, "Benchmark"):
			if err := checkResultLine(line); err != nil {
				t.Errorf("%v: %q", err, line)
			}
			n++
		case configLine.MatchString(line):
		default:
			t.Errorf("neither a configuration nor a result line: %q", line)
		}
	}
	return n
}

func checkResultLine(line string) error {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 {
		return fmt.Errorf("want a name, a count and value-unit pairs, got %d fields", len(f))
	}
	if !benchLineRE.MatchString(f[0]) {
		return fmt.Errorf("bad name %q", f[0])
	}
	if n, err := strconv.Atoi(f[1]); err != nil || n < 1 {
		return fmt.Errorf("bad iteration count %q", f[1])
	}
	for i := 2; i < len(f); i += 2 {
		if _, err := strconv.ParseFloat(f[i], 64); err != nil {
			return fmt.Errorf("bad value %q", f[i])
		}
	}
	return nil
}

func TestPlot(t *testing.T) {
	cfg := tiny()
	cfg.Scenarios = []string{Throughput, PingPong}
	cfg.Systems = []string{RawTCP, Gnet}
	rep := runTiny(t, cfg)
	for format, magic := range map[string]string{"png": "\x89PNG", "svg": "<?xml"} {
		var buf bytes.Buffer
		if err := rep.WritePlot(&buf, format); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(buf.Bytes(), []byte(magic)) || buf.Len() < 1000 {
			t.Errorf("%s: %d bytes starting %q", format, buf.Len(), buf.Bytes()[:min(8, buf.Len())])
		}
	}
	if err := rep.WritePlot(&bytes.Buffer{}, "gif"); err != ErrPlotFormat {
		t.Errorf("gif: %v, want ErrPlotFormat", err)
	}
}
