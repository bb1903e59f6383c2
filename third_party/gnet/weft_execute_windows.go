// weft patch: not part of gnet v2.10.0; see PATCHED.md.

package gnet

import "context"

// ExecuteFunc runs fn(param) on the event loop el. On Windows it is
// EventLoop.Execute with a closure.
func ExecuteFunc(el EventLoop, fn func(param any) error, param any) error {
	return el.Execute(context.Background(), RunnableFunc(func(context.Context) error { return fn(param) }))
}
