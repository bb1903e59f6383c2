// weft patch: not part of gnet v2.10.0; see PATCHED.md.

//go:build linux && !poll_opt

package gnet

import "errors"

// SetUrgent marks the event loop el as urgent: while other event loops in
// the process keep every CPU busy, they check between busy rounds (at most
// every 30 µs, all loops together) whether el has I/O waiting and, if so,
// hand their CPU to it. Use it for a loop that carries latency-critical
// traffic (heartbeats, votes) beside loops that carry bulk transfers.
// Calling it again does nothing.
func SetUrgent(el EventLoop) error {
	l, ok := el.(*eventloop)
	if !ok {
		return errors.New("gnet: SetUrgent: not an event loop of this package")
	}
	return l.poller.SetUrgent()
}
