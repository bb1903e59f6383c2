package hub_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/tcp"
)

func exampleKey(b byte) identity.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = b
	k, _ := identity.NewKeyFromSeed(seed)
	return k
}

// Three hubs on loopback form a full mesh; one asks the others for a
// quorum of two.
func Example() {
	ctx := context.Background()
	d, _ := driver.New(driver.Config{})
	defer d.Close(ctx)
	tr, _ := tcp.New(tcp.Config{})

	names := []string{"ann", "bob", "cid"}
	hubs := make([]*hub.Hub, len(names))
	for i, name := range names {
		h, err := hub.New(hub.Config{
			Driver: d, Identity: exampleKey(byte(i + 1)), Transports: []transport.Transport{tr},
			ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")},
			Handler: func(m *hub.Message) {
				if m.IsRequest() {
					_ = m.Reply(ctx, []byte(name+" says yes to "+string(m.Payload)))
				}
			},
		})
		if err != nil {
			panic(err)
		}
		defer h.Close(ctx)
		hubs[i] = h
	}
	for _, h := range hubs { // everyone lists everyone else
		for _, other := range hubs {
			if other != h {
				_ = h.AddPeer(other.Contact())
			}
		}
	}
	if err := hubs[0].WaitConnected(ctx, 0); err != nil {
		panic(err)
	}

	replies, err := hubs[0].Quorum(ctx, []byte("lunch"), 2)
	var answers []string
	for _, r := range replies {
		answers = append(answers, string(r.Payload))
	}
	slices.Sort(answers)
	fmt.Println(strings.Join(answers, "; "), err)
	// Output:
	// bob says yes to lunch; cid says yes to lunch <nil>
}
