package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// gnet is a gnet v2 server (gnet.Run, multicore: one event loop per
// core), decoding frames in OnTraffic with Peek/Discard and echoing with
// Write on the loop, as gnet's docs and examples do. Round trips come from
// gnet's own Client (gnet.NewClient), one AsyncWrite per message. Bulk
// sending comes from a net.Conn with bufio: a gnet connection written
// from another goroutine (AsyncWrite) has no backpressure (gnet appends
// to an unbounded outbound buffer and reports no "writable" event), so a
// fast sender would only grow memory.

func init() {
	registerSystem(Gnet, systemEntry{
		open: func() System { return gnetSystem{} },
		variants: func(cfg *Config) []Variant {
			return []Variant{{System: Gnet, Transport: "tcp", Security: Plaintext}}
		},
	})
}

type gnetSystem struct{}

func (gnetSystem) Close() error { return nil }

// gnetQuiet drops gnet's logs.
type gnetQuiet struct{}

func (gnetQuiet) Debugf(string, ...any) {}
func (gnetQuiet) Infof(string, ...any)  {}
func (gnetQuiet) Warnf(string, ...any)  {}
func (gnetQuiet) Errorf(string, ...any) {}
func (gnetQuiet) Fatalf(string, ...any) {}

func gnetOptions(v Variant) []gnet.Option {
	opts := []gnet.Option{gnet.WithMulticore(true), gnet.WithLogger(gnetQuiet{})}
	if v.Workers > 0 {
		opts = append(opts, gnet.WithNumEventLoop(v.Workers))
	}
	return opts
}

type gnetServer struct {
	gnet.BuiltinEventEngine
	*counter
	spec   ServerSpec
	booted chan gnet.Engine
	eng    gnet.Engine
	addr   string
	done   chan error
}

func (gnetSystem) Listen(ctx context.Context, spec ServerSpec) (Server, error) {
	s := &gnetServer{counter: newCounter(), spec: spec, booted: make(chan gnet.Engine, 1), done: make(chan error, 1)}
	go func() { s.done <- gnet.Run(s, "tcp://127.0.0.1:0", gnetOptions(spec.Variant)...) }()
	select {
	case s.eng = <-s.booted:
	case err := <-s.done:
		return nil, fmt.Errorf("bench: gnet: %w", err)
	case <-ctx.Done():
		return nil, ctx.Err() // Run cannot be stopped before it boots
	}
	port, err := gnetPort(s.eng)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	return s, nil
}

// gnetPort finds the port gnet bound for ":0" from a duplicate of its
// listening socket.
func gnetPort(eng gnet.Engine) (int, error) {
	fd, err := eng.Dup()
	if err != nil {
		return 0, fmt.Errorf("bench: gnet listener: %w", err)
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, fmt.Errorf("bench: gnet listener: %w", err)
	}
	if in4, ok := sa.(*unix.SockaddrInet4); ok {
		return in4.Port, nil
	}
	return 0, errors.New("bench: gnet listener is not on IPv4")
}

func (s *gnetServer) OnBoot(eng gnet.Engine) gnet.Action {
	s.booted <- eng
	return gnet.None
}

// OnTraffic decodes every complete frame in the inbound buffer, as gnet's
// codec examples do: Peek the header, wait for the whole frame, Peek it,
// Discard it.
func (s *gnetServer) OnTraffic(c gnet.Conn) gnet.Action {
	var n uint64
	defer func() { s.add(n) }()
	for {
		hdr, err := c.Peek(frameHeader)
		if err != nil {
			return gnet.None
		}
		size := int(binary.BigEndian.Uint32(hdr))
		if size > s.spec.MaxMessageBytes {
			return gnet.Close
		}
		if c.InboundBuffered() < frameHeader+size {
			return gnet.None
		}
		// The message, contiguous, as a handler would take it (Peek may
		// join the ring buffer's two halves).
		frame, err := c.Peek(frameHeader + size)
		if err != nil {
			return gnet.Close
		}
		if s.spec.Mode == Echo {
			if _, err := c.Write(frame); err != nil {
				return gnet.Close
			}
		}
		_, _ = c.Discard(frameHeader + size)
		n++
	}
}

func (s *gnetServer) Addr() string { return s.addr }

// Close stops the engine and waits for gnet.Run to return. Engine.Stop
// polls for the end every 500 ms; it runs on its own goroutine, which ends
// by itself, so that a round does not wait for the poll.
func (s *gnetServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	stopped := make(chan error, 1)
	go func() {
		defer cancel()
		stopped <- s.eng.Stop(ctx)
	}()
	select {
	case err := <-s.done:
		return err
	case err := <-stopped:
		if err != nil {
			return fmt.Errorf("bench: gnet engine did not stop: %w", err)
		}
		return <-s.done // shut down: Run returns
	}
}

func (gnetSystem) NewDialer(ctx context.Context, v Variant, max int) (Dialer, error) {
	d := &gnetDialer{net: &netDialer{max: max}, max: max}
	cli, err := gnet.NewClient(d, gnet.WithLogger(gnetQuiet{}))
	if err != nil {
		return nil, err
	}
	if err := cli.Start(); err != nil {
		return nil, err
	}
	d.cli = cli
	return d, nil
}

// gnetDialer sends through net.Conns and round-trips through gnet's Client.
type gnetDialer struct {
	gnet.BuiltinEventEngine
	net   *netDialer
	cli   *gnet.Client
	max   int
	conns closers
}

func (d *gnetDialer) Dial(ctx context.Context, addr string, mode Mode) (Conn, error) {
	if mode == Sink {
		return d.net.Dial(ctx, addr, mode)
	}
	rt := &gnetRT{echo: make(chan error, 1), max: d.max}
	c, err := d.cli.DialContext("tcp", addr, rt)
	if err != nil {
		return nil, err
	}
	rt.c = c
	d.conns.add(c.Close)
	return rt, nil
}

// OnTraffic runs on the client's loop: each complete echoed frame wakes
// the goroutine waiting in RoundTrip.
func (d *gnetDialer) OnTraffic(c gnet.Conn) gnet.Action {
	rt := c.Context().(*gnetRT)
	for {
		hdr, err := c.Peek(frameHeader)
		if err != nil {
			return gnet.None
		}
		size := int(binary.BigEndian.Uint32(hdr))
		if size > rt.max {
			rt.signal(fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, size))
			return gnet.Close
		}
		if c.InboundBuffered() < frameHeader+size {
			return gnet.None
		}
		_, _ = c.Discard(frameHeader + size)
		rt.signal(nil)
	}
}

func (d *gnetDialer) OnClose(c gnet.Conn, err error) gnet.Action {
	if rt, ok := c.Context().(*gnetRT); ok {
		rt.signal(errors.Join(net.ErrClosed, err))
	}
	return gnet.None
}

func (d *gnetDialer) Close() error {
	_ = d.net.Close()
	_ = d.conns.close()
	return d.cli.Stop()
}

// gnetRT is a round-trip connection of gnet's Client.
type gnetRT struct {
	c     gnet.Conn
	echo  chan error
	max   int
	frame []byte
	once  sync.Once
}

func (rt *gnetRT) signal(err error) {
	select {
	case rt.echo <- err:
	default:
	}
}

func (rt *gnetRT) Send(ctx context.Context, msg []byte, n int) error {
	return errors.New("bench: gnet round-trip connection cannot Send")
}

// RoundTrip writes one frame with AsyncWrite (the frame is not reused
// before its echo arrives) and waits for the echo.
func (rt *gnetRT) RoundTrip(ctx context.Context, msg []byte) error {
	if cap(rt.frame) < frameHeader+len(msg) {
		rt.frame = make([]byte, frameHeader+len(msg))
	}
	rt.frame = rt.frame[:frameHeader+len(msg)]
	binary.BigEndian.PutUint32(rt.frame, uint32(len(msg)))
	copy(rt.frame[frameHeader:], msg)
	if err := rt.c.AsyncWrite(rt.frame, nil); err != nil {
		return err
	}
	select {
	case err := <-rt.echo:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (rt *gnetRT) Close() error {
	var err error
	rt.once.Do(func() { err = rt.c.Close() })
	return err
}
