package libp2p

import (
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// stream is what goconn.Conn sees of a connection: its libp2p stream, and
// the close protocol around it (doc.go).
type stream struct {
	network.Stream
	c *conn
}

// Closing bounds the flush of a Close.
func (s stream) Closing() {
	_ = s.SetWriteDeadline(time.Now().Add(s.c.t.cfg.CloseTimeout))
}

// Fin runs on the writer once everything written before Close went into
// the stream: close the write side (the peer reads EOF after the last
// byte), and bound the wait for the peer's own close.
func (s stream) Fin() error {
	if err := s.CloseWrite(); err != nil {
		return err
	}
	_ = s.SetReadDeadline(time.Now().Add(s.c.t.cfg.CloseTimeout))
	return nil
}

// Abort resets the stream.
func (s stream) Abort(string) { _ = s.Reset() }

// CloseError implements goconn.Stream.
func (s stream) CloseError(err error) error { return closeError(err) }

// ReadEnded finishes the stream as the close protocol (doc.go) says, and
// waits for the writer, so that no goroutine of the connection is left
// when it returns.
func (s stream) ReadEnded(err error) {
	c := s.c
	c.EndInput(closeError(err))
	c.StopOutput()
	if errors.Is(err, io.EOF) {
		// The peer closed its side: everything it sent is here. Whatever
		// this side still had to write is dropped; its own close (if it
		// has not closed yet) goes out at once.
		_ = s.Close()
	} else {
		// A reset, the connection's end, or (after our Close) the peer
		// not closing its side within CloseTimeout.
		_ = s.Reset()
	}
	c.WaitWriter()
}
