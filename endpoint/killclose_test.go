package endpoint

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"go.uber.org/goleak"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
)

// A connection reset loses what was in flight, acknowledgements included.
// These tests reset the connection from inside the delivery of the
// sender's last message, so the receiver's ACK of it is lost and the
// sender still holds those bytes unacknowledged. Then the receiver, all
// of whose own messages are acknowledged, closes. Its CLOSE carries the
// last ACK: it must reach the sender over a resumed link, so that both
// end cleanly and at once. The receiver used to end without it: the
// sender then waited ResumeTimeout (30 s) for an ACK that never came (a
// dialer), or was refused on redial and reported delivered messages lost
// (a responder).

const killMsgs = 200

// killPair is a sender and a receiver, one the dialer and one the
// responder, over mem.
type killPair struct {
	d          *driver.Driver
	nw         *mem.Network
	ln         *Listener
	snd, rcv   *Endpoint
	got        atomic.Int64
	killed     chan struct{}
	sndOutcome chan closeOutcome
	tune       func(snd, rcv *Config) // optional: adjusts the configs
}

type closeOutcome struct {
	err         error
	undelivered int
}

// start sets the pair up and runs it until the reset.
func (p *killPair) start(t *testing.T, rcvDials bool) {
	t.Helper()
	p.killed, p.sndOutcome = make(chan struct{}), make(chan closeOutcome, 1)
	var err error
	if p.d, err = driver.New(driver.Config{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	if p.nw, err = mem.NewNetwork(mem.Config{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	sndCfg := Config{Identity: testKey(t, 1), OnClose: func(_ *Endpoint, err error, n int) {
		p.sndOutcome <- closeOutcome{err, n}
	}}
	rcvCfg := Config{Identity: testKey(t, 2), Handler: func(ep *Endpoint, _ []byte) {
		if p.got.Add(1) == killMsgs {
			// On the receiver's worker, before it acknowledges.
			_ = p.nw.Kill(ep.st.conn())
			close(p.killed)
		}
	}}
	if p.tune != nil {
		p.tune(&sndCfg, &rcvCfg)
	}
	lnCfg, dialCfg := sndCfg, rcvCfg
	if !rcvDials {
		lnCfg, dialCfg = rcvCfg, sndCfg
	}
	tr := p.nw.Transport(transport.Stream)
	if p.ln, err = Listen(p.d, tr, ma.StringCast("/memory/0"), lnCfg, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dialed, err := Dial(ctx, p.d, tr, p.ln.Addr(), dialCfg)
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := p.ln.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.snd, p.rcv = accepted, dialed
	if !rcvDials {
		p.snd, p.rcv = dialed, accepted
	}
	msg := make([]byte, 100)
	for range killMsgs {
		if err := p.snd.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-p.killed:
	case <-ctx.Done():
		t.Fatalf("the receiver got %d of %d messages", p.got.Load(), killMsgs)
	}
}

// close tears down what start set up.
func (p *killPair) close(t *testing.T) {
	if p.ln != nil {
		_ = p.ln.Close()
	}
	if p.d != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := p.d.Close(ctx); err != nil {
			t.Errorf("driver close: %v", err)
		}
	}
	if p.nw != nil {
		_ = p.nw.Close()
	}
}

// testCloseAfterKill: the receiver closes; the sender, which does not,
// ends with it, everything delivered, after one resume.
func testCloseAfterKill(t *testing.T, rcvDials bool) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := &killPair{}
	defer p.close(t)
	p.start(t, rcvDials)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := p.rcv.CloseWait(ctx); err != nil {
		t.Errorf("receiver: close: %v; stats %+v", err, p.rcv.Stats())
	}
	select {
	case out := <-p.sndOutcome:
		if out.err != nil || out.undelivered != 0 {
			t.Errorf("sender ended with %v, %d undelivered", out.err, out.undelivered)
		}
	case <-ctx.Done():
		t.Fatalf("the sender did not end; stats %+v", p.snd.Stats())
	}
	if got := p.got.Load(); got != killMsgs {
		t.Errorf("the receiver got %d messages, want %d", got, killMsgs)
	}
	if st := p.snd.Stats(); st.Resumes != 1 || st.MsgsSent != killMsgs {
		t.Errorf("sender stats %+v: want 1 resume and %d messages acknowledged", st, killMsgs)
	}
}

func TestCloseAfterKillDialerReceives(t *testing.T)    { testCloseAfterKill(t, true) }
func TestCloseAfterKillResponderReceives(t *testing.T) { testCloseAfterKill(t, false) }

// The receiver, a responder, gives up waiting for the sender to resume
// (its ResumeTimeout is short) before the sender redials: its session ends
// having received everything, while the sender never saw the last ACK.
// The listener's answer to the late resume says how much arrived, so the
// closing sender ends cleanly with nothing reported undelivered. (It used
// to end with ErrSessionLost and report the unacknowledged, delivered,
// messages lost.)
func TestResumeAfterResponderEnded(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	p := &killPair{tune: func(snd, rcv *Config) {
		snd.RedialMin, snd.RedialMax = 300*time.Millisecond, 300*time.Millisecond
		rcv.ResumeTimeout = 20 * time.Millisecond
	}}
	defer p.close(t)
	p.start(t, false)
	unacked := killMsgs - p.snd.Stats().MsgsSent
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.snd.CloseWait(ctx); err != nil {
		t.Errorf("sender: close: %v; stats %+v", err, p.snd.Stats())
	}
	select {
	case out := <-p.sndOutcome:
		if out.err != nil || out.undelivered != 0 {
			t.Errorf("sender ended with %v, %d undelivered (%d were unacknowledged at the kill)", out.err, out.undelivered, unacked)
		}
	case <-ctx.Done():
		t.Fatalf("the sender did not end; stats %+v", p.snd.Stats())
	}
	if got := p.got.Load(); got != killMsgs {
		t.Errorf("the receiver got %d messages, want %d", got, killMsgs)
	}
	if st := p.snd.Stats(); st.MsgsSent != killMsgs {
		t.Errorf("sender stats %+v: want all %d messages acknowledged", st, killMsgs)
	}
	if unacked == 0 {
		t.Log("no message was unacknowledged at the kill: the case did not arise")
	}
}
