package endpointtest

import (
	"context"
	"sync"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// recorder is a transport that remembers the connections it dials and
// accepts, so that the suite can kill the one under an endpoint without
// touching the endpoint. It hands out the inner transport's connections
// themselves (the driver tracks those objects), and wraps only the
// AcceptFunc.
type recorder struct {
	transport.Transport

	mu       sync.Mutex
	dialed   []transport.Conn
	accepted []transport.Conn
}

func newRecorder(tr transport.Transport) *recorder { return &recorder{Transport: tr} }

// Dial implements transport.Transport.
func (r *recorder) Dial(ctx context.Context, addr ma.Multiaddr, w *driver.Worker, h transport.Handler) (transport.Conn, error) {
	c, err := r.Transport.Dial(ctx, addr, w, h)
	if err == nil {
		r.add(&r.dialed, c)
	}
	return c, err
}

// Listen implements transport.Transport.
func (r *recorder) Listen(addr ma.Multiaddr, d *driver.Driver, accept transport.AcceptFunc) (transport.Listener, error) {
	return r.Transport.Listen(addr, d, func(c transport.Conn) transport.Handler {
		r.add(&r.accepted, c)
		return accept(c)
	})
}

// add records c, forgetting connections that have closed.
func (r *recorder) add(list *[]transport.Conn, c transport.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(*list) >= 64 {
		kept := (*list)[:0]
		for _, old := range *list {
			if live(old) {
				kept = append(kept, old)
			}
		}
		clear((*list)[len(kept):])
		*list = kept
	}
	*list = append(*list, c)
}

// latest returns the most recent live connection the recorder dialed
// (accepted false) or accepted, or nil.
func (r *recorder) latest(accepted bool) transport.Conn {
	r.mu.Lock()
	list := r.dialed
	if accepted {
		list = r.accepted
	}
	list = append([]transport.Conn(nil), list...)
	r.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		if live(list[i]) {
			return list[i]
		}
	}
	return nil
}

// all returns every connection recorded, live or not.
func (r *recorder) all() []transport.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(append([]transport.Conn(nil), r.dialed...), r.accepted...)
}

// live reports whether c is still open: Post fails once it has closed.
func live(c transport.Conn) bool { return c.Post(func() {}) == nil }
