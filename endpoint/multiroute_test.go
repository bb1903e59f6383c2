package endpoint

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
	"github.com/weftnet/weft/transport/quic"
	"github.com/weftnet/weft/transport/tcp"
)

// TestDialContactSwitchesTransport streams numbered messages over a session
// that DialContact opened over TCP, then makes the TCP address stop
// answering and kills the connection: the dialer falls through to the
// contact's second address, on another transport (mem, then QUIC),
// resumes the session there, and every message arrives once, in order.
func TestDialContactSwitchesTransport(t *testing.T) {
	t.Run("tcp-to-mem", func(t *testing.T) {
		nw, err := mem.NewNetwork(mem.Config{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer nw.Close()
		testSwitch(t, nw.Transport(transport.Stream), ma.StringCast("/memory/0"))
	})
	t.Run("tcp-to-quic", func(t *testing.T) {
		// The QUIC transport's certificate carries its own key; the
		// endpoints prove theirs over it.
		qt, err := quic.New(quic.Config{Identity: testKey(t, 9)})
		if err != nil {
			t.Fatal(err)
		}
		testSwitch(t, qt, ma.StringCast("/ip4/127.0.0.1/udp/0/quic-v1"))
	})
}

func testSwitch(t *testing.T, second transport.Transport, secondAddr ma.Multiaddr) {
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	tcpTr, _ := tcp.New(tcp.Config{})
	secondTr := second

	srvKey, cliKey := testKey(t, 1), testKey(t, 2)
	ln, err := Listen(d, tcpTr, ma.StringCast("/ip4/127.0.0.1/tcp/0"), Config{Identity: srvKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := ln.Listen(secondTr, secondAddr); err != nil {
		t.Fatal(err)
	}
	contact := identity.Contact{ID: identity.PeerIDFromPublicKey(srvKey.Public()), Addrs: ln.Addrs()}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli, err := DialContact(ctx, d, []transport.Transport{secondTr, tcpTr}, contact, Config{Identity: cliKey})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kind := func() string {
		ch := make(chan string, 1)
		_ = cli.mb.Post(func() {
			if c := cli.st.conn(); c != nil {
				ch <- c.RemoteAddr().String()
			} else {
				ch <- ""
			}
		})
		return <-ch
	}
	if a := kind(); a != ln.Addrs()[0].String() {
		t.Fatalf("first connection went to %s, want the TCP address %s", a, ln.Addrs()[0])
	}

	const n = 50_000
	sendErr := make(chan error, 1)
	go func() {
		for i := range n {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(i))
			if err := cli.Send(ctx, b[:]); err != nil {
				sendErr <- err
				return
			}
			if i == n/2 {
				// The TCP address stops answering, and the connection dies.
				ln.mu.Lock()
				tcpLn := ln.tlns[0]
				ln.mu.Unlock()
				_ = tcpLn.Close()
				_ = cli.mb.Post(func() {
					if c := cli.st.conn(); c != nil {
						_ = c.Close()
					}
				})
			}
		}
		sendErr <- nil
	}()
	for i := range n {
		msg, err := srv.Recv(ctx)
		if err != nil {
			t.Fatalf("recv %d: %v", i, err)
		}
		if got := binary.BigEndian.Uint64(msg); got != uint64(i) {
			t.Fatalf("message %d carries %d", i, got)
		}
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
	// On a loaded machine the dialer's worker may send every message over
	// TCP before it handles the kill: the switch then comes after the
	// last delivery, and the session resumes on an empty log.
	for a := kind(); a != ln.Addrs()[1].String(); a = kind() {
		if ctx.Err() != nil {
			t.Fatalf("after the switch the connection goes to %q, want the second address %s", a, ln.Addrs()[1])
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := cli.Stats().Resumes; r < 1 {
		t.Fatalf("Stats().Resumes = %d, want at least 1", r)
	}
	if err := cli.CloseWait(ctx); err != nil {
		t.Fatal(err)
	}
}

// stallTransport accepts any /memory address and never connects: a dial
// blocks until its context ends, like a black-holed address.
type stallTransport struct{ dials atomic.Int32 }

func (*stallTransport) Kind() transport.Kind { return transport.Stream }
func (*stallTransport) Handles(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_MEMORY)
	return err == nil
}
func (s *stallTransport) Dial(ctx context.Context, a ma.Multiaddr, _ *driver.Worker, _ transport.Handler) (transport.Conn, error) {
	s.dials.Add(1)
	<-ctx.Done()
	return nil, &transport.DialError{Addr: a, Err: ctx.Err()}
}
func (*stallTransport) Listen(ma.Multiaddr, *driver.Driver, transport.AcceptFunc) (transport.Listener, error) {
	return nil, errors.New("stallTransport: no listening")
}

// TestDialContactStaggers lists a black-holed address first: DialContact
// starts the second one after DialStagger and connects over it, without
// waiting for the first to time out.
func TestDialContactStaggers(t *testing.T) {
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	tcpTr, _ := tcp.New(tcp.Config{})
	srvKey := testKey(t, 1)
	ln, err := Listen(d, tcpTr, ma.StringCast("/ip4/127.0.0.1/tcp/0"), Config{Identity: srvKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stall := &stallTransport{}
	contact := identity.Contact{
		ID:    identity.PeerIDFromPublicKey(srvKey.Public()),
		Addrs: []ma.Multiaddr{ma.StringCast("/memory/7"), ln.Addr()},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	cli, err := DialContact(ctx, d, []transport.Transport{stall, tcpTr}, contact, Config{Identity: testKey(t, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(t0); took < DialStagger {
		t.Fatalf("connected after %v, before the stagger of %v: the black hole was not tried first", took, DialStagger)
	}
	if stall.dials.Load() != 1 {
		t.Fatalf("the black-holed address was dialed %d times, want 1", stall.dials.Load())
	}
	_ = cli.CloseWait(ctx)
}

// TestDialContactNoRoute: no transport handles any address.
func TestDialContactNoRoute(t *testing.T) {
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	tcpTr, _ := tcp.New(tcp.Config{})
	contact := identity.Contact{ID: identity.PeerIDFromPublicKey(testKey(t, 1).Public()), Addrs: []ma.Multiaddr{ma.StringCast("/memory/7")}}
	_, err = DialContact(context.Background(), d, []transport.Transport{tcpTr}, contact, Config{Identity: testKey(t, 2)})
	if !errors.Is(err, transport.ErrUnsupportedAddr) {
		t.Fatalf("DialContact = %v, want ErrUnsupportedAddr", err)
	}
}
