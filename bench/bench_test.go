package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childEnv makes the test binary a ServeChild process (for Config.Split).
const childEnv = "WEFT_BENCH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := ServeChild(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m, leakIgnores()...)
}

// leakIgnores are the goroutines of gnet's process-wide goroutine pool
// (started by gnet's package init, never stopped).
func leakIgnores() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		// Idle workers of that pool (gnet enrolls a moved socket with it:
		// the hub scenarios move endpoints) wait out its 10 s expiry.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
	}
}

// The benchmarks run the scenarios from go test, b.N messages (or round
// trips) per run: go test -run X -bench . ./bench/
func BenchmarkThroughput(b *testing.B) {
	for _, size := range []int{64, 1 << 20} {
		for _, v := range benchVariants() {
			b.Run(fmt.Sprintf("%s/%s", SizeName(size), v), func(b *testing.B) {
				b.SetBytes(int64(size))
				benchCell(b, Cell{Scenario: Throughput, Variant: v, Size: size})
			})
		}
	}
}

func BenchmarkPingPong(b *testing.B) {
	for _, v := range benchVariants() {
		b.Run(v.String(), func(b *testing.B) {
			s := benchCell(b, Cell{Scenario: PingPong, Variant: v, Size: 64})
			b.ReportMetric(float64(s.P50.Nanoseconds())/1e3, "p50-µs")
			b.ReportMetric(float64(s.P99.Nanoseconds())/1e3, "p99-µs")
		})
	}
}

func benchVariants() []Variant {
	cfg := Config{}
	if err := cfg.validate(); err != nil {
		panic(err)
	}
	var vs []Variant
	for _, name := range Systems() {
		vs = append(vs, systems[name].variants(&cfg)...)
	}
	return vs
}

// benchCell measures c with b.N messages and reports the time of the
// measurement alone (not the set-up) as ns/op.
func benchCell(b *testing.B, c Cell) Sample {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := Measure(ctx, c, Limits{Count: b.N})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(s.Elapsed.Nanoseconds())/float64(max(s.Msgs, 1)), "ns/op")
	b.ReportMetric(s.MsgsPerSec(), "msgs/s")
	return s
}
