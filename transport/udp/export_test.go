package udp

import "net/netip"

// SetTestHookBound sets the function that runs between the bind and the
// connect of an accepted connection's socket (nil: none). Set it before
// Listen and clear it after Listener.Close.
func SetTestHookBound(fn func(remote netip.AddrPort)) { testHookBound = fn }
