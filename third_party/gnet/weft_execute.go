// weft patch: not part of gnet v2.10.0; see PATCHED.md.

//go:build !windows

package gnet

import (
	"errors"

	errorx "github.com/panjf2000/gnet/v2/pkg/errors"
	"github.com/panjf2000/gnet/v2/pkg/queue"
)

// ExecuteFunc runs fn(param) on the event loop el, as EventLoop.Execute
// runs a Runnable, without Execute's allocations (a closure around the
// Runnable on every call, and usually the Runnable itself): pass a
// function made once and the per-call value as param. Tasks run in the
// order they were handed over, interleaved with Execute's.
func ExecuteFunc(el EventLoop, fn func(param any) error, param any) error {
	l, ok := el.(*eventloop)
	if !ok {
		return errors.New("gnet: ExecuteFunc: not an event loop of this package")
	}
	if l.engine.isShutdown() {
		return errorx.ErrEngineInShutdown
	}
	if fn == nil {
		return errorx.ErrNilRunnable
	}
	return l.poller.Trigger(queue.LowPriority, fn, param)
}
