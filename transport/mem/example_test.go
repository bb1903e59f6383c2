package mem_test

import (
	"context"
	"errors"
	"fmt"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
)

// side reports a connection's events on a channel.
type side struct {
	name   string
	events chan string
}

func (s side) OnData(c transport.Conn, b []byte) {
	s.events <- fmt.Sprintf("%s got %q", s.name, b)
}

func (s side) OnClose(c transport.Conn, err error) {
	s.events <- fmt.Sprintf("%s closed, reset: %v", s.name, errors.Is(err, transport.ErrReset))
}

// Two hosts talk over a stream; the connection is killed, then the hosts
// are partitioned and healed.
func Example() {
	ctx := context.Background()
	d, _ := driver.New(driver.Config{Workers: 2})
	defer d.Close(ctx)
	n, _ := mem.NewNetwork(mem.Config{Seed: 1})
	defer n.Close()

	alice, bob := n.NewHost(), n.NewHost()
	server := side{"bob", make(chan string, 4)}
	ln, _ := bob.Transport(transport.Stream).Listen(ma.StringCast("/memory/0"), d,
		func(c transport.Conn) transport.Handler { return server })
	tr := alice.Transport(transport.Stream)
	client := side{"alice", make(chan string, 4)}
	c, _ := tr.Dial(ctx, ln.Addr(), d.Pick(), client)

	_ = c.Post(func() { _ = c.Write([]byte("hello")) })
	fmt.Println(<-server.events)

	_ = n.Kill(c) // both sides see ErrReset; bytes in flight are lost
	fmt.Println(<-client.events)
	fmt.Println(<-server.events)

	_ = n.Partition(c.LocalAddr(), ln.Addr()) // any address of each host
	_, err := tr.Dial(ctx, ln.Addr(), d.Pick(), client)
	fmt.Println("dial while partitioned, refused:", errors.Is(err, transport.ErrRefused))
	_ = n.Heal(c.LocalAddr(), ln.Addr())
	c, err = tr.Dial(ctx, ln.Addr(), d.Pick(), client)
	fmt.Println("dial after heal:", err)
	_ = c.Close()
	fmt.Println(<-client.events)
	// Output:
	// bob got "hello"
	// alice closed, reset: true
	// bob closed, reset: true
	// dial while partitioned, refused: true
	// dial after heal: <nil>
	// alice closed, reset: false
}
