package endpoint

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
)

func TestSmokeMemDatagramLossy(t *testing.T) {
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	nw, err := mem.NewNetwork(mem.Config{Seed: 1, Link: mem.LinkConfig{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Latency: 200 * time.Microsecond, Jitter: 100 * time.Microsecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer nw.Close()
	tr := nw.Transport(transport.Datagram)
	ln, err := Listen(d, tr, ma.StringCast("/memory/0"), Config{Identity: testKey(t, 1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ep, err := Dial(ctx, d, tr, ln.Addr(), Config{Identity: testKey(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
