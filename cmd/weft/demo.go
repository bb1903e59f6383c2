package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
	"github.com/weftnet/weft/transport/tcp"
)

// runDemo runs a local tour of weft on loopback and in memory: secure
// endpoints over TCP that survive killed connections and live moves
// between workers, then a lossy datagram link.
func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "[flags]", stderr)
	msgs := fs.Int("messages", 200_000, "messages each endpoint sends over TCP")
	pairs := fs.Int("pairs", 4, "endpoint pairs over TCP")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *msgs < 1 || *msgs > 10_000_000 || *pairs < 1 || *pairs > 64 {
		return &usageError{msg: "-messages must be 1..10000000 and -pairs 1..64"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := driver.New(driver.Config{})
	if err != nil {
		return err
	}
	defer d.Close(context.Background())
	fmt.Fprintf(stdout, "weft demo: driver with %d workers (gnet event loops, one goroutine each)\n\n", len(d.Workers()))
	if err := demoTCP(ctx, stdout, d, *pairs, *msgs); err != nil {
		return err
	}
	return demoLossy(ctx, stdout, d)
}

// killer records every transport connection so the demo can kill them.
type killer struct {
	transport.Transport
	mu    sync.Mutex
	conns []transport.Conn
}

func (k *killer) Dial(ctx context.Context, a ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	c, err := k.Transport.Dial(ctx, a, w, h)
	if err == nil {
		k.mu.Lock()
		k.conns = append(k.conns, c)
		k.mu.Unlock()
	}
	return c, err
}

func (k *killer) killAll() int {
	k.mu.Lock()
	cs := k.conns
	k.conns = nil
	k.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
	return len(cs)
}

func demoKey() identity.PrivateKey {
	k, err := identity.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func demoTCP(ctx context.Context, out io.Writer, d *driver.Driver, pairs, n int) error {
	base, _ := tcp.New(tcp.Config{})
	tr := &killer{Transport: base}
	var recvd atomic.Int64
	errs := make(chan error, pairs)
	// Each server checks that message i carries sequence number i.
	next := make(map[*endpoint.Endpoint]*uint64)
	var nextMu sync.Mutex
	handler := func(ep *endpoint.Endpoint, msg []byte) {
		nextMu.Lock()
		want := next[ep]
		if want == nil {
			want = new(uint64)
			next[ep] = want
		}
		nextMu.Unlock()
		if got := binary.BigEndian.Uint64(msg); got != *want {
			errs <- fmt.Errorf("demo: message %d arrived where %d was due", got, *want)
		}
		*want++
		recvd.Add(1)
	}
	ln, err := endpoint.Listen(d, tr, ma.StringCast("/ip4/127.0.0.1/tcp/0"), endpoint.Config{Identity: demoKey(), Handler: handler}, nil)
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Fprintf(out, "1. %d secure endpoint pairs over TCP %s (Noise XX, peer IDs checked)\n", pairs, ln.Addr())
	clients := make([]*endpoint.Endpoint, pairs)
	for i := range clients {
		if clients[i], err = endpoint.Dial(ctx, d, tr, ln.Addr(), endpoint.Config{Identity: demoKey()}); err != nil {
			return err
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, 64)
			for i := range n {
				binary.BigEndian.PutUint64(msg, uint64(i))
				if err := c.Send(ctx, msg[:8+i%56]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	total := int64(pairs * n)
	// Kill every connection twice along the way, and move endpoints
	// between workers every 10 ms.
	kills, moves := 0, 0
	for recvd.Load() < total {
		select {
		case err := <-errs:
			return err
		case <-ctx.Done():
			return fmt.Errorf("demo: %d of %d messages after %v: %w", recvd.Load(), total, time.Since(start), ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
		if got := recvd.Load(); (kills == 0 && got > total/3) || (kills == 1 && got > 2*total/3) {
			kills++
			fmt.Fprintf(out, "   killed %d TCP connections at %d/%d messages\n", tr.killAll(), got, total)
		}
		c := clients[moves%pairs]
		if err := d.MoveAsync(c, d.Workers()[(moves/pairs)%len(d.Workers())], func(error) {}); err == nil {
			moves++
		}
	}
	wg.Wait()
	el := time.Since(start)
	var resumes uint64
	for _, c := range clients {
		resumes += c.Stats().Resumes
		if err := c.CloseWait(ctx); err != nil {
			return fmt.Errorf("demo: close: %w", err)
		}
	}
	fmt.Fprintf(out, "   %d messages arrived exactly once, in order, in %v (%.2f M msg/s)\n", total, el.Round(time.Millisecond), float64(total)/el.Seconds()/1e6)
	fmt.Fprintf(out, "   %d resumes after the kills; %d live moves between workers\n", resumes, moves)
	for _, s := range d.Stats() {
		fmt.Fprintf(out, "   worker %d: %d tasks, %d I/O events, %.1f MiB read\n", s.ID, s.Tasks, s.Events, float64(s.BytesRead)/(1<<20))
	}
	fmt.Fprintln(out)
	return nil
}

func demoLossy(ctx context.Context, out io.Writer, d *driver.Driver) error {
	link := mem.LinkConfig{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Latency: 200 * time.Microsecond, Jitter: 100 * time.Microsecond}
	nw, err := mem.NewNetwork(mem.Config{Seed: 42, Link: link})
	if err != nil {
		return err
	}
	defer nw.Close()
	tr := nw.Transport(transport.Datagram)
	ln, err := endpoint.Listen(d, tr, ma.StringCast("/memory/0"), endpoint.Config{Identity: demoKey()}, nil)
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Fprintln(out, "2. a datagram link in memory with 5% loss, 5% duplication, 5% reordering")
	cli, err := endpoint.Dial(ctx, d, tr, ln.Addr(), endpoint.Config{Identity: demoKey()})
	if err != nil {
		return err
	}
	srv, err := ln.Accept(ctx)
	if err != nil {
		return err
	}
	const n = 20_000
	start := time.Now()
	go func() {
		msg := make([]byte, 200)
		for i := range n {
			binary.BigEndian.PutUint64(msg, uint64(i))
			if cli.Send(ctx, msg) != nil {
				return
			}
		}
	}()
	for i := range n {
		msg, err := srv.Recv(ctx)
		if err != nil {
			return err
		}
		if got := binary.BigEndian.Uint64(msg); got != uint64(i) {
			return fmt.Errorf("demo: lossy link delivered %d where %d was due", got, i)
		}
	}
	st := cli.Stats()
	if err := cli.CloseWait(ctx); err != nil {
		return err
	}
	ns := nw.Stats()
	fmt.Fprintf(out, "   %d messages arrived exactly once, in order, in %v\n", n, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(out, "   the network dropped %d, duplicated %d datagrams; the sender resent %d times; RTT %v\n", ns.Lost, ns.Duplicated, st.Retransmits, st.RTT.Round(time.Microsecond))
	return nil
}
