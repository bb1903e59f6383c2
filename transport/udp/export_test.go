package udp

import (
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/weftnet/weft/transport"
)

// SetTestHookBound sets the function that runs between the bind and the
// connect of an accepted connection's socket (nil: none). Set it before
// Listen and clear it after Listener.Close.
func SetTestHookBound(fn func(remote netip.AddrPort)) { testHookBound = fn }

// GSO reports whether c hands runs of datagrams to the kernel to segment
// (on c's worker).
func GSO(c transport.Conn) bool { return c.(*conn).gso }

// Validated reports whether the listener's connection c has validated its
// remote address (on c's worker).
func Validated(c transport.Conn) bool { return c.(*conn).validated }

// DisableChecksum sets SO_NO_CHECK on c's socket (on c's worker): its
// datagrams go without UDP checksums, and the kernel refuses to segment
// them (EINVAL).
func DisableChecksum(c transport.Conn) error {
	return unix.SetsockoptInt(c.(*conn).fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1)
}
