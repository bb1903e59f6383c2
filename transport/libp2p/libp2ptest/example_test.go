package libp2ptest_test

import (
	"context"
	"fmt"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/libp2p/libp2ptest"
)

// echo writes back what it receives.
type echo struct{}

func (echo) OnData(c transport.Conn, b []byte) { _ = c.Write(b) }
func (echo) OnClose(transport.Conn, error)     {}

// got hands what it receives to a channel.
type got chan []byte

func (g got) OnData(_ transport.Conn, b []byte) { g <- append([]byte(nil), b...) }
func (got) OnClose(transport.Conn, error)       {}

func Example() {
	n, err := libp2ptest.New(libp2ptest.Config{Listeners: 1})
	if err != nil {
		panic(err)
	}
	defer n.Close()
	d, _ := driver.New(driver.Config{Workers: 1})
	defer d.Close(context.Background())

	tr := n.Transport()
	ln, err := tr.Listen(n.ListenAddr(), d, func(transport.Conn) transport.Handler { return echo{} })
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	reply := make(got, 1)
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Pick(), reply)
	if err != nil {
		panic(err)
	}
	_ = c.Post(func() { _ = c.Write([]byte("ping")) })
	fmt.Printf("%s\n", <-reply)
	_ = c.Close()
	// Output: ping
}
