package hub

import (
	"context"
	"errors"
	"testing"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
)

// TestBadFrames: a member whose connection carries garbage, or
// application messages before activation, has that connection closed and
// counted; the hub goes on.
func TestBadFrames(t *testing.T) {
	for name, first := range map[string][]byte{
		"garbage":            {0xff, 1, 2, 3},
		"message first":      AppendFrame(nil, &Frame{Kind: KindMessage, Payload: []byte("x")}),
		"activate by dialer": AppendFrame(nil, &Frame{Kind: KindActivate}),
		"hello, bad lane":    {0x11, 0, 0, 0, 0, 0, 0, 0, 1, 9},
	} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t, "mem", 1, nil)
			h := c.hubs[0]
			rogue := testKey(50)
			if err := h.AddPeer(identity.Contact{ID: idOf(rogue)}); err != nil { // accepted, never dialed
				t.Fatal(err)
			}
			d, err := driver.New(driver.Config{Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close(context.Background())
			ep, err := endpoint.Dial(ctxFor(t), d, c.net.transport(50), c.addrs[0].Encapsulate(ma.StringCast("/p2p/"+h.ID().String())), endpoint.Config{Identity: rogue})
			if err != nil {
				t.Fatal(err)
			}
			if err := ep.Send(ctxFor(t), first); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ep.Done():
			case <-ctxFor(t).Done():
				t.Fatal("the hub kept the connection")
			}
			if got := h.Stats().BadFrames; got != 1 {
				t.Errorf("BadFrames = %d, want 1", got)
			}
			if _, err := h.Request(ctxFor(t), idOf(rogue), nil); !errors.Is(err, ErrNotConnected) {
				t.Errorf("request to the rogue: %v", err)
			}
		})
	}
}
