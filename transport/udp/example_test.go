package udp_test

import (
	"context"
	"fmt"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/udp"
)

// echo writes every packet back.
type echo struct{}

func (echo) OnData(c transport.Conn, b []byte) { _ = c.Write(b) }
func (echo) OnClose(transport.Conn, error)     {}

// printer hands each packet to a channel.
type printer chan string

func (p printer) OnData(_ transport.Conn, b []byte) { p <- string(b) }
func (p printer) OnClose(transport.Conn, error)     {}

// A loopback datagram echo.
func Example() {
	d, _ := driver.New(driver.Config{Workers: 2})
	defer d.Close(context.Background())
	tr, _ := udp.New(udp.Config{})

	ln, err := tr.Listen(ma.StringCast("/ip4/127.0.0.1/udp/0"), d,
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
	_ = c.Post(func() { _ = c.Write([]byte("hello over udp")) }) // Write runs on c's worker
	fmt.Println(<-got, c.MaxDatagram())
	c.Close()
	// Output: hello over udp 1200
}
