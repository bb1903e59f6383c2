// Package gate admits callbacks until it is closed, and lets Close wait
// for those admitted.
//
// A listener runs an accept callback for each connection; its Close must
// return only when no accept callback is running and none can start
// after. A Gate is that promise: every callback runs between Enter and
// Exit, and Close refuses new entries and then waits for the running
// ones. The loop a listener writes:
//
//	if !l.accepts.Enter() {
//		refuse(c) // the listener is closed
//		return
//	}
//	defer l.accepts.Exit()
//	l.accept(c)
//
// and its Close calls l.accepts.Close(). Stop closes without waiting, for
// a caller that holds locks a callback may need, or that has more to tear
// down before it waits.
package gate
