package mem

import (
	"sync"
	"time"
)

// The scheduler is the one goroutine of a Network. It holds every delayed
// delivery in a min-heap ordered by due time, then by the order they were
// scheduled (seq), and hands each to its receiver when due. Deliveries
// without delay never come here: the writer hands them over itself.
//
// Handing over means appending to the receiving connection's inbound
// buffer and, if no drain is pending, posting one to its mailbox; the
// scheduler never runs a handler.

// item is one delayed delivery: data from a connection, or its close.
type item struct {
	at   int64
	seq  uint64
	from *conn
	data []byte
	fin  bool
}

type scheduler struct {
	mu      sync.Mutex
	heap    []item
	seq     uint64
	stopped bool

	epoch time.Time
	wake  chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup
}

func newScheduler() *scheduler {
	s := &scheduler{epoch: time.Now(), wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.wg.Add(1)
	go s.run()
	return s
}

// now returns the time since the epoch in ns (monotonic).
func (s *scheduler) now() int64 { return int64(time.Since(s.epoch)) }

// push schedules it; it reports false once the scheduler stopped.
func (s *scheduler) push(it item) bool {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return false
	}
	it.seq = s.seq
	s.seq++
	s.heap = append(s.heap, it)
	first := s.up(len(s.heap)-1) == 0
	s.mu.Unlock()
	if first {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return true
}

func (s *scheduler) stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	s.mu.Lock()
	dropped := s.heap
	s.heap = nil
	s.mu.Unlock()
	for i := range dropped {
		dropped[i].from.pending.Add(-1)
	}
}

func (s *scheduler) run() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []item
	for {
		batch = s.due(batch[:0])
		for i := range batch {
			deliverItem(&batch[i])
			batch[i] = item{}
		}
		wait := s.untilNext()
		if wait < 0 {
			wait = time.Hour
		}
		timer.Reset(wait)
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// due pops every item whose time has come, in order.
func (s *scheduler) due(batch []item) []item {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for len(s.heap) > 0 && s.heap[0].at <= now {
		batch = append(batch, s.pop())
	}
	return batch
}

// untilNext returns the wait until the earliest item, or -1 if none.
func (s *scheduler) untilNext() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.heap) == 0 {
		return -1
	}
	return max(time.Duration(s.heap[0].at-s.now()), 0)
}

func (s *scheduler) less(i, j int) bool {
	a, b := &s.heap[i], &s.heap[j]
	return a.at < b.at || a.at == b.at && a.seq < b.seq
}

func (s *scheduler) up(i int) int {
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s.heap[i], s.heap[p] = s.heap[p], s.heap[i]
		i = p
	}
	return i
}

func (s *scheduler) pop() item {
	h := s.heap
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = item{}
	s.heap = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= last {
			break
		}
		m := l
		if r := l + 1; r < last && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s.heap[i], s.heap[m] = s.heap[m], s.heap[i]
		i = m
	}
	return top
}
