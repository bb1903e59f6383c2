package hub

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/weftnet/weft/endpoint"
)

// seqChecker records, per sender and lane, the sequence numbers received
// and flags anything out of order.
type seqChecker struct {
	mu   sync.Mutex
	next map[string]uint64
	errs []string
	got  int
}

func newSeqChecker() *seqChecker { return &seqChecker{next: make(map[string]uint64)} }

func (s *seqChecker) handle(m *Message) {
	key := fmt.Sprintf("%s/%v", m.From, m.Lane)
	seq := binary.BigEndian.Uint64(m.Payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got++
	if want := s.next[key]; seq != want && len(s.errs) < 10 {
		s.errs = append(s.errs, fmt.Sprintf("from %s: got %d, want %d", key, seq, want))
	}
	s.next[key] = seq + 1
}

func (s *seqChecker) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func TestNoLossNoReorderTCP(t *testing.T)  { testNoLossNoReorder(t, "tcp", false) }
func TestNoLossNoReorderMem(t *testing.T)  { testNoLossNoReorder(t, "mem", false) }
func TestNoLossNoReorderQUIC(t *testing.T) { testNoLossNoReorder(t, "quic", false) }

// Over mem, every connection is reset several times during the run: the
// endpoints resume under the hub, which sees nothing.
//
// A kill drops acknowledgements in flight; the closes at the end then
// need the endpoints' resumes, which the hub's listeners serve until the
// endpoints are done (Hub.Close closes them last).
func TestNoLossNoReorderMemKills(t *testing.T) {
	testNoLossNoReorder(t, "mem", true)
}

// testNoLossNoReorder: every hub sends numbered messages to every other on
// both lanes at once; each receiver sees each (sender, lane) sequence
// complete and in order, once.
func testNoLossNoReorder(t *testing.T, net string, kills bool) {
	const n = 5
	per := 3000
	if testing.Short() {
		per = 500
	}
	checkers := make([]*seqChecker, n)
	c := newCluster(t, net, n, func(i int, cfg *Config) {
		checkers[i] = newSeqChecker()
		cfg.Handler = checkers[i].handle
		cfg.Endpoint = endpoint.Config{} // defaults: connections resume for 30 s
	})
	c.waitMesh()
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	for i := range n {
		for _, l := range allLanes {
			wg.Add(1)
			go func() { defer wg.Done(); sendSeq(ctx, t, c.hubs[i], l, per) }()
		}
	}
	if kills {
		for k := range 3 {
			waitUntil(t, "traffic flowing", func() bool { return checkers[0].count() > (k+1)*per/2 })
			for i := range n {
				for j := i + 1; j < n; j++ {
					_, _ = c.net.nw.KillConns(c.addrs[i], c.addrs[j])
				}
			}
		}
	}
	wg.Wait()
	want := per * 2 * (n - 1)
	for i := range n {
		waitUntil(t, fmt.Sprintf("hub %d received everything", i), func() bool { return checkers[i].count() >= want })
		if got := checkers[i].count(); got != want {
			t.Errorf("hub %d got %d messages, want %d", i, got, want)
		}
		if errs := checkers[i].errs; len(errs) > 0 {
			t.Errorf("hub %d: out of order: %v", i, errs)
		}
		if st := c.hubs[i].Stats(); st.Downs != 0 || st.Undelivered != 0 {
			t.Errorf("hub %d: %+v", i, st)
		}
	}
}

// sendSeq sends per numbered messages to every member of h on lane.
func sendSeq(ctx context.Context, t *testing.T, h *Hub, l Lane, per int) {
	members := h.Members()
	msg := make([]byte, 64)
	if l == Bulk {
		msg = make([]byte, 1024)
	}
	for s := range per {
		binary.BigEndian.PutUint64(msg, uint64(s))
		for _, m := range members {
			if err := h.On(l).Send(ctx, m, msg); err != nil {
				t.Errorf("send %d to %s on %v: %v", s, m, l, err)
				return
			}
		}
	}
}
