package endpointtest

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
)

// maxAllocGrowth bounds the bytes allocated while an endpoint rejects a
// message length above its limit: it must not allocate for it.
const maxAllocGrowth = 16 << 20

// badWorld is a listener on the subtest's single worker that serves a
// healthy endpoint pair, which keeps exchanging messages while raw peers
// feed the listener bad input.
type badWorld struct {
	e         *env
	plaintext bool
	ln        *endpoint.Listener
	healthy   identity.PeerID
	a, b      *endpoint.Endpoint // healthy dialer, and its accepted end
	rounds    atomic.Uint64      // healthy round trips
	stop      chan struct{}
	stopped   chan struct{}

	mu       sync.Mutex
	accepted map[identity.PeerID]*endpoint.Endpoint
	got      map[identity.PeerID][][]byte // messages delivered to raw peers' endpoints
	changed  chan struct{}
}

// listenerMax is the listener's MaxMessageBytes in BadInput: the largest
// allowed, so that allocating for a length just above it would show.
const listenerMax = endpoint.MaxMessageLimit

// newBadWorld starts the listener and its healthy pair.
func (e *env) newBadWorld(plaintext bool) *badWorld {
	e.t.Helper()
	w := &badWorld{e: e, plaintext: plaintext, healthy: peerOf(e.t, 2), stop: make(chan struct{}), stopped: make(chan struct{}),
		accepted: make(map[identity.PeerID]*endpoint.Endpoint), got: make(map[identity.PeerID][][]byte), changed: make(chan struct{}, 1)}
	lcfg := e.config(1)
	lcfg.MaxMessageBytes = listenerMax
	lcfg.InsecurePlaintext = plaintext
	lcfg.Handler = w.onMessage
	w.ln = e.listen(e.d, lcfg, w.onAccept)
	dcfg := e.config(2)
	dcfg.InsecurePlaintext = plaintext
	w.a = e.mustDial(e.d, w.ln.Addr(), dcfg)
	w.b = w.endpointOf(w.healthy)
	e.goBG(w.pingPong)
	w.alive("the healthy pair to start")
	return w
}

func (w *badWorld) onAccept(ep *endpoint.Endpoint) {
	w.mu.Lock()
	w.accepted[ep.Peer()] = ep
	w.mu.Unlock()
	w.signal()
}

// onMessage is the listener's Handler: it echoes the healthy peer's
// messages and keeps the others for the test.
func (w *badWorld) onMessage(ep *endpoint.Endpoint, msg []byte) {
	if ep.Peer() == w.healthy {
		if err := ep.TrySend(msg); err != nil {
			w.e.errorf("healthy listener end: echo: %v", err)
		}
		return
	}
	w.mu.Lock()
	w.got[ep.Peer()] = append(w.got[ep.Peer()], append([]byte(nil), msg...))
	w.mu.Unlock()
	w.signal()
}

func (w *badWorld) signal() {
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// endpointOf waits for the listener to accept peer's endpoint.
func (w *badWorld) endpointOf(peer identity.PeerID) *endpoint.Endpoint {
	w.e.t.Helper()
	var ep *endpoint.Endpoint
	w.e.waitUntil(nil, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		ep = w.accepted[peer]
		return ep != nil
	}, "the listener accepts an endpoint from %s", peer)
	return ep
}

// delivered returns the messages delivered from peer.
func (w *badWorld) delivered(peer identity.PeerID) [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got[peer]
}

// pingPong is the healthy pair's conversation: one message at a time,
// echoed by the listener's end, checked, until stop.
func (w *badWorld) pingPong() {
	defer close(w.stopped)
	for i := uint64(0); ; i++ {
		select {
		case <-w.stop:
			return
		default:
		}
		msg := binary.BigEndian.AppendUint64(nil, i)
		if err := w.a.Send(w.e.ctx, msg); err != nil {
			if w.e.ctx.Err() == nil {
				w.e.errorf("healthy dialer: Send %d: %v", i, err)
			}
			return
		}
		echo, err := w.a.Recv(w.e.ctx)
		if err != nil {
			if w.e.ctx.Err() == nil {
				w.e.errorf("healthy dialer: Recv of echo %d: %v", i, err)
			}
			return
		}
		if seqOf(echo) != i || len(echo) != 8 {
			w.e.errorf("healthy dialer: echo %d came back as %x", i, echo)
			return
		}
		w.rounds.Add(1)
	}
}

// alive waits until the healthy pair completes a few more round trips.
func (w *badWorld) alive(after string) {
	w.e.t.Helper()
	from := w.rounds.Load()
	w.e.waitUntil(func() string {
		return fmt.Sprintf("%d round trips; dialer %+v; listener end %+v", w.rounds.Load(), w.a.Stats(), w.b.Stats())
	},
		func() bool { return w.rounds.Load() >= from+5 }, "the healthy pair keeps talking after %s", after)
}

// close stops the healthy pair and checks it was unaffected.
func (w *badWorld) close() {
	w.e.t.Helper()
	close(w.stop)
	w.e.wait(w.stopped, "the healthy pair to stop")
	w.e.t.Logf("healthy pair: %d round trips during the bad input", w.rounds.Load())
	w.e.noProblems(w.a, "healthy dialer")
	w.e.noProblems(w.b, "healthy listener end")
	w.e.closeBoth(w.a, w.b, "healthy pair")
	_ = w.ln.Close()
}

// raw dials a raw connection to the listener.
func (w *badWorld) raw() *rawPeer { return w.e.dialRaw(w.e.d, w.ln.Addr()) }

// rawSession dials and completes the handshake and HELLO as identity id.
func (w *badWorld) rawSession(id byte) (*rawSession, *endpoint.Endpoint) {
	w.e.t.Helper()
	p := w.raw()
	s, err := p.handshake(handshake.Config{Identity: key(w.e.t, id), InsecurePlaintext: w.plaintext, MaxMessageBytes: 1 << 20})
	if err != nil {
		w.e.t.Fatalf("raw peer %d: handshake: %v", id, err)
	}
	if err := s.hello(1 << 20); err != nil {
		w.e.t.Fatalf("raw peer %d: HELLO: %v", id, err)
	}
	return s, w.endpointOf(peerOf(w.e.t, id))
}

// badCase is one kind of bad input. stream and datagram run it on that
// kind of transport (nil: not applicable).
type badCase struct {
	name      string
	plaintext bool // needs a listener in plaintext mode
	stream    func(w *badWorld, id byte)
	datagram  func(w *badWorld, id byte)
}

var badCases = []badCase{
	{name: "GarbageBeforeHandshake", stream: badGarbageBeforeHandshake, datagram: badGarbagePacketsBeforeHandshake},
	{name: "GarbageHandshakePacket", datagram: badGarbageHandshakePacket},
	{name: "TruncatedHandshake", stream: badTruncatedHandshake, datagram: badTruncatedHandshake},
	{name: "GarbageAfterHello", stream: badGarbageAfterHello, datagram: badGarbagePacketsAfterHello},
	{name: "RecordShorterThanTag", stream: badShortRecord},
	{name: "RecordLengthAboveMax", plaintext: true, stream: badRecordAboveMax},
	{name: "FlippedCiphertextBit", stream: badFlippedBit, datagram: badFlippedBitPackets},
	{name: "ReplayedRecord", stream: badReplayedRecord, datagram: badReplayedPacket},
	{name: "MessageLengthAboveMax", stream: badMessageAboveMax, datagram: badMessageAboveMax},
	{name: "DetachedDataMismatch", stream: badDetachedMismatch},
}

// testBadInput runs every bad-input case that applies to the transport,
// each against a listener that serves a healthy pair on the same worker.
func testBadInput(e *env) {
	for i, c := range badCases {
		fn := c.stream
		if e.datagram() {
			fn = c.datagram
		}
		if fn == nil {
			continue
		}
		w := e.newBadWorld(c.plaintext)
		e.t.Logf("BadInput/%s", c.name)
		fn(w, byte(100+i))
		e.flush()
		w.alive(c.name)
		w.close()
	}
}

// garbage returns n pseudo-random bytes.
func garbage(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

// counterWait bounds the wait for a counter to move: the event that moves
// it has happened already (the connection closed, the packets were sent).
const counterWait = 5 * time.Second

// badConnsGrow checks that the listener's BadConnections grows above
// before.
func (w *badWorld) badConnsGrow(before uint64, what string) {
	w.e.t.Helper()
	if !w.e.eventually(counterWait, func() bool { return w.ln.BadConnections() > before }) {
		w.e.t.Errorf("the listener's BadConnections stayed at %d after %s; want it counted", w.ln.BadConnections(), what)
	}
}

// badRecordsGrow checks that ep's BadRecords grows above before.
func (w *badWorld) badRecordsGrow(ep *endpoint.Endpoint, before uint64, what string) {
	w.e.t.Helper()
	if !w.e.eventually(counterWait, func() bool { return ep.Stats().BadRecords > before }) {
		w.e.t.Errorf("the raw peer's endpoint counted %s in neither BadRecords (stats %+v) nor the listener's BadConnections (%d); want it counted",
			what, ep.Stats(), w.ln.BadConnections())
	}
}

// closedBy waits for the listener's side to close a raw connection.
func (w *badWorld) closedBy(p *rawPeer, what string) {
	w.e.t.Helper()
	w.e.wait(p.closed, "the listener to close the connection after %s", what)
}

// allocCheck runs fn and fails if the process allocated more than
// maxAllocGrowth meanwhile.
func (w *badWorld) allocCheck(what string, fn func()) {
	w.e.t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	grew := after.TotalAlloc - before.TotalAlloc
	w.e.t.Logf("%s: %d KiB allocated meanwhile", what, grew>>10)
	if grew > maxAllocGrowth {
		w.e.t.Errorf("%s: the process allocated %d MiB while the endpoint rejected it; want under %d MiB", what, grew>>20, maxAllocGrowth>>20)
	}
}
