package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/weftnet/weft/bench"
)

// TestMain makes the test binary the receiving child of "bench --split"
// (splitCommand sets childEnv).
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := bench.ServeChild(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tinyQuick is --quick shrunk for tests: one round of 20ms, no warm-up.
var tinyQuick = []string{"bench", "--quick", "--duration", "20ms", "--rounds", "1", "--warmup", "0"}

func TestBenchQuickJSON(t *testing.T) {
	code, stdout, stderr := runWeft(append(tinyQuick, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res []map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not one JSON array: %v\n%s", err, stdout)
	}
	type key struct {
		scenario, system string
		size             float64
	}
	seen := map[key]bool{}
	for _, r := range res {
		if r["runs"] != 1.0 || r["error"] != nil {
			t.Errorf("%v %v %v: runs %v, error %v", r["scenario"], r["system"], r["size"], r["runs"], r["error"])
		}
		for _, k := range []string{"transport", "secure", "msgs_per_sec", "bytes_per_sec", "p50_us", "p99_us", "machine"} {
			if _, ok := r[k]; !ok {
				t.Errorf("object lacks %q", k)
			}
		}
		seen[key{r["scenario"].(string), r["system"].(string), r["size"].(float64)}] = true
	}
	for _, sys := range []string{"weft", "raw-tcp", "gnet", "quic-go", "libp2p"} {
		for _, k := range []key{{"throughput", sys, 64}, {"throughput", sys, 1 << 20}, {"pingpong", sys, 64}} {
			if !seen[k] {
				t.Errorf("no result for %v", k)
			}
		}
	}
}

// TestBenchGoBench checks the benchmark lines against the Go benchmark
// format, and has benchstat read them when it is installed.
func TestBenchGoBench(t *testing.T) {
	code, stdout, stderr := runWeft(append(tinyQuick, "--gobench", "--systems", "weft,raw-tcp", "--rounds", "2")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := checkGoBench(t, stdout); n != 2*3*3 { // 3 cells × 3 variants × 2 rounds
		t.Errorf("%d benchmark lines, want 18:\n%s", n, stdout)
	}
	benchstat := findBenchstat()
	if benchstat == "" {
		t.Log("benchstat not installed; format checked by checkGoBench only")
		return
	}
	path := filepath.Join(t.TempDir(), "run.txt")
	if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(benchstat, path).CombinedOutput()
	if err != nil {
		t.Fatalf("benchstat: %v\n%s", err, out)
	}
	// benchstat shows the unit p50-ns as p50-sec.
	for _, want := range []string{"Throughput/system=weft/", "Pingpong/system=raw-tcp/", "msgs/s", "p50-sec"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("benchstat output lacks %q:\n%s", want, out)
		}
	}
}

func findBenchstat() string {
	if p, err := exec.LookPath("benchstat"); err == nil {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		if p := filepath.Join(home, "go", "bin", "benchstat"); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

var benchName = regexp.MustCompile(`^Benchmark[^a-z\s]\S*$`)

// checkGoBench checks out against the Go benchmark data format
// (golang.org/design/14313-benchmark-data) and returns the number of
// result lines.
func checkGoBench(t *testing.T, out string) int {
	t.Helper()
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case strings.HasPrefix(line, "Benchmark"):
			n++
			if !benchName.MatchString(f[0]) || len(f) < 4 || len(f)%2 != 0 {
				t.Errorf("bad result line %q", line)
				continue
			}
			if _, err := strconv.Atoi(f[1]); err != nil {
				t.Errorf("bad iteration count in %q", line)
			}
			for i := 2; i < len(f); i += 2 {
				if _, err := strconv.ParseFloat(f[i], 64); err != nil {
					t.Errorf("bad value %q in %q", f[i], line)
				}
			}
		case regexp.MustCompile(`^[a-z][^\s:]*:(\s|$)`).MatchString(line):
		default:
			t.Errorf("neither a configuration nor a result line: %q", line)
		}
	}
	return n
}

// TestBenchTableAndPlot runs the default output (a table with ratios),
// writes a plot, and draws the table again from the saved JSON.
func TestBenchTableAndPlot(t *testing.T) {
	dir := t.TempDir()
	png, js := filepath.Join(dir, "b.png"), filepath.Join(dir, "b.json")
	code, stdout, stderr := runWeft(append(tinyQuick, "--systems", "weft,raw-tcp,gnet", "--plot", png, "--json-out", js)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"machine: ", "GOMAXPROCS=", "command: weft bench --quick", "throughput · 64B", "throughput · 1MiB", "pingpong · 64B", "weft/raw-tcp ", "weft/gnet "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	data, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(data, []byte("\x89PNG")) {
		t.Errorf("plot: %v, %d bytes", err, len(data))
	}
	code, again, stderr := runWeft("bench", "--from", js)
	if code != 0 || !strings.Contains(again, "weft/raw-tcp ") || !strings.Contains(again, "command: weft bench --quick") {
		t.Errorf("--from: exit %d, %s\n%s", code, stderr, again)
	}
}

func TestBenchSplit(t *testing.T) {
	code, stdout, stderr := runWeft(append(tinyQuick, "--split", "--json", "--systems", "weft,raw-tcp", "--scenarios", "pingpong")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res []bench.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	for _, r := range res {
		if !r.Split || r.Runs != 1 || r.P50us == nil {
			t.Errorf("%s: split %v, runs %d, error %q", r.Variant(), r.Split, r.Runs, r.Error)
		}
	}
}

func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--sizes", "0"},
		{"bench", "--sizes", "huge"},
		{"bench", "--json", "--gobench"},
		{"bench", "--plot", "out.gif"},
		{"bench", "--systems", "zeromq"},
		{"bench", "--workers", "two"},
		{"bench", "--compression", "maybe"},
		{"bench", "--rounds", "-2"},
		{"bench", "--config", "/nonexistent/bench.json"},
		{"bench", "stray"},
	} {
		if code, _, stderr := runWeft(args...); code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}
