package endpoint

import (
	"bytes"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport/tcp"
)

// TestRecvLargeMessages: messages above 256 KiB reach Recv in the
// reassembler's own buffer, without a copy. Each arrives whole; one kept
// unreleased stays intact while later messages reuse released buffers.
func TestRecvLargeMessages(t *testing.T) {
	tr, _ := tcp.New(tcp.Config{})
	ep, srv, ctx := testPair(t, tr, ma.StringCast("/ip4/127.0.0.1/tcp/0"), 30*time.Second)
	defer ep.Close()
	sizes := []int{300 << 10, 1 << 20, 100, 3<<20 + 7, 1 << 20, 257 << 10, 1 << 20, 2 << 20}
	pattern := func(i, n int) []byte {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(i*31 + j*7 + j>>12)
		}
		return b
	}
	go func() {
		for i, n := range sizes {
			if err := ep.Send(ctx, pattern(i, n)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var kept []byte
	for i, n := range sizes {
		msg, err := srv.Recv(ctx)
		if err != nil {
			t.Fatalf("recv %d: %v", i, err)
		}
		if !bytes.Equal(msg, pattern(i, n)) {
			t.Fatalf("message %d (%d bytes) arrived as %d different bytes", i, n, len(msg))
		}
		if i == 1 {
			kept = msg // not released: must stay as it is
			continue
		}
		srv.Release(msg)
	}
	if !bytes.Equal(kept, pattern(1, sizes[1])) {
		t.Fatal("a message kept by the caller changed after later Recvs")
	}
}
