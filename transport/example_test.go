package transport_test

import (
	"context"
	"fmt"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
)

// upper answers with its input in upper case.
type upper struct{}

func (upper) OnData(c transport.Conn, b []byte) {
	out := make([]byte, len(b))
	for i, ch := range b {
		if 'a' <= ch && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		out[i] = ch
	}
	_ = c.Write(out)
}
func (upper) OnClose(transport.Conn, error) {}

// collect hands what it receives to a channel.
type collect chan string

func (c collect) OnData(_ transport.Conn, b []byte) { c <- string(b) }
func (c collect) OnClose(transport.Conn, error)     {}

// Any Transport is used the same way; this one is the in-memory network.
func Example() {
	ctx := context.Background()
	d, _ := driver.New(driver.Config{Workers: 2})
	defer d.Close(ctx)
	nw, _ := mem.NewNetwork(mem.Config{})
	defer nw.Close()
	var tr transport.Transport = nw.Transport(transport.Stream)

	ln, _ := tr.Listen(ma.StringCast("/memory/0"), d, func(transport.Conn) transport.Handler { return upper{} })
	defer ln.Close()
	got := make(collect, 1)
	c, err := tr.Dial(ctx, ln.Addr(), d.Pick(), got)
	if err != nil {
		panic(err)
	}
	_ = c.Post(func() { _ = c.Write([]byte("hello, transport")) })
	fmt.Println(<-got)
	c.Close()
	// Output: HELLO, TRANSPORT
}
