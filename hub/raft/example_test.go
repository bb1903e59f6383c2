package raft_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/hub/raft"
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

// Three replicas on loopback agree on a log of three commands.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, _ := driver.New(driver.Config{})
	defer d.Close(context.Background())
	tr, _ := tcp.New(tcp.Config{})

	var mu sync.Mutex
	applied := map[int][]string{}
	hubs := make([]*hub.Hub, 3)
	for i := range hubs {
		hubs[i], _ = hub.New(hub.Config{Driver: d, Identity: exampleKey(byte(i + 1)),
			Transports: []transport.Transport{tr}, ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/0")}})
		defer hubs[i].Close(context.Background())
	}
	for _, h := range hubs {
		for _, other := range hubs {
			if other != h {
				_ = h.AddPeer(other.Contact())
			}
		}
	}
	nodes := make([]*raft.Node, 3)
	for i, h := range hubs {
		node, err := raft.New(raft.Config{Hub: h, Apply: func(e raft.Entry) {
			mu.Lock()
			applied[i] = append(applied[i], string(e.Data))
			mu.Unlock()
		}})
		if err != nil {
			panic(err)
		}
		defer node.Close()
		h.SetHandler(func(m *hub.Message) { node.Handle(m) })
		nodes[i] = node
	}

	for _, cmd := range []string{"set x 1", "set y 2", "del x"} {
		for { // retry while the first election is under way
			if _, err := nodes[0].Propose(ctx, []byte(cmd)); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	mu.Lock()
	fmt.Println(applied[0])
	mu.Unlock()
	fmt.Println(len(nodes[0].Members()), "members; a leader:", !nodes[0].Leader().IsZero())
	// Output:
	// [set x 1 set y 2 del x]
	// 3 members; a leader: true
}
