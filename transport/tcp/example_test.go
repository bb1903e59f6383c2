package tcp_test

import (
	"context"
	"fmt"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/tcp"
)

// echo writes back what it receives.
type echo struct{}

func (echo) OnData(c transport.Conn, b []byte) { _ = c.Write(b) }
func (echo) OnClose(transport.Conn, error)     {}

// printer hands what it receives to a channel.
type printer chan string

func (p printer) OnData(_ transport.Conn, b []byte) { p <- string(b) }
func (p printer) OnClose(transport.Conn, error)     {}

func Example() {
	d, _ := driver.New(driver.Config{Workers: 2})
	defer d.Close(context.Background())
	tr, _ := tcp.New(tcp.Config{})

	ln, err := tr.Listen(ma.StringCast("/ip4/127.0.0.1/tcp/0"), d,
		func(transport.Conn) transport.Handler { return echo{} })
	if err != nil {
		panic(err)
	}
	defer ln.Close()

	got := make(printer, 1)
	c, err := tr.Dial(context.Background(), ln.Addr(), d.Pick(), got)
	if err != nil {
		panic(err)
	}
	_ = c.Post(func() { _ = c.Write([]byte("hello over gnet")) }) // Write runs on c's worker
	fmt.Println(<-got)
	c.Close()
	// Output: hello over gnet
}
