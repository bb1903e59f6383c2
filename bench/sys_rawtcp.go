package bench

import (
	"context"
	"net"
)

// raw-tcp is the practical limit: a net.Conn per connection, a goroutine
// per connection on the server, bufio framing, TCP_NODELAY (Go's default).

func init() {
	registerSystem(RawTCP, systemEntry{
		open: func() System { return rawTCP{} },
		variants: func(cfg *Config) []Variant {
			return []Variant{{System: RawTCP, Transport: "tcp", Security: Plaintext}}
		},
	})
}

type rawTCP struct{}

func (rawTCP) Close() error { return nil }

func (rawTCP) Listen(ctx context.Context, spec ServerSpec) (Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &rawTCPServer{counter: newCounter(), ln: ln}
	s.g.goWait(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.g.serve(c, func() { _ = serveStream(c, spec, s.counter) })
		}
	})
	return s, nil
}

type rawTCPServer struct {
	*counter
	ln net.Listener
	g  streamGroup
}

func (s *rawTCPServer) Addr() string { return s.ln.Addr().String() }

func (s *rawTCPServer) Close() error {
	err := s.ln.Close()
	s.g.closeAll()
	return err
}

func (rawTCP) NewDialer(ctx context.Context, v Variant, max int) (Dialer, error) {
	return &netDialer{max: max}, nil
}

// netDialer dials plain TCP connections with bufio framing (raw-tcp, and
// the sending side of gnet).
type netDialer struct {
	max   int
	conns closers
}

func (d *netDialer) Dial(ctx context.Context, addr string, mode Mode) (Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if !d.conns.add(c.Close) {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	return newStreamConn(c, d.max), nil
}

func (d *netDialer) Close() error {
	_ = d.conns.close() // connections the caller closed already fail here
	return nil
}
