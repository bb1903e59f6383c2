package endpoint

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/record"
)

// Endpoint is a secure, reliable, ordered message channel to one peer. It
// outlives its transport connections: when one dies the dialing side
// redials, both re-handshake and resume where the peer's acknowledgements
// left off, so every message handed to Send arrives exactly once, in
// order, or is reported undelivered when the endpoint closes.
//
// Send, TrySend, SendBatch, Recv, Close, Stats and Peer are safe from any
// goroutine. The Handler runs on the endpoint's worker.
type Endpoint struct {
	cfg     Config
	d       *driver.Driver
	mb      *driver.Mailbox
	owner   atomic.Pointer[driver.Worker]
	peer    identity.PeerID
	session [16]byte
	dialer  bool
	routes  []route         // dialer: where to redial, in order
	expect  identity.PeerID // dialer: the peer it must reach (zero: any, until the first)
	firstUp chan error      // dialer: the first connection's outcome, for Dial
	ln      *Listener       // responder: whose session table holds us
	maxSend atomic.Int64    // min(our, peer's) message limit

	log       sendLog // shared with producers under log.mu
	waiters   chan struct{}
	kicked    atomic.Bool // a flush task is queued
	inRecv    atomic.Bool // the worker is handling received records and flushes after
	flushTask func()

	recvQ recvQueue // for Recv, when Config.Handler is nil

	closed  chan struct{} // closed when the endpoint has ended
	doneErr error         // set before closed is closed
	stats   counters

	// Below: touched only on the owner.
	st session
}

// counters are the endpoint's statistics, readable from any goroutine.
type counters struct {
	msgsRecv, bytesSent, bytesRecv   atomic.Uint64
	recordsSent, recordsRecv         atomic.Uint64
	retransmits, resumes, badRecords atomic.Uint64
	rttNanos                         atomic.Int64
}

// Stats is a snapshot of an endpoint's counters.
type Stats struct {
	MsgsSent, MsgsRecv       uint64 // messages acknowledged by the peer / delivered here
	BytesSent, BytesRecv     uint64 // record bytes on the wire, both directions
	RecordsSent, RecordsRecv uint64
	Retransmits              uint64        // records (or datagrams) sent again
	Resumes                  uint64        // connections re-established under this endpoint
	BadRecords               uint64        // records rejected: tampered, replayed, malformed
	RTT                      time.Duration // smoothed round-trip time
	QueuedBytes              int           // queued plus unacknowledged bytes
}

func newEndpoint(d *driver.Driver, w *driver.Worker, cfg Config) *Endpoint {
	ep := &Endpoint{cfg: cfg, d: d, mb: driver.NewMailbox(w), closed: make(chan struct{})}
	ep.owner.Store(w)
	ep.flushTask = ep.runFlush
	ep.maxSend.Store(int64(cfg.MaxMessageBytes))
	ep.recvQ.init(cfg.Handler == nil)
	ep.st.init(ep)
	return ep
}

func newSessionID() [16]byte {
	var id [16]byte
	_, _ = rand.Read(id[:])
	return id
}

// Peer returns the peer's identity, proven by the handshake.
func (ep *Endpoint) Peer() identity.PeerID { return ep.peer }

// Done is closed when the endpoint has ended; Err then says why.
func (ep *Endpoint) Done() <-chan struct{} { return ep.closed }

// Err returns why the endpoint ended (nil for a clean Close), or nil while
// it is open.
func (ep *Endpoint) Err() error {
	select {
	case <-ep.closed:
		return ep.doneErr
	default:
		return nil
	}
}

// Send queues msg for the peer, copying it, and returns once it is queued:
// it blocks while queued plus unacknowledged bytes would exceed
// SendBufferBytes, until there is room or ctx ends. Messages arrive in
// Send order (across goroutines, in the order their Sends returned).
func (ep *Endpoint) Send(ctx context.Context, msg []byte) error {
	for {
		ch, err := ep.tryAppend(msg)
		if ch == nil {
			return err
		}
		select {
		case <-ch:
		case <-ep.closed:
			return fmt.Errorf("endpoint: send: %w", ErrClosed)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TrySend is Send without waiting: it fails with ErrBufferFull (wrapped)
// when there is no room.
func (ep *Endpoint) TrySend(msg []byte) error {
	if _, err := ep.tryAppend(msg); err != nil {
		return err
	}
	return nil
}

// SendBatch sends msgs in order with one hand-over to the worker for as
// many as fit; it blocks like Send for the rest. On error, the first n
// messages were queued.
func (ep *Endpoint) SendBatch(ctx context.Context, msgs [][]byte) (n int, err error) {
	for n < len(msgs) {
		k, ch, err := ep.appendBatch(msgs[n:])
		n += k
		if err != nil {
			return n, err
		}
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-ep.closed:
			return n, fmt.Errorf("endpoint: send: %w", ErrClosed)
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
	return n, nil
}

func (ep *Endpoint) checkSize(msg []byte) error {
	if limit := int(ep.maxSend.Load()); len(msg) > limit {
		return &TooLargeError{Size: len(msg), Limit: limit}
	}
	return nil
}

// tryAppend appends msg if it fits. If it does not, it returns a channel
// that is closed when room may have appeared.
func (ep *Endpoint) tryAppend(msg []byte) (<-chan struct{}, error) {
	_, ch, err := ep.appendBatch([][]byte{msg})
	if ch != nil {
		return ch, fmt.Errorf("endpoint: send: %w", ErrBufferFull)
	}
	return nil, err
}

func (ep *Endpoint) appendBatch(msgs [][]byte) (int, <-chan struct{}, error) {
	for _, m := range msgs {
		if err := ep.checkSize(m); err != nil {
			return 0, nil, err
		}
	}
	limit := uint64(ep.cfg.SendBufferBytes)
	l := &ep.log
	l.mu.Lock()
	if ep.isClosed() {
		l.mu.Unlock()
		return 0, nil, fmt.Errorf("endpoint: send: %w", ErrClosed)
	}
	n := 0
	for _, m := range msgs {
		need := uint64(record.MessageOverhead(len(m)) + len(m))
		if l.used()+need > limit && l.used() > 0 {
			break
		}
		l.appendMsg(m)
		n++
	}
	var ch chan struct{}
	if n < len(msgs) {
		if ep.waiters == nil {
			ep.waiters = make(chan struct{})
		}
		ch = ep.waiters
	}
	l.mu.Unlock()
	if n > 0 {
		ep.kick()
	}
	return n, ch, nil
}

func (ep *Endpoint) isClosed() bool {
	select {
	case <-ep.closed:
		return true
	default:
		return false
	}
}

// kick makes sure a flush task is queued on the worker: producers that
// append while one is queued ride on it.
//
// While the worker is handling received records (a Handler replying with
// TrySend, say) no task is needed: the worker flushes when it is done, and
// re-reads the log after clearing inRecv, so an append that saw inRecv set
// is never stranded.
func (ep *Endpoint) kick() {
	if ep.inRecv.Load() {
		return
	}
	if !ep.kicked.Swap(true) {
		_ = ep.mb.Post(ep.flushTask)
	}
}

func (ep *Endpoint) runFlush() {
	ep.kicked.Store(false)
	ep.st.flush()
}

// Recv returns the next message when the endpoint has no Handler. The
// caller owns the returned slice; handing it back with Release when done
// saves an allocation per message.
func (ep *Endpoint) Recv(ctx context.Context) ([]byte, error) {
	msg, err := ep.recvQ.pop(ctx, ep.closed)
	if err != nil {
		if err == errRecvClosed {
			return nil, fmt.Errorf("endpoint: recv: %w", ep.closeCause())
		}
		return nil, err
	}
	ep.consumed(record.MessageOverhead(len(msg)) + len(msg))
	return msg, nil
}

func (ep *Endpoint) closeCause() error {
	if err := ep.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// consumed credits n bytes taken by Recv back to the receive window.
func (ep *Endpoint) consumed(n int) {
	if ep.st.creditRecv(n) {
		_ = ep.mb.Post(ep.st.sendWindowUpdate)
	}
}

// Close closes the endpoint gracefully: what is queued is sent, and once
// the peer has acknowledged everything the connection closes. It returns at
// once; Done is closed when it is over and OnClose reports the outcome. A
// peer that does not acknowledge within ResumeTimeout leaves messages
// undelivered, reported through OnClose.
func (ep *Endpoint) Close() error {
	_ = ep.mb.Post(ep.st.startClose) // fails only when the endpoint is already over
	return nil
}

// CloseWait is Close followed by waiting for the end or ctx. It returns the
// endpoint's final error.
func (ep *Endpoint) CloseWait(ctx context.Context) error {
	_ = ep.Close()
	select {
	case <-ep.closed:
		return ep.doneErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns a snapshot of the endpoint's counters.
func (ep *Endpoint) Stats() Stats {
	ep.log.mu.Lock()
	queued := int(ep.log.used())
	sent := ep.log.acknowledged()
	ep.log.mu.Unlock()
	s := &ep.stats
	return Stats{
		MsgsSent: sent, MsgsRecv: s.msgsRecv.Load(),
		BytesSent: s.bytesSent.Load(), BytesRecv: s.bytesRecv.Load(),
		RecordsSent: s.recordsSent.Load(), RecordsRecv: s.recordsRecv.Load(),
		Retransmits: s.retransmits.Load(), Resumes: s.resumes.Load(), BadRecords: s.badRecords.Load(),
		RTT: time.Duration(s.rttNanos.Load()), QueuedBytes: queued,
	}
}

// Owner implements driver.Movable.
func (ep *Endpoint) Owner() *driver.Worker { return ep.owner.Load() }

// Load implements driver.Movable: record bytes moved either way.
func (ep *Endpoint) Load() uint64 { return ep.stats.bytesSent.Load() + ep.stats.bytesRecv.Load() }

// Detach implements driver.Movable: the endpoint freezes its mailbox and
// takes its connection off the worker.
func (ep *Endpoint) Detach(done func(error)) {
	ep.mb.Freeze()
	c := ep.st.conn()
	if c == nil {
		done(nil)
		return
	}
	c.Detach(func(err error) {
		if err != nil {
			ep.mb.Thaw(ep.Owner())
		}
		done(err)
	})
}

// Attach implements driver.Movable.
func (ep *Endpoint) Attach(w *driver.Worker) {
	ep.owner.Store(w)
	if c := ep.st.conn(); c != nil {
		c.Attach(w)
	}
	ep.mb.Thaw(w)
}

// finish ends the endpoint once: it releases the send log, wakes every
// waiter and reports the outcome. Runs on the owner.
func (ep *Endpoint) finish(err error) {
	if ep.isClosed() {
		return
	}
	ep.log.mu.Lock()
	undelivered := int(ep.log.pending())
	ep.log.free()
	ep.doneErr = err
	close(ep.closed)
	if ep.waiters != nil {
		close(ep.waiters)
		ep.waiters = nil
	}
	ep.log.mu.Unlock()
	ep.mb.Close()
	ep.recvQ.close()
	ep.Owner().Untrack(ep)
	if ep.ln != nil {
		ep.ln.forget(ep, ep.st.recvd)
	}
	if ep.cfg.OnClose != nil {
		ep.cfg.OnClose(ep, err, undelivered)
	}
}

// recvQueue holds messages for Recv. Its size is bounded by the receive
// window: the peer may not send beyond what Recv has consumed.
type recvQueue struct {
	mu     sync.Mutex
	on     bool
	msgs   [][]byte
	head   int
	notify chan struct{}
	done   bool
}

var errRecvClosed = fmt.Errorf("endpoint: recv queue closed")

func (q *recvQueue) init(on bool) { q.on = on; q.notify = make(chan struct{}, 1) }

func (q *recvQueue) push(msg []byte) { q.pushOwned(getMsg(msg)) }

// pushOwned queues msg itself: the queue, then Recv's caller, owns it.
func (q *recvQueue) pushOwned(msg []byte) {
	q.mu.Lock()
	q.msgs = append(q.msgs, msg)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *recvQueue) pop(ctx context.Context, closed <-chan struct{}) ([]byte, error) {
	for {
		q.mu.Lock()
		if q.head < len(q.msgs) {
			m := q.msgs[q.head]
			q.msgs[q.head] = nil
			q.head++
			if q.head == len(q.msgs) {
				q.msgs, q.head = q.msgs[:0], 0
			} else if q.head > 1024 && q.head*2 > len(q.msgs) {
				q.msgs, q.head = append(q.msgs[:0:0], q.msgs[q.head:]...), 0
			}
			more := q.head < len(q.msgs)
			q.mu.Unlock()
			if more {
				select {
				case q.notify <- struct{}{}:
				default:
				}
			}
			return m, nil
		}
		done := q.done
		q.mu.Unlock()
		if done {
			return nil, errRecvClosed
		}
		select {
		case <-q.notify:
		case <-closed:
			q.mu.Lock()
			q.done = true
			q.mu.Unlock()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (q *recvQueue) close() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}
