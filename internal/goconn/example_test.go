package goconn_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/internal/goconn"
	"github.com/weftnet/weft/transport"
)

// ioStream is a Stream over two io.Pipes, one per direction: a minimal
// close protocol (Fin closes the write side; a failure closes both).
type ioStream struct {
	r *io.PipeReader
	w *io.PipeWriter
	c *pipeConn
}

var errReset = errors.New("example: reset")

func (s ioStream) Read(b []byte) (int, error)  { return s.r.Read(b) }
func (s ioStream) Write(b []byte) (int, error) { return s.w.Write(b) }
func (s ioStream) Closing()                    {}
func (s ioStream) Fin() error                  { return s.w.Close() }
func (s ioStream) Abort(string) {
	_ = s.w.CloseWithError(errReset)
	_ = s.r.CloseWithError(errReset)
}

func (s ioStream) CloseError(err error) error {
	if errors.Is(err, io.EOF) {
		return err
	}
	return fmt.Errorf("%w: %w", transport.ErrReset, err)
}

// ReadEnded: the peer closed (or the stream broke); close this side too.
func (s ioStream) ReadEnded(err error) {
	s.c.EndInput(s.CloseError(err))
	s.c.StopOutput()
	_ = s.w.Close()
	s.c.WaitWriter()
}

// pipeConn is the transport's connection: a goconn.Conn and addresses.
type pipeConn struct{ goconn.Conn }

func (c *pipeConn) LocalAddr() ma.Multiaddr  { return nil }
func (c *pipeConn) RemoteAddr() ma.Multiaddr { return nil }

// recorder keeps what arrives and tells how the connection ended.
type recorder struct {
	data   []byte
	closed chan error
}

func newRecorder() *recorder { return &recorder{closed: make(chan error, 1)} }

func (r *recorder) OnData(_ transport.Conn, b []byte)   { r.data = append(r.data, b...) }
func (r *recorder) OnClose(_ transport.Conn, err error) { r.closed <- err }

func newConn(w *driver.Worker, r *io.PipeReader, wr *io.PipeWriter, h transport.Handler) (*pipeConn, error) {
	c := &pipeConn{}
	err := c.Init(goconn.Config{Name: "example", Self: c, Stream: ioStream{r, wr, c}, Worker: w,
		SendBufferBytes: 64 << 10, RecvBufferBytes: 64 << 10})
	if err != nil {
		return nil, err
	}
	c.SetHandler(h)
	w.Track(c)
	go c.ReadLoop()
	return c, nil
}

func Example() {
	d, err := driver.New(driver.Config{Workers: 1})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer d.Close(ctx)
	w := d.Pick()
	abR, abW := io.Pipe()
	baR, baW := io.Pipe()
	sender, receiver := newRecorder(), newRecorder()
	a, err := newConn(w, baR, abW, sender)
	if err != nil {
		panic(err)
	}
	if _, err := newConn(w, abR, baW, receiver); err != nil {
		panic(err)
	}
	_ = a.Post(func() { // Write runs on the worker
		_ = a.Write([]byte("hello"))
		_ = a.Close()
	})
	err = <-receiver.closed // OnClose ran after OnData, on the same worker
	fmt.Printf("received %q, then %v\n", receiver.data, err)
	fmt.Println("the sender's OnClose:", <-sender.closed)
	// Output:
	// received "hello", then EOF
	// the sender's OnClose: <nil>
}
