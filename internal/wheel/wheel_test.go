package wheel

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestWheelFiresInOrderAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := New(0)
	type entry struct {
		deadline uint64
		id       int
	}
	var want []entry
	var got []entry
	timers := make([]Timer, 2000)
	for i := range timers {
		d := uint64(rng.IntN(3000)) + 1
		want = append(want, entry{d, i})
		id := i
		w.Schedule(&timers[i], d, func() { got = append(got, entry{w.Now(), id}) })
	}
	// Stop every tenth timer.
	for i := 0; i < len(timers); i += 10 {
		if !w.Stop(&timers[i]) {
			t.Fatalf("Stop(%d) = false, want true", i)
		}
	}
	want = slices.DeleteFunc(want, func(e entry) bool { return e.id%10 == 0 })
	for now := uint64(0); now <= 3100; now += uint64(rng.IntN(7)) + 1 {
		w.Advance(now)
		for _, e := range got {
			if e.deadline > now {
				t.Fatalf("timer %d fired at %d, before its deadline", e.id, now)
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("fired %d timers, want %d", len(got), len(want))
	}
	if w.Len() != 0 {
		t.Fatalf("Len = %d after all fired", w.Len())
	}
}

func TestWheelNextIsLowerBound(t *testing.T) {
	w := New(100)
	if _, ok := w.Next(); ok {
		t.Fatal("Next on empty wheel reported a deadline")
	}
	var a, b Timer
	w.Schedule(&a, 100+Slots*3+5, func() {})
	w.Schedule(&b, 150, func() {})
	next, ok := w.Next()
	if !ok || next > 150 {
		t.Fatalf("Next = %d,%v; want at most 150,true", next, ok)
	}
	w.Advance(next)
	next, _ = w.Next()
	if next > 100+Slots*3+5 {
		t.Fatalf("Next = %d is after the only deadline", next)
	}
	// Following Next repeatedly reaches the far timer without skipping it.
	fired := false
	a.fn = func() { fired = true }
	for i := 0; i < 10 && !fired; i++ {
		n, ok := w.Next()
		if !ok {
			break
		}
		w.Advance(n)
	}
	if !fired {
		t.Fatal("far timer did not fire by following Next")
	}
}

func TestWheelCallbackStopsAndReschedules(t *testing.T) {
	w := New(0)
	var a, b, c Timer
	var order []string
	w.Schedule(&a, 5, func() {
		order = append(order, "a")
		w.Stop(&b)
		w.Schedule(&c, 20, func() { order = append(order, "c") })
	})
	w.Schedule(&b, 5, func() { order = append(order, "b") })
	w.Schedule(&c, 5, func() { order = append(order, "c-early") })
	w.Advance(10)
	w.Advance(30)
	if !slices.Equal(order, []string{"a", "c"}) {
		t.Fatalf("order = %v, want [a c]", order)
	}
}

func TestWheelLongJump(t *testing.T) {
	w := New(0)
	var a Timer
	n := 0
	w.Schedule(&a, 10, func() { n++ })
	w.Advance(1_000_000)
	if n != 1 {
		t.Fatalf("fired %d times after a long jump, want 1", n)
	}
}
