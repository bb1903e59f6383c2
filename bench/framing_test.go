package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for _, m := range []string{"", "a", strings.Repeat("x", 70000)} {
		if err := writeFrame(w, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	r := bufio.NewReader(&buf)
	for _, want := range []int{0, 1, 70000} {
		got, err := readFrame(r, nil, 70000)
		if err != nil || len(got) != want {
			t.Fatalf("readFrame: %d bytes, %v; want %d", len(got), err, want)
		}
	}
	if _, err := readFrame(r, nil, 10); !errors.Is(err, io.EOF) {
		t.Errorf("at the end: %v, want EOF", err)
	}
	huge := binary.BigEndian.AppendUint32(nil, 1<<31)
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(huge)), nil, 1<<20); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("a 2 GiB header: %v, want ErrFrameTooLarge", err)
	}
	if _, err := readFrame(bufio.NewReader(bytes.NewReader([]byte{0, 0, 0, 9, 1})), nil, 100); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a truncated frame: %v, want ErrUnexpectedEOF", err)
	}
}

// TestServeStreamEcho runs the peers' server loop over a pipe: echoes come
// back whole and counted, and an oversized frame ends the stream with
// ErrFrameTooLarge instead of an allocation.
func TestServeStreamEcho(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	cnt := newCounter()
	done := make(chan error, 1)
	go func() { done <- serveStream(b, ServerSpec{Mode: Echo, MaxMessageBytes: 100}, cnt) }()
	c := newStreamConn(a, 100)
	for range 3 {
		if err := c.RoundTrip(context.Background(), []byte("ping")); err != nil {
			t.Fatal(err)
		}
	}
	if cnt.Received() != 3 {
		t.Errorf("received %d, want 3", cnt.Received())
	}
	if _, err := a.Write(binary.BigEndian.AppendUint32(nil, 101)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("serveStream: %v, want ErrFrameTooLarge", err)
	}
	b.Close()
}

func TestCounterWait(t *testing.T) {
	c := newCounter()
	go func() {
		for range 10 {
			c.add(1)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitReceived(ctx, 10); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if err := c.WaitReceived(short, 11); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for more than arrives: %v", err)
	}
}

// TestServeChildBadInput feeds the child protocol garbage and requests
// for servers that do not exist: each gets an error reply, none a panic.
func TestServeChildBadInput(t *testing.T) {
	in := strings.Join([]string{
		`not json`,
		`{"op":"received","id":7}`,
		`{"op":"listen"}`,
		`{"op":"listen","spec":{"variant":{"system":"zeromq"},"mode":1,"max_message_bytes":64}}`,
		`{"op":"fly","id":1}`,
		`{"op":"listen","spec":{"variant":{"system":"raw-tcp","transport":"tcp","security":"plaintext"},"mode":1,"max_message_bytes":64}}`,
		`{"op":"wait","id":1,"n":0,"timeout_ns":1000000}`,
		`{"op":"close","id":1}`,
		`{"op":"close","id":1}`,
	}, "\n") + "\n"
	var out bytes.Buffer
	if err := ServeChild(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	wantErr := []bool{true, true, true, true, true, false, false, false, true}
	sc := bufio.NewScanner(&out)
	i := 0
	for ; sc.Scan(); i++ {
		hasErr := strings.Contains(sc.Text(), `"error"`)
		if i < len(wantErr) && hasErr != wantErr[i] {
			t.Errorf("reply %d: %s; want error=%v", i, sc.Text(), wantErr[i])
		}
	}
	if i != len(wantErr) {
		t.Errorf("%d replies, want %d", i, len(wantErr))
	}
}

func TestServeChildLineTooLong(t *testing.T) {
	in := strings.Repeat("x", maxChildLine+10) + "\n"
	if err := ServeChild(strings.NewReader(in), io.Discard); err == nil {
		t.Error("a line over the limit: no error")
	}
}
