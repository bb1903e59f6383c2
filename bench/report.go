package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func (r *Report) method() Method {
	c := r.Config
	return Method{Rounds: c.Rounds, Warmup: c.Warmup, Duration: c.Duration, Split: r.split}
}

// ReadJSON reads what WriteJSON wrote back into a report (to draw its
// table or plot again). The machine and method are the first result's.
func ReadJSON(rd io.Reader) (*Report, error) {
	var res []Result
	dec := json.NewDecoder(io.LimitReader(rd, 256<<20))
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("bench: read results: %w", err)
	}
	rep := &Report{Results: res}
	if len(res) > 0 && res[0].Machine != nil {
		rep.Machine = *res[0].Machine
	}
	if len(res) > 0 && res[0].Method != nil {
		m := res[0].Method
		rep.Config.Rounds, rep.Config.Warmup, rep.Config.Duration, rep.split = m.Rounds, m.Warmup, m.Duration, m.Split
	}
	return rep, nil
}

// WriteHeader writes the lines that head every report: the machine and
// how the figures were taken.
func (r *Report) WriteHeader(w io.Writer) error {
	m, c := r.Machine, r.Config
	where := "sender and receiver in one process"
	if r.split {
		where = "receiver in a child process (--split)"
	}
	_, err := fmt.Fprintf(w, "weft bench · %s\nmachine: %s · %d cores · GOMAXPROCS=%d · %s %s/%s · load %s\n",
		m.Started.Format("2006-01-02 15:04 MST"), m.CPU, m.Cores, m.GOMAXPROCS, m.GoVersion, m.OS, m.Arch, orDash(m.LoadAvg))
	if err != nil {
		return err
	}
	if m.Command != "" {
		fmt.Fprintf(w, "command: %s\n", m.Command)
	}
	_, err = fmt.Fprintf(w, "method: %d rounds after %d warm-up, the variants of each table alternating; %v of sending each; %s; loopback\n"+
		"figures: median [min–max] over rounds; MB/s and GB/s are 10^6 and 10^9 bytes of messages per second\n"+
		"ratio: weft's figure ÷ the row's, against weft with the same security (plaintext peers against weft plaintext)\n",
		c.Rounds, c.Warmup, c.Duration, where)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteTable writes the report for people: the header, then one table
// per scenario and size.
func (r *Report) WriteTable(w io.Writer) error {
	if err := r.WriteHeader(w); err != nil {
		return err
	}
	for _, g := range r.groups() {
		fmt.Fprintf(w, "\n%s\n", groupTitle(g[0]))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(columns(g[0].Scenario), "\t"))
		ref := map[bool]*Result{}
		for i := range g {
			if res := &g[i]; res.System == Weft && res.Runs > 0 && ref[res.Secure] == nil {
				ref[res.Secure] = res
			}
		}
		for i := range g {
			fmt.Fprintln(tw, strings.Join(row(&g[i], pickRef(ref, g[i].Secure)), "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// groups splits the results into tables: same scenario and size.
func (r *Report) groups() [][]Result {
	var gs [][]Result
	for _, res := range r.Results {
		n := len(gs)
		if n > 0 && gs[n-1][0].Scenario == res.Scenario && gs[n-1][0].Size == res.Size {
			gs[n-1] = append(gs[n-1], res)
			continue
		}
		gs = append(gs, []Result{res})
	}
	return gs
}

func groupTitle(r Result) string {
	t := fmt.Sprintf("%s · %s messages", r.Scenario, SizeName(r.Size))
	switch r.Scenario {
	case FanOut:
		t += fmt.Sprintf(" · one sender, %d receiving connections", r.Conns)
	case ManyConns:
		t += fmt.Sprintf(" · %d connections sending at once; heap and goroutines per connection end", r.Conns)
	case PingPong:
		t += " · one in flight; round-trip times in µs"
	case HubBroadcast:
		t += fmt.Sprintf(" · %d hub members over tcp, deliveries to the 4 others", hubMembers)
	case HubQuorum:
		t += fmt.Sprintf(" · %d hub members over tcp, one call at a time, 3 of 4 replies; call times in µs", hubMembers)
	}
	return t
}

func pickRef(ref map[bool]*Result, secure bool) *Result {
	if r := ref[secure]; r != nil {
		return r
	}
	return ref[!secure]
}

func columns(scenario string) []string {
	head := []string{"system", "transport", "security", "workers"}
	switch scenario {
	case PingPong, HubQuorum:
		return append(head, "p50", "p90", "p99", "p99.9", "round trips/s", "weft ÷ row (p50)")
	case ManyConns:
		return append(head, "msgs/s", "MB/s", "heap B/conn", "goroutines/conn", "weft ÷ row (msgs/s)")
	}
	return append(head, "msgs/s", "MB/s", "weft ÷ row (msgs/s)")
}

func row(r *Result, ref *Result) []string {
	workers := "auto"
	if r.Workers > 0 {
		workers = fmt.Sprint(r.Workers)
	}
	if r.System != Weft && r.System != Gnet {
		workers = "-"
	}
	sec := r.Security
	if r.Compression {
		sec += "+s2"
	}
	cells := []string{r.System, r.Transport, sec, workers}
	if r.Runs == 0 {
		for range len(columns(r.Scenario)) - len(cells) - 1 {
			cells = append(cells, "")
		}
		return append(cells, "not measured: "+firstLine(r.Error))
	}
	switch r.Scenario {
	case PingPong, HubQuorum:
		cells = append(cells, rangeText(r.P50us, r.P50Min, r.P50Max, num), num(*r.P90us), num(*r.P99us), num(*r.P999us),
			num(*r.MsgsPerSec), ratioText(ref, r, func(x *Result) *float64 { return x.P50us }))
	case ManyConns:
		cells = append(cells, rangeText(r.MsgsPerSec, r.MsgsPerSecMin, r.MsgsPerSecMax, num), num(*r.BytesPerSec/1e6),
			num(*r.HeapBytesPerConn), fmt.Sprintf("%.2f", *r.GoroutinesPerConn), ratioText(ref, r, func(x *Result) *float64 { return x.MsgsPerSec }))
	default:
		cells = append(cells, rangeText(r.MsgsPerSec, r.MsgsPerSecMin, r.MsgsPerSecMax, num), num(*r.BytesPerSec/1e6),
			ratioText(ref, r, func(x *Result) *float64 { return x.MsgsPerSec }))
	}
	if r.Error != "" {
		cells = append(cells, "(then: "+firstLine(r.Error)+")")
	}
	return cells
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

func rangeText(med, lo, hi *float64, f func(float64) string) string {
	return fmt.Sprintf("%s [%s–%s]", f(*med), f(*lo), f(*hi))
}

// ratioText is "weft/raw-tcp 0.52×": weft's figure over the row's.
func ratioText(ref, r *Result, f func(*Result) *float64) string {
	if ref == nil || r.System == Weft {
		return "-"
	}
	a, b := f(ref), f(r)
	if a == nil || b == nil || *b == 0 {
		return "-"
	}
	name := "weft"
	if ref.Secure != r.Secure {
		name += "(" + ref.Security + ")"
	}
	return fmt.Sprintf("%s/%s %.2f×", name, r.System, *a / *b)
}

// num writes a figure with about three significant digits and an SI
// suffix: 18.3M, 1.46G, 742, 31.2.
func num(v float64) string {
	switch {
	case v >= 1e9:
		return sig3(v/1e9) + "G"
	case v >= 1e6:
		return sig3(v/1e6) + "M"
	case v >= 1e4:
		return sig3(v/1e3) + "k"
	}
	return sig3(v)
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// WriteJSON writes the results as one JSON array, an object per cell,
// each with the machine it ran on.
func (r *Report) WriteJSON(w io.Writer) error {
	res := r.Results
	if res == nil {
		res = []Result{}
	}
	m := r.method()
	for i := range res {
		res[i].Machine, res[i].Method = &r.Machine, &m
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
