package wheel

import "math/bits"

// Slots is the number of slots; a timer further away than Slots ticks
// waits in its slot for more rotations.
const Slots = 256

// Timer is an entry in a Wheel. The zero value is an idle timer; arm it
// with Wheel.Schedule.
type Timer struct {
	fn         func()
	deadline   uint64 // tick at which fn runs
	prev, next *Timer
	w          *Wheel
}

// Active reports whether t is scheduled and has not fired or been stopped.
func (t *Timer) Active() bool { return t.w != nil }

// Wheel holds timers in Slots doubly linked lists, indexed by deadline
// modulo Slots, and a bitmap of the non-empty slots so the next deadline
// is found without scanning empty slots.
type Wheel struct {
	now      uint64 // last tick advanced to
	slots    [Slots]Timer
	nonEmpty [Slots / 64]uint64
	count    int
	fired    []*Timer
}

// New returns a wheel whose current tick is now.
func New(now uint64) *Wheel {
	w := &Wheel{now: now}
	for i := range w.slots {
		s := &w.slots[i]
		s.prev, s.next = s, s
	}
	return w
}

// Len returns the number of scheduled timers.
func (w *Wheel) Len() int { return w.count }

// Now returns the tick the wheel was last advanced to.
func (w *Wheel) Now() uint64 { return w.now }

// Schedule arms t to run fn at tick deadline (at once on the next Advance
// if deadline is not after Now). A timer that was already scheduled is
// moved to the new deadline.
func (w *Wheel) Schedule(t *Timer, deadline uint64, fn func()) {
	if t.w != nil {
		t.w.unlink(t)
	}
	if deadline <= w.now {
		deadline = w.now + 1
	}
	t.fn, t.deadline, t.w = fn, deadline, w
	idx := deadline % Slots
	head := &w.slots[idx]
	t.prev, t.next = head.prev, head
	head.prev.next = t
	head.prev = t
	w.nonEmpty[idx/64] |= 1 << (idx % 64)
	w.count++
}

// Stop disarms t. It reports whether t was scheduled.
func (w *Wheel) Stop(t *Timer) bool {
	if t.w != w {
		return false
	}
	w.unlink(t)
	return true
}

func (w *Wheel) unlink(t *Timer) {
	t.prev.next = t.next
	t.next.prev = t.prev
	idx := t.deadline % Slots
	if head := &w.slots[idx]; head.next == head {
		w.nonEmpty[idx/64] &^= 1 << (idx % 64)
	}
	t.prev, t.next, t.w, t.fn = nil, nil, nil, nil
	w.count--
}

// Next returns a tick at or before the earliest deadline, and false if no
// timer is scheduled. It may be early (a slot's timer may be rotations
// away); Advance to it and ask again.
func (w *Wheel) Next() (uint64, bool) {
	if w.count == 0 {
		return 0, false
	}
	start := (w.now + 1) % Slots
	for i := uint64(0); i <= Slots/64; i++ {
		word := (start/64 + i) % (Slots / 64)
		bitsWord := w.nonEmpty[word]
		if i == 0 {
			bitsWord &^= (1 << (start % 64)) - 1
		}
		if bitsWord != 0 {
			idx := word*64 + uint64(bits.TrailingZeros64(bitsWord))
			return w.now + 1 + (idx+Slots-start)%Slots, true
		}
	}
	return w.now + 1, true
}

// Advance moves the wheel to tick now and runs every timer whose deadline
// is at or before it, in deadline order within each slot visit. It returns
// the number of timers run. Callbacks may schedule or stop timers.
func (w *Wheel) Advance(now uint64) int {
	if now <= w.now {
		return 0
	}
	from := w.now + 1
	if now-w.now >= Slots {
		from = now - Slots + 1 // every slot is visited once
	}
	w.now = now
	ran := 0
	for tick := from; tick <= now && w.count > 0; tick++ {
		ran += w.expire(tick%Slots, now)
	}
	return ran
}

func (w *Wheel) expire(idx, now uint64) int {
	head := &w.slots[idx]
	fired := w.fired[:0]
	for t := head.next; t != head; t = t.next {
		if t.deadline <= now {
			fired = append(fired, t)
		}
	}
	ran := 0
	for _, t := range fired {
		// An earlier callback may have stopped or rescheduled t.
		if t.w != w || t.deadline > now {
			continue
		}
		fn := t.fn
		w.unlink(t)
		fn()
		ran++
	}
	clear(fired)
	w.fired = fired[:0]
	return ran
}
