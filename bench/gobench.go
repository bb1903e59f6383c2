package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteGoBench writes the results in the Go benchmark data format
// (golang.org/design/14313-benchmark-data), one line per measured round,
// so that benchstat compares two runs:
//
//	weft bench --gobench > old.txt; …; weft bench --gobench > new.txt
//	benchstat old.txt new.txt
//
// Names carry the configuration as key=value parts
// (BenchmarkThroughput/system=weft/transport=tcp/…/size=64B-2), which
// benchstat can group by (-col /system).
func (r *Report) WriteGoBench(w io.Writer) error {
	m := r.Machine
	_, err := fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: github.com/weftnet/weft/bench\ncpu: %s\ncores: %d\ngomaxprocs: %d\ngo: %s\nsplit: %t\n",
		m.OS, m.Arch, m.CPU, m.Cores, m.GOMAXPROCS, m.GoVersion, r.split)
	if err != nil {
		return err
	}
	for i := range r.Results {
		res := &r.Results[i]
		name := benchName(res, m.GOMAXPROCS)
		for _, s := range res.Rounds {
			if _, err := fmt.Fprintln(w, benchLine(name, res, s)); err != nil {
				return err
			}
		}
	}
	return nil
}

// benchName is the benchmark's name: the scenario, then the cell's
// settings as key=value parts, then -GOMAXPROCS.
func benchName(r *Result, procs int) string {
	scen := strings.ToUpper(r.Scenario[:1]) + r.Scenario[1:]
	parts := []string{
		"Benchmark" + scen,
		"system=" + r.System,
		"transport=" + r.Transport,
		"security=" + r.Security,
		fmt.Sprintf("workers=%d", r.Workers),
		fmt.Sprintf("compression=%t", r.Compression),
	}
	if r.Conns > 1 {
		parts = append(parts, fmt.Sprintf("conns=%d", r.Conns))
	}
	parts = append(parts, "size="+SizeName(r.Size))
	return fmt.Sprintf("%s-%d", strings.Join(parts, "/"), procs)
}

func benchLine(name string, r *Result, s Sample) string {
	n := max(s.Msgs, 1)
	fields := []string{name, fmt.Sprint(n), fmt.Sprintf("%.2f ns/op", float64(s.Elapsed)/float64(n))}
	switch r.Scenario {
	case PingPong, HubQuorum:
		for _, p := range []struct {
			unit string
			v    int64
		}{{"p50-ns", int64(s.P50)}, {"p90-ns", int64(s.P90)}, {"p99-ns", int64(s.P99)}, {"p99.9-ns", int64(s.P999)}} {
			fields = append(fields, fmt.Sprintf("%d %s", p.v, p.unit))
		}
	default:
		fields = append(fields, fmt.Sprintf("%.2f MB/s", s.MsgsPerSec()*float64(r.Size)/1e6), fmt.Sprintf("%.0f msgs/s", s.MsgsPerSec()))
	}
	if r.Scenario == ManyConns {
		fields = append(fields, fmt.Sprintf("%.0f heap-B/conn", s.HeapPerConn), fmt.Sprintf("%.3f goroutines/conn", s.GoroutinesPerConn))
	}
	return strings.Join(fields, "\t")
}
