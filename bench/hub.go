package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/hub/hubbench"
)

// The hub's own scenarios run weft only: five hub members on loopback TCP
// (hubbench), node 0 driving.
const (
	HubBroadcast = "hub-broadcast" // node 0 broadcasts to the four others: deliveries/s
	HubQuorum    = "hub-quorum"    // node 0's quorum calls, 3 of 4 replies: latency
)

// hubMembers is the size of the hub scenarios' cluster.
const hubMembers = 5

// isHubScenario reports whether sc is one of the hub's scenarios.
func isHubScenario(sc string) bool { return sc == HubBroadcast || sc == HubQuorum }

// hubVariants keeps, of vs, the one variant a hub scenario runs: weft
// over tcp, secure (the hub's default endpoint).
func hubVariants(vs []Variant) []Variant {
	for _, v := range vs {
		if v.System == "weft" && v.Transport == "tcp" && v.Secure() {
			return []Variant{{System: "weft", Transport: "tcp", Security: v.Security, Workers: 2}}
		}
	}
	return nil
}

// hubChunk is how many calls or broadcasts a timed hub measurement makes
// between looks at the clock.
const hubChunk = 200

func (e *env) hubScenario(ctx context.Context, c Cell, lim Limits) (Sample, error) {
	if c.Variant.System != "weft" {
		return Sample{}, fmt.Errorf("bench: %s measures weft's hub only: %w", c.Scenario, ErrUnknown)
	}
	cl, err := hubbench.Start(ctx, hubbench.Config{Members: hubMembers})
	if err != nil {
		return Sample{}, fmt.Errorf("bench: hub cluster: %w", err)
	}
	defer cl.Close()
	var s Sample
	start := time.Now()
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	for done := 0; lim.more(done, start); {
		n := hubChunk
		if lim.Count > 0 {
			n = min(n, lim.Count-done)
		}
		switch c.Scenario {
		case HubBroadcast:
			r, err := hubbench.BroadcastRate(ctx, cl, hub.Control, c.Size, n)
			if err != nil {
				return Sample{}, err
			}
			s.Msgs += r.Msgs
			s.Elapsed += r.Elapsed
		case HubQuorum:
			payload := make([]byte, c.Size)
			for range n {
				t0 := time.Now()
				if _, err := cl.Hubs[0].Quorum(ctx, payload, 3); err != nil {
					return Sample{}, err
				}
				_ = h.RecordValue(int64(time.Since(t0)))
			}
			s.Msgs += uint64(n)
		}
		done += n
	}
	if c.Scenario == HubQuorum {
		s.Elapsed = time.Since(start)
		q := func(p float64) time.Duration { return time.Duration(h.ValueAtQuantile(p)) }
		s.P50, s.P90, s.P99, s.P999 = q(50), q(90), q(99), q(99.9)
	}
	return s, nil
}
