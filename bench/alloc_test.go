package bench

import (
	"bufio"
	"bytes"
	"testing"
)

// TestFramingAllocs checks that the peers' framing costs no allocation
// per message: a baseline that allocated would be slower than the
// practical limit it stands for.
func TestFramingAllocs(t *testing.T) {
	var stream bytes.Buffer
	w := bufio.NewWriterSize(&stream, bufSize)
	msg := make([]byte, 64)
	for range 1000 {
		_ = writeFrame(w, msg)
	}
	_ = w.Flush()
	data := stream.Bytes()
	r := bufio.NewReaderSize(bytes.NewReader(data), bufSize)
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(bytes.NewReader(data))
		for range 1000 {
			if _, err := readFrame(r, buf, 64); err != nil {
				t.Fatal(err)
			}
		}
		w.Reset(&stream)
		stream.Reset()
		for range 1000 {
			_ = writeFrame(w, msg)
		}
	})
	if allocs > 2 { // the two bytes.Readers
		t.Errorf("%.0f allocations per 1000 frames read and written", allocs)
	}
}
