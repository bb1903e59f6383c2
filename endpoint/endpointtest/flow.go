package endpointtest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/weftnet/weft/endpoint"
)

// A message of a flow is an 8-byte big-endian sequence number followed by
// a payload that depends only on the flow's seed and the sequence number,
// so the receiver checks order and content by regenerating it. Payload
// sizes come from a PCG seeded with the flow's seed, drawn in order by the
// sender and again by the receiver.

// seqLen is the length of a message's sequence number.
const seqLen = 8

// sizer draws payload sizes: mostly 1 B–1 KiB, one in a hundred up to
// maxLarge.
type sizer struct {
	rng      *rand.Rand
	maxLarge int
}

func newSizer(seed uint64, maxLarge int) *sizer {
	return &sizer{rng: rand.New(rand.NewPCG(seed, 0x5eed)), maxLarge: maxLarge}
}

func (s *sizer) next() int {
	if s.maxLarge > 1024 && s.rng.IntN(100) == 0 {
		return 1 + s.rng.IntN(s.maxLarge)
	}
	return 1 + s.rng.IntN(min(1024, max(s.maxLarge, 1)))
}

// buildMsg writes message i of the flow with seed into buf's storage.
func buildMsg(buf []byte, seed, i uint64, size int) []byte {
	buf = slices.Grow(buf[:0], seqLen+size)[:seqLen+size]
	binary.BigEndian.PutUint64(buf, i)
	fillPayload(buf[seqLen:], seed, i)
	return buf
}

// fillPayload fills b with the payload of message i of the flow with seed.
func fillPayload(b []byte, seed, i uint64) {
	var p rand.PCG
	p.Seed(seed, i)
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, p.Uint64())
		b = b[8:]
	}
	v := p.Uint64()
	for j := range b {
		b[j] = byte(v >> (8 * j))
	}
}

// flow is one direction of a conversation: a sender that sends numbered
// messages and a receiver that checks each arrives once, in order, intact.
type flow struct {
	name     string
	seed     uint64
	maxLarge int

	sent, sentBytes   atomic.Uint64 // messages handed to Send
	recvd, recvdBytes atomic.Uint64 // messages verified
	target            atomic.Uint64 // messages the receiver must get; MaxUint64 until known
	done              chan struct{} // closed when recvd reaches target
	doneOnce          sync.Once
	bad               atomic.Bool // a verification failed: stop checking
	onRecv            func()      // progress hook, after each verified message

	// Receiver state: one goroutine, or the endpoint's worker, at a time.
	sizes   *sizer
	next    uint64
	scratch []byte
}

func newFlow(name string, seed uint64, maxLarge int) *flow {
	f := &flow{name: name, seed: seed, maxLarge: maxLarge, done: make(chan struct{}), sizes: newSizer(seed, maxLarge)}
	f.target.Store(math.MaxUint64)
	return f
}

// setTarget tells the receiver how many messages it must get in all.
func (f *flow) setTarget(n uint64) {
	f.target.Store(n)
	if f.recvd.Load() >= n {
		f.doneOnce.Do(func() { close(f.done) })
	}
}

func (f *flow) complete() bool { return f.recvd.Load() >= f.target.Load() }

// verify checks the next received message.
func (f *flow) verify(msg []byte) error {
	i := f.next
	size := f.sizes.next()
	if len(msg) < seqLen {
		return fmt.Errorf("%s: message %d is %d bytes, shorter than its sequence number", f.name, i, len(msg))
	}
	if seq := binary.BigEndian.Uint64(msg); seq != i {
		return fmt.Errorf("%s: message %d carries sequence number %d: a message was lost, duplicated or reordered", f.name, i, seq)
	}
	if len(msg) != seqLen+size {
		return fmt.Errorf("%s: message %d is %d bytes; want %d", f.name, i, len(msg), seqLen+size)
	}
	f.scratch = slices.Grow(f.scratch[:0], size)[:size]
	fillPayload(f.scratch, f.seed, i)
	if !bytes.Equal(msg[seqLen:], f.scratch) {
		at := 0
		for at < size && msg[seqLen+at] == f.scratch[at] {
			at++
		}
		return fmt.Errorf("%s: message %d (%d bytes) is corrupt from payload byte %d", f.name, i, len(msg), at)
	}
	f.next++
	f.recvdBytes.Add(uint64(len(msg)))
	if n := f.recvd.Add(1); n >= f.target.Load() {
		f.doneOnce.Do(func() { close(f.done) })
	}
	if f.onRecv != nil {
		f.onRecv()
	}
	return nil
}

// receive verifies msg, recording a failure (once) in e.
func (f *flow) receive(e *env, msg []byte) {
	if f.bad.Load() {
		return
	}
	if err := f.verify(msg); err != nil {
		f.bad.Store(true)
		e.errorf("%v", err)
	}
}

// handler returns a Config.Handler that verifies the flow on the worker.
func (f *flow) handler(e *env) func(*endpoint.Endpoint, []byte) {
	return func(_ *endpoint.Endpoint, msg []byte) { f.receive(e, msg) }
}

// recvLoop verifies the flow with Recv until it is complete or e ends.
func (f *flow) recvLoop(e *env, ep *endpoint.Endpoint) {
	for !f.complete() {
		msg, err := ep.Recv(e.ctx)
		if err != nil {
			if e.ctx.Err() == nil && !f.complete() {
				e.errorf("%s: Recv after %d messages: %v", f.name, f.recvd.Load(), err)
			}
			return
		}
		f.receive(e, msg)
		if f.bad.Load() {
			return
		}
	}
}

// sendLoop sends messages 0..n-1 (n 0: until stop is closed), every other
// run of 64 with SendBatch, then sets the receiver's target. It returns
// the first error.
func (f *flow) sendLoop(ctx context.Context, ep *endpoint.Endpoint, n uint64, stop <-chan struct{}) error {
	sizes := newSizer(f.seed, f.maxLarge)
	var one []byte
	var batch [][]byte
	defer func() { f.setTarget(f.sent.Load()) }()
	for i := uint64(0); n == 0 || i < n; {
		select {
		case <-stop:
			return nil
		default:
		}
		k := uint64(64)
		if n > 0 {
			k = min(k, n-i)
		}
		if (i/64)%2 == 0 {
			for j := range k {
				one = buildMsg(one, f.seed, i+j, sizes.next())
				if err := ep.Send(ctx, one); err != nil {
					return fmt.Errorf("%s: Send of message %d: %w", f.name, i+j, err)
				}
				f.count(len(one))
			}
		} else {
			batch = slices.Grow(batch[:0], int(k))[:k]
			for j := range batch {
				batch[j] = buildMsg(batch[j], f.seed, i+uint64(j), sizes.next())
			}
			sent, err := ep.SendBatch(ctx, batch)
			for _, m := range batch[:sent] {
				f.count(len(m))
			}
			if err != nil {
				return fmt.Errorf("%s: SendBatch of messages %d..%d: %d sent, then %w", f.name, i, i+k-1, sent, err)
			}
		}
		i += k
	}
	return nil
}

func (f *flow) count(n int) {
	f.sent.Add(1)
	f.sentBytes.Add(uint64(n))
}

func (f *flow) status() string {
	return fmt.Sprintf("%s: %d sent, %d received", f.name, f.sent.Load(), f.recvd.Load())
}
