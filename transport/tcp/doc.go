// Package tcp is weft's TCP transport, built on gnet v2: connections are
// driven by driver workers' event loops, with no goroutine per connection.
//
// Dialling runs net.Dialer on the caller's goroutine and then hands the
// socket to the worker's loop; each Listener has one accept goroutine that
// places every accepted socket on the least busy worker. Addresses are
// /ip4|ip6/<ip>/tcp/<port>, optionally ending in /p2p/<peer-id> (ignored
// here: peers are the endpoint's business).
//
// A connection moves between workers (driver.Move) by waiting for gnet's
// send buffer to drain, duplicating the socket's descriptor and enrolling
// the duplicate on the destination loop; writes made meanwhile are held
// and flushed on arrival, and bytes the peer sends wait in the kernel, so
// nothing is lost, duplicated or reordered.
//
// gnet has no writable callback: a WritableHandler hears that the send
// buffer drained at most one timer tick (driver.Config.TimerResolution)
// late.
package tcp
