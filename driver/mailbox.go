package driver

import (
	"sync"
	"time"
)

// Mailbox runs tasks, in the order they were posted, on whichever worker
// owns it at the time. It is the way other goroutines hand work to
// something that can move between workers (a connection, an endpoint):
// Worker.Execute would run a task on the old worker after a move, a
// mailbox follows its owner.
//
// Tasks never run concurrently with each other. While the mailbox is
// frozen (during a move) tasks wait; they run on the new owner after Thaw.
// Each hand-over to the worker runs one batch of tasks and queues the next
// batch behind the worker's other tasks, so a busy mailbox cannot starve
// its worker's timers or other mailboxes.
type Mailbox struct {
	mu     sync.Mutex
	owner  *Worker
	tasks  []func()
	spare  []func()
	sched  *Worker // the worker a live drain task is queued on, or nil
	frozen bool
	closed bool
	drains []func() // drain closures by worker ID, made once each
}

// NewMailbox returns a mailbox owned by w.
func NewMailbox(w *Worker) *Mailbox {
	return &Mailbox{owner: w}
}

// Owner returns the worker that runs m's tasks now.
func (m *Mailbox) Owner() *Worker {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.owner
}

// Post queues fn to run on m's owner. It never blocks and may be called
// from any goroutine, including the owner (fn then runs later, not inline).
// It returns ErrClosed after Close.
func (m *Mailbox) Post(fn func()) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	m.tasks = append(m.tasks, fn)
	if m.sched != nil || m.frozen {
		m.mu.Unlock()
		return nil
	}
	return m.scheduleLocked(m.owner)
}

// scheduleLocked queues a drain on w and unlocks m.
func (m *Mailbox) scheduleLocked(w *Worker) error {
	m.sched = w
	fn := m.drainFor(w)
	m.mu.Unlock()
	if err := w.Execute(fn); err != nil {
		m.mu.Lock()
		if m.sched == w {
			m.sched = nil
		}
		m.mu.Unlock()
		return err
	}
	return nil
}

// drainFor returns the drain task for worker w. Call with mu held.
func (m *Mailbox) drainFor(w *Worker) func() {
	for len(m.drains) <= w.id {
		m.drains = append(m.drains, nil)
	}
	if m.drains[w.id] == nil {
		m.drains[w.id] = func() { m.drain(w) }
	}
	return m.drains[w.id]
}

// drain runs on w: it runs one batch of tasks, unless the drain is stale
// (the mailbox moved and another drain is queued on the new owner) or the
// mailbox is frozen; then it queues itself again if more tasks wait.
func (m *Mailbox) drain(w *Worker) {
	m.mu.Lock()
	if m.sched != w {
		m.mu.Unlock()
		return // stale: a move re-scheduled the mailbox elsewhere
	}
	if m.frozen || len(m.tasks) == 0 {
		m.sched = nil
		m.mu.Unlock()
		return
	}
	batch := m.tasks
	m.tasks, m.spare = m.spare[:0], nil
	m.mu.Unlock()
	for i, fn := range batch {
		fn()
		batch[i] = nil
		if m.isFrozen() {
			m.requeue(batch[i+1:])
			break
		}
	}
	m.mu.Lock()
	if cap(batch) <= 1024 {
		m.spare = batch[:0]
	}
	if m.sched != w || m.frozen || len(m.tasks) == 0 {
		if m.sched == w {
			m.sched = nil
		}
		m.mu.Unlock()
		return
	}
	_ = m.scheduleLocked(w)
}

func (m *Mailbox) isFrozen() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.frozen
}

// requeue puts tasks back in front of the queue, keeping their order.
func (m *Mailbox) requeue(rest []func()) {
	if len(rest) == 0 {
		return
	}
	m.mu.Lock()
	m.tasks = append(append(make([]func(), 0, len(rest)+len(m.tasks)), rest...), m.tasks...)
	m.mu.Unlock()
	clear(rest)
}

// Freeze stops m from running tasks; call it on the owner when a move
// starts. Tasks posted meanwhile wait.
func (m *Mailbox) Freeze() {
	m.mu.Lock()
	m.frozen = true
	m.mu.Unlock()
}

// Thaw makes w the owner and resumes running tasks there. Call it on w.
func (m *Mailbox) Thaw(w *Worker) {
	m.mu.Lock()
	m.owner = w
	m.frozen = false
	if len(m.tasks) == 0 || m.sched == w {
		m.mu.Unlock()
		return
	}
	_ = m.scheduleLocked(w) // any drain queued on the old owner is now stale
}

// Close makes later Posts fail with ErrClosed. Tasks already posted still
// run.
func (m *Mailbox) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
}

// MailboxTimer runs a function on a mailbox's owner after a delay, even if
// the mailbox moved to another worker meanwhile. Call Reset and Stop only
// from the mailbox's tasks or callbacks (on its owner).
type MailboxTimer struct {
	m     *Mailbox
	fn    func()
	gen   uint64 // bumped by Reset and Stop; a firing of an older gen is void
	armed bool
	t     *Timer // on the worker that armed it
}

// AfterFunc returns a timer that runs fn on m's owner after d. Call it on
// the owner.
func (m *Mailbox) AfterFunc(d time.Duration, fn func()) *MailboxTimer {
	t := &MailboxTimer{m: m, fn: fn}
	t.Reset(d)
	return t
}

// Reset re-arms t to fire after d.
func (t *MailboxTimer) Reset(d time.Duration) {
	t.gen++
	t.armed = true
	w := t.m.owner // read on the owner: no move is in progress
	gen := t.gen
	if t.t != nil && t.t.w == w {
		t.t.fn = func() { t.fire(gen, w) }
		t.t.Reset(d)
		return
	}
	// A timer armed on a previous owner fires there as a void generation.
	t.t = w.AfterFunc(d, func() { t.fire(gen, w) })
}

// Stop disarms t and reports whether it was armed.
func (t *MailboxTimer) Stop() bool {
	was := t.armed
	t.armed = false
	t.gen++
	if t.t != nil && t.t.w == t.m.owner {
		t.t.Stop()
	}
	return was
}

// fire runs on armedOn, the worker that armed the timer; if the mailbox
// moved since, the call goes through the mailbox to the new owner.
func (t *MailboxTimer) fire(gen uint64, armedOn *Worker) {
	m := t.m
	m.mu.Lock()
	here := !m.frozen && m.owner == armedOn
	m.mu.Unlock()
	run := func() {
		if t.gen == gen && t.armed {
			t.armed = false
			t.fn()
		}
	}
	if here {
		run()
		return
	}
	_ = m.Post(run)
}
