// weft patch: not part of gnet v2.10.0; see PATCHED.md.

//go:build !linux || poll_opt

package gnet

import (
	"errors"
	"runtime"
)

// SetUrgent is implemented only by the default Linux epoll poller; on
// other systems and with the poll_opt tag it returns an error and the
// loop is scheduled like any other.
func SetUrgent(EventLoop) error {
	return errors.New("gnet: SetUrgent is not supported on " + runtime.GOOS + " with this poller")
}
