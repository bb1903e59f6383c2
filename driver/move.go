package driver

import (
	"context"
	"fmt"
	"slices"
)

// Movable is work owned by one worker that can move to another without
// losing, duplicating or reordering anything: a connection and the state
// attached to it. Transports implement it for their connections; the
// endpoint package for an endpoint and its connection.
type Movable interface {
	// Owner returns the worker m belongs to now. Safe from any goroutine.
	Owner() *Worker
	// Detach runs on the owner. m stops all its work there (freezing its
	// mailbox, taking its socket off the loop) and calls done exactly once,
	// from any goroutine, when nothing of it is left on that worker, or with
	// an error if it cannot move now (it then carries on where it was).
	Detach(done func(error))
	// Attach runs on the new owner after a successful Detach; m resumes
	// there.
	Attach(w *Worker)
	// Load returns a counter of the work m has done (bytes moved), never
	// decreasing. Rebalance compares its growth between calls.
	Load() uint64
	// Close closes m; Driver.Close calls it for what is still attached.
	Close() error
}

// Move moves m to the worker dst and waits until it has arrived or the
// move failed. Traffic keeps flowing: nothing is lost, duplicated or
// reordered. Move blocks: never call it from a worker.
func (d *Driver) Move(ctx context.Context, m Movable, dst *Worker) error {
	done := make(chan error, 1)
	if err := d.MoveAsync(m, dst, func(err error) { done <- err }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// MoveAsync starts moving m to dst and returns at once; done is called
// once, on dst if the move succeeded, when it is over. Safe from any
// goroutine, workers included.
func (d *Driver) MoveAsync(m Movable, dst *Worker, done func(error)) error {
	if d.closed.Load() {
		return ErrClosed
	}
	if dst == nil || dst.d != d {
		return fmt.Errorf("driver: move: destination is not a worker of this driver")
	}
	src := m.Owner()
	if src == dst {
		done(nil)
		return nil
	}
	d.movingMu.Lock()
	if _, busy := d.moving[m]; busy {
		d.movingMu.Unlock()
		return ErrMoving
	}
	d.moving[m] = struct{}{}
	d.movingMu.Unlock()
	d.moves.Add(1)
	finish := func(err error) {
		d.movingMu.Lock()
		delete(d.moving, m)
		d.movingMu.Unlock()
		d.moves.Done()
		done(err)
	}
	err := src.Execute(func() {
		if m.Owner() != src {
			finish(ErrNotOwner)
			return
		}
		m.Detach(func(err error) {
			if err != nil {
				finish(err)
				return
			}
			src.Untrack(m)
			if err := dst.Execute(func() {
				dst.Track(m)
				m.Attach(dst)
				finish(nil)
			}); err != nil {
				finish(err)
			}
		})
	})
	if err != nil {
		d.movingMu.Lock()
		delete(d.moving, m)
		d.movingMu.Unlock()
		d.moves.Done()
		return err
	}
	return nil
}

// Rebalance moves work from the busiest workers to the idlest, judged by
// how much Load each movable added since the previous Rebalance. It starts
// at most maxMoves moves and returns how many it started; they complete
// asynchronously.
func (d *Driver) Rebalance(maxMoves int) int {
	type item struct {
		m     Movable
		delta uint64
	}
	load := make([]uint64, len(d.workers))
	items := make([][]item, len(d.workers))
	for i, w := range d.workers {
		w.mu.Lock()
		for m, last := range w.owned {
			cur := m.Load()
			delta := cur - last
			w.owned[m] = cur
			load[i] += delta
			items[i] = append(items[i], item{m, delta})
		}
		w.mu.Unlock()
		slices.SortFunc(items[i], func(a, b item) int { return int64Cmp(b.delta, a.delta) })
	}
	moved := 0
	for moved < maxMoves {
		hi, lo := 0, 0
		for i := range load {
			if load[i] > load[hi] {
				hi = i
			}
			if load[i] < load[lo] {
				lo = i
			}
		}
		gap := load[hi] - load[lo]
		// The best candidate moves at most half the gap, so the move cannot
		// just swap which worker is busiest.
		idx := slices.IndexFunc(items[hi], func(it item) bool { return it.delta > 0 && it.delta <= gap/2 })
		if hi == lo || idx < 0 {
			break
		}
		it := items[hi][idx]
		items[hi] = slices.Delete(items[hi], idx, idx+1)
		if d.MoveAsync(it.m, d.workers[lo], func(error) {}) != nil {
			break
		}
		load[hi] -= it.delta
		load[lo] += it.delta
		moved++
	}
	return moved
}

func int64Cmp(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
