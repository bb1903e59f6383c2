package bench_test

import (
	"context"
	"fmt"
	"time"

	"github.com/weftnet/weft/bench"
)

// Example measures weft beside raw TCP: 64-byte throughput, two short
// rounds each, alternating. The figures vary; the shape does not.
func Example() {
	rep, err := bench.Run(context.Background(), bench.Config{
		Scenarios: []string{bench.Throughput},
		Systems:   []string{bench.Weft, bench.RawTCP},
		Security:  []string{bench.Secure},
		Sizes:     []int{64},
		Rounds:    2,
		Duration:  20 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	for _, r := range rep.Results {
		fmt.Printf("%s %s %s: %d rounds, %t\n", r.Scenario, bench.SizeName(r.Size), r.Variant(), r.Runs, *r.MsgsPerSec > 0)
	}
	// rep.WriteTable(os.Stdout) prints them for people.
	// Output:
	// throughput 64B weft tcp secure: 2 rounds, true
	// throughput 64B raw-tcp tcp plaintext: 2 rounds, true
}

func ExampleParseSize() {
	for _, s := range []string{"64", "1KiB", "1MiB"} {
		n, _ := bench.ParseSize(s)
		fmt.Println(n, bench.SizeName(n))
	}
	// Output:
	// 64 64B
	// 1024 1KiB
	// 1048576 1MiB
}
