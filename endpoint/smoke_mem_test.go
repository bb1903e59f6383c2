package endpoint

import (
	"encoding/binary"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
)

func TestSmokeMemDatagramLossy(t *testing.T) {
	nw, err := mem.NewNetwork(mem.Config{Seed: 1, Link: mem.LinkConfig{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Latency: 200 * time.Microsecond, Jitter: 100 * time.Microsecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nw.Close() })
	ep, srv, ctx := testPair(t, nw.Transport(transport.Datagram), ma.StringCast("/memory/0"), 60*time.Second)
	const n = 20000
	go func() {
		for i := range n {
			b := make([]byte, 8+i%700)
			binary.BigEndian.PutUint64(b, uint64(i))
			if err := ep.Send(ctx, b); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range n {
		msg, err := srv.Recv(ctx)
		if err != nil {
			t.Fatalf("recv %d: %v", i, err)
		}
		if got := binary.BigEndian.Uint64(msg); got != uint64(i) || len(msg) != 8+i%700 {
			t.Fatalf("message %d carries %d (len %d)", i, got, len(msg))
		}
	}
	if err := ep.CloseWait(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	t.Logf("client stats %+v", ep.Stats())
	t.Logf("server stats %+v", srv.Stats())
}
