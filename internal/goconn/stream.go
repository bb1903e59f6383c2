package goconn

import (
	"errors"
	"fmt"
	"io"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/transport"
)

// Stream is what a transport hands a Conn: a blocking byte stream and the
// transport's close protocol around it. Each method says which goroutine
// calls it; none is called on the worker while it could block.
type Stream interface {
	// Read is called by the reader goroutine only. An error ends the
	// reading: ReadEnded follows.
	io.Reader
	// Write is called by the writer goroutine only, one chunk at a time.
	io.Writer
	// Closing runs once, in Close (any goroutine), before the writer
	// starts flushing: bound the flush (a write deadline), start timers.
	Closing()
	// Fin runs on the writer once everything written before Close went
	// into the stream: end the write side, bound the wait for the peer's
	// end. An error fails the connection as a failed Write does.
	Fin() error
	// ReadEnded runs on the reader goroutine once Read failed with err. It
	// ends the connection as the transport's close protocol says (with
	// Conn.EndInput and Conn.StopOutput), waits for the writer
	// (Conn.WaitWriter) and releases what the stream held.
	ReadEnded(err error)
	// Abort resets the stream (and what must die with it) at once, from
	// any goroutine: after Kill, or a failed Write or Fin.
	Abort(why string)
	// CloseError returns what OnClose reports for a failed Write or Fin.
	CloseError(err error) error
}

// TryWriter is a Stream that can take a small write without blocking
// (quic-go's TryWriteAll). A Conn then hands a small Write straight to the
// stream from the worker when nothing is queued before it, skipping the
// writer goroutine: a request or a reply costs one goroutine hop less.
type TryWriter interface {
	// TryWrite takes b whole and reports true, or takes nothing and
	// reports false (no room now, or the stream failed: the write then
	// goes through the writer, which meets the failure). It must not
	// block, and must not keep b.
	TryWrite(b []byte) bool
}

// Defaults of Config.
const (
	DefaultChunkBytes = 64 << 10
	// DefaultInlineBytes is the largest write that goes to a TryWriter
	// inline: about one QUIC packet's payload, so that quic-go sends it
	// as one frame without splitting (and copying) it.
	DefaultInlineBytes = 1 << 10
	// DefaultInlineBudget is how many bytes inline writes may hand to the
	// stream before the writer goroutine runs again: a TryWriter queues
	// them until its sender takes them, and renewing the budget only once
	// a blocking Write returned (so the sender took what was queued)
	// bounds that queue.
	DefaultInlineBudget = 8 << 10
)

// Config configures a Conn. Zero values mean the default beside them.
type Config struct {
	// Name starts the Conn's error messages ("quic", "libp2p"). Required.
	Name string
	// Self is the transport's connection, which embeds the Conn: what
	// handlers, accept functions and the worker's Track see. Required.
	Self transport.Conn
	// Stream is the stream under the Conn. Required.
	Stream Stream
	// Worker owns the Conn at first. Required.
	Worker *driver.Worker
	// SendBufferBytes is how much written data Buffered does not count.
	// Required.
	SendBufferBytes int
	// RecvBufferBytes bounds what was read and not yet handed to the
	// handler; beyond it the reader stops reading. Required.
	RecvBufferBytes int
	// ChunkBytes is the size of the outbox's chunks: what one Stream.Write
	// takes at most. Default DefaultChunkBytes.
	ChunkBytes int
	// InlineBytes and InlineBudget bound inline writes to a TryWriter;
	// default DefaultInlineBytes and DefaultInlineBudget; negative turns
	// inline writes off.
	InlineBytes, InlineBudget int
}

// validate fills in the defaults and rejects what is missing.
func (cfg *Config) validate() error {
	switch {
	case cfg.Name == "" || cfg.Self == nil || cfg.Stream == nil || cfg.Worker == nil:
		return errors.New("goconn: Config needs Name, Self, Stream and Worker")
	case cfg.SendBufferBytes <= 0 || cfg.RecvBufferBytes <= 0:
		return fmt.Errorf("goconn: Config.SendBufferBytes (%d) and RecvBufferBytes (%d) must be positive", cfg.SendBufferBytes, cfg.RecvBufferBytes)
	case cfg.ChunkBytes < 0:
		return fmt.Errorf("goconn: Config.ChunkBytes is %d; it must not be negative", cfg.ChunkBytes)
	}
	if cfg.ChunkBytes == 0 {
		cfg.ChunkBytes = DefaultChunkBytes
	}
	if cfg.InlineBytes == 0 {
		cfg.InlineBytes = DefaultInlineBytes
	}
	if cfg.InlineBudget == 0 {
		cfg.InlineBudget = DefaultInlineBudget
	}
	return nil
}
