package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The peers share one framing: a 4-byte big-endian length, then the
// message. Readers and writers are bufio's, 64 KiB each, as the practical
// limit of a Go program on a stream is a goroutine with buffered I/O.
const (
	frameHeader = 4
	bufSize     = 64 << 10
)

// ErrFrameTooLarge is returned by a reader for a frame longer than its
// limit: the peer sent garbage or a message the benchmark did not ask for.
var ErrFrameTooLarge = errors.New("bench: frame too large")

// writeFrame appends one frame to w. The header is appended in w's own
// buffer (AvailableBuffer), so a frame costs no allocation.
func writeFrame(w *bufio.Writer, msg []byte) error {
	if w.Available() < frameHeader {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	hdr := binary.BigEndian.AppendUint32(w.AvailableBuffer(), uint32(len(msg)))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(msg)
	return err
}

// readFrame reads one frame into buf (grown as needed, up to max) and
// returns the message. The header is peeked, not copied, so a frame
// costs no allocation once buf is large enough.
func readFrame(r *bufio.Reader, buf []byte, max int) ([]byte, error) {
	hdr, err := r.Peek(frameHeader)
	if err != nil {
		if len(hdr) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr))
	if n > max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	_, _ = r.Discard(frameHeader)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err = io.ReadFull(r, buf)
	return buf, err
}

// serveStream runs one accepted stream of a goroutine-per-stream server
// (raw-tcp, quic-go, libp2p) until it ends: Sink counts messages, Echo
// writes each one back, flushing when no more input is buffered.
func serveStream(rw io.ReadWriter, spec ServerSpec, cnt *counter) error {
	br := bufio.NewReaderSize(rw, bufSize)
	var bw *bufio.Writer
	if spec.Mode == Echo {
		bw = bufio.NewWriterSize(rw, bufSize)
	}
	var buf []byte
	for {
		msg, err := readFrame(br, buf, spec.MaxMessageBytes)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		buf = msg
		cnt.add(1)
		if bw == nil {
			continue
		}
		if err := writeFrame(bw, msg); err != nil {
			return err
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
}

// streamConn is a Conn over a byte stream with the shared framing.
type streamConn struct {
	rwc io.ReadWriteCloser
	bw  *bufio.Writer
	br  *bufio.Reader
	buf []byte
	max int
	// closeFn closes the stream; nil means rwc.Close.
	closeFn func() error
}

// newStreamConn returns a Conn over rwc; its reader is made on the first
// RoundTrip, so that a sending connection holds only its writer.
func newStreamConn(rwc io.ReadWriteCloser, max int) *streamConn {
	return &streamConn{rwc: rwc, bw: bufio.NewWriterSize(rwc, bufSize), max: max}
}

// Send implements Conn: n frames into the buffered writer, then a flush.
func (c *streamConn) Send(ctx context.Context, msg []byte, n int) error {
	for range n {
		if err := writeFrame(c.bw, msg); err != nil {
			return err
		}
	}
	return c.bw.Flush()
}

// RoundTrip implements Conn.
func (c *streamConn) RoundTrip(ctx context.Context, msg []byte) error {
	if err := writeFrame(c.bw, msg); err != nil {
		return err
	}
	if err := c.bw.Flush(); err != nil {
		return err
	}
	if c.br == nil {
		c.br = bufio.NewReaderSize(c.rwc, bufSize)
	}
	got, err := readFrame(c.br, c.buf, c.max)
	c.buf = got
	if err == nil && len(got) != len(msg) {
		err = fmt.Errorf("bench: echo of %d bytes came back as %d", len(msg), len(got))
	}
	return err
}

// Close implements Conn.
func (c *streamConn) Close() error {
	if c.closeFn != nil {
		return c.closeFn()
	}
	return c.rwc.Close()
}

// streamGroup tracks the goroutines and streams of a goroutine-per-stream
// server so that Close can end them all and wait.
type streamGroup struct {
	mu      sync.Mutex
	streams map[io.Closer]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// serve runs fn for a new stream on its own goroutine, unless the group is
// closed (then the stream is closed at once).
func (g *streamGroup) serve(s io.Closer, fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		_ = s.Close()
		return
	}
	if g.streams == nil {
		g.streams = make(map[io.Closer]struct{})
	}
	g.streams[s] = struct{}{}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn()
		g.mu.Lock()
		delete(g.streams, s)
		g.mu.Unlock()
		_ = s.Close()
	}()
}

// closeAll closes every stream and waits for their goroutines.
func (g *streamGroup) closeAll() {
	g.mu.Lock()
	g.closed = true
	for s := range g.streams {
		_ = s.Close()
	}
	g.mu.Unlock()
	g.wg.Wait()
}

// goWait runs fn on a goroutine that closeAll also waits for (an accept
// loop).
func (g *streamGroup) goWait(fn func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn()
	}()
}
