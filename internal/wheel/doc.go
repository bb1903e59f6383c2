// Package wheel is a hashed timing wheel for one event loop.
//
// A Wheel is not safe for concurrent use: the driver gives each worker its
// own wheel and touches it only from that worker's goroutine. Time is an
// input (Advance takes the current tick), so the wheel is a pure data
// structure that tests drive without clocks. The loop its owner writes:
//
//	w := wheel.New(now)
//	w.Schedule(&t, now+5, fire) // fire at tick now+5
//	next, ok := w.Next()        // sleep until then (a lower bound)
//	w.Advance(currentTick)      // runs what is due
package wheel
