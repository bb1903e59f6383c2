package libp2ptest_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/libp2p/libp2ptest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []libp2ptest.Config{
		{Listeners: -1},
		{Faults: libp2ptest.Faults{Loss: 0.1}}, // TCP has no datagrams
		{QUIC: true, Faults: libp2ptest.Faults{Loss: 1}},
		{QUIC: true, Faults: libp2ptest.Faults{Reorder: -0.1}},
	} {
		if n, err := libp2ptest.New(cfg); err == nil {
			_ = n.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// sink keeps what it receives.
type sink struct {
	mu   sync.Mutex
	data []byte
}

func (s *sink) OnData(_ transport.Conn, b []byte) {
	s.mu.Lock()
	s.data = append(s.data, b...)
	s.mu.Unlock()
}
func (s *sink) OnClose(transport.Conn, error) {}

func (s *sink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.data)
}

// TestLossyQUIC: 4 MiB cross a stream between QUIC hosts whose sockets
// lose, duplicate and reorder datagrams, intact, and the faults did
// happen.
func TestLossyQUIC(t *testing.T) {
	n, err := libp2ptest.New(libp2ptest.Config{Listeners: 1, QUIC: true,
		Faults: libp2ptest.Faults{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	s := &sink{}
	tr := n.Transport()
	ln, err := tr.Listen(n.ListenAddr(), d, func(transport.Conn) transport.Handler { return s })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := tr.Dial(ctx, ln.Addr(), d.Pick(), &sink{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4<<20)
	for i := range want {
		want[i] = byte(i * 31)
	}
	_ = c.Post(func() { _ = c.Write(want) })
	for s.len() < len(want) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	s.mu.Lock()
	ok := bytes.Equal(s.data, want)
	s.mu.Unlock()
	if !ok {
		t.Fatalf("received %d bytes, not the %d sent", s.len(), len(want))
	}
	f := n.Faults()
	t.Logf("datagrams: %d sent, %d lost, %d duplicated, %d reordered", f.Sent.Load(), f.Lost.Load(), f.Duplicated.Load(), f.Reordered.Load())
	if f.Lost.Load() == 0 || f.Duplicated.Load() == 0 || f.Reordered.Load() == 0 {
		t.Error("the faulty sockets did nothing")
	}
	_ = c.Close()
}
