package quic_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/quic"
)

// echo writes back what it receives.
type echo struct{}

func (echo) OnData(c transport.Conn, b []byte) { _ = c.Write(b) }
func (echo) OnClose(transport.Conn, error)     {}

// collector hands the first n bytes it receives to a channel.
type collector struct {
	n   int
	buf []byte
	out chan string
}

func (c *collector) OnData(_ transport.Conn, b []byte) {
	if c.buf = append(c.buf, b...); len(c.buf) == c.n {
		c.out <- string(c.buf)
	}
}
func (c *collector) OnClose(transport.Conn, error) {}

// Two nodes: one listens and echoes, the other dials it, naming the peer
// it expects, and learns who answered from the connection.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		panic(err)
	}
	defer d.Close(ctx)
	srvKey, _ := identity.GenerateKey(rand.Reader)
	cliKey, _ := identity.GenerateKey(rand.Reader)
	srv, err := quic.New(quic.Config{Identity: srvKey})
	if err != nil {
		panic(err)
	}
	cli, _ := quic.New(quic.Config{Identity: cliKey})

	ln, err := srv.Listen(ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"), d,
		func(transport.Conn) transport.Handler { return echo{} })
	if err != nil {
		panic(err)
	}
	defer ln.Close()

	addr := ln.Addr().Encapsulate(ma.StringCast("/p2p/" + srv.LocalPeer().String()))
	h := &collector{n: 5, out: make(chan string, 1)}
	c, err := cli.Dial(ctx, addr, d.Pick(), h)
	if err != nil {
		panic(err)
	}
	_ = c.Post(func() { _ = c.Write([]byte("hello")) })
	fmt.Println(<-h.out)
	fmt.Println(c.(transport.Authenticated).RemotePeer() == srv.LocalPeer())
	_ = c.Close()
	// Output:
	// hello
	// true
}
