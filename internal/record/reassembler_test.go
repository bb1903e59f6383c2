package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"
)

// naiveMessages parses a whole log at once: the reference for Reassembler.
func naiveMessages(log []byte) ([][]byte, error) {
	var msgs [][]byte
	for len(log) > 0 {
		n, k := binary.Uvarint(log)
		if k <= 0 || uint64(len(log)-k) < n {
			return msgs, errors.New("incomplete")
		}
		msgs = append(msgs, log[k:k+int(n)])
		log = log[k+int(n):]
	}
	return msgs, nil
}

func newReassembler(t testing.TB, limit int) *Reassembler {
	t.Helper()
	r, err := NewReassembler(limit)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// feedAll feeds log split at cuts, checking the byte accounting after each
// Feed, and returns copies of the delivered messages.
func feedAll(t *testing.T, r *Reassembler, log []byte, cuts []int) [][]byte {
	t.Helper()
	var got [][]byte
	prev := 0
	for _, c := range append(cuts, len(log)) {
		err := r.Feed(log[prev:c], func(msg []byte) error {
			got = append(got, bytes.Clone(msg))
			return nil
		})
		if err != nil {
			t.Fatalf("Feed(log[%d:%d]): %v", prev, c, err)
		}
		if r.Delivered()+uint64(r.Pending()) != uint64(c) {
			t.Fatalf("after %d bytes: Delivered %d + Pending %d", c, r.Delivered(), r.Pending())
		}
		prev = c
	}
	return got
}

func TestReassemblerAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	for trial := range 200 {
		var log []byte
		for range rng.IntN(100) {
			n := rng.IntN(300)
			switch rng.IntN(10) {
			case 0:
				n = 0
			case 1:
				n = rng.IntN(20000) // 3-byte length prefix, spans chunks
			}
			log = AppendMessage(log, randBytes(rng, n))
		}
		want, err := naiveMessages(log)
		if err != nil {
			t.Fatal(err)
		}
		var cuts []int
		maxChunk := 1 + rng.IntN(1<<rng.IntN(17))
		for c := rng.IntN(maxChunk); c < len(log); c += rng.IntN(maxChunk + 1) {
			cuts = append(cuts, c) // repeated cuts give empty chunks too
		}
		r := newReassembler(t, 100000)
		got := feedAll(t, r, log, cuts)
		equalRecords(t, got, want)
		if r.Messages() != uint64(len(want)) || r.Delivered() != uint64(len(log)) || r.Pending() != 0 {
			t.Fatalf("trial %d: Messages %d Delivered %d Pending %d; want %d, %d, 0",
				trial, r.Messages(), r.Delivered(), r.Pending(), len(want), len(log))
		}
	}
}

func TestReassemblerZeroCopyInsideChunk(t *testing.T) {
	log := AppendMessage(AppendMessage(nil, []byte("hello")), []byte("world"))
	r := newReassembler(t, 100)
	base := uintptr(unsafe.Pointer(&log[0]))
	err := r.Feed(log, func(msg []byte) error {
		if p := uintptr(unsafe.Pointer(&msg[0])); p < base || p >= base+uintptr(len(log)) {
			t.Errorf("message %q was copied", msg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReassemblerVarintSplitEverywhere(t *testing.T) {
	msg := bytes.Repeat([]byte{'m'}, 20000) // 3-byte length prefix
	log := AppendMessage(AppendMessage(nil, msg), nil)
	log = AppendMessage(log, []byte("tail"))
	for a := 0; a <= 6; a++ {
		for b := a; b <= 6; b++ {
			r := newReassembler(t, len(msg))
			got := feedAll(t, r, log, []int{a, b, 20003, 20004})
			equalRecords(t, got, [][]byte{msg, {}, []byte("tail")})
		}
	}
}

func TestReassemblerZeroLengthMessages(t *testing.T) {
	log := []byte{0, 0, 0, 1, 'x', 0}
	for cut := range len(log) + 1 {
		r := newReassembler(t, 10)
		got := feedAll(t, r, log, []int{cut})
		equalRecords(t, got, [][]byte{{}, {}, {}, []byte("x"), {}})
	}
}

func TestReassemblerRejectsOversizedBeforeAllocating(t *testing.T) {
	for _, declared := range []uint64{MaxMessageBytesLimit + 1, 1 << 40, math.MaxUint64} {
		log := binary.AppendUvarint(nil, declared)
		for cut := range len(log) + 1 {
			r := newReassembler(t, MaxMessageBytesLimit)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := r.Feed(log[:cut], nil)
			if err == nil {
				err = r.Feed(log[cut:], nil)
			}
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("declared %d: %v, want ErrTooLarge", declared, err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<16 {
				t.Fatalf("declared %d: allocated %d bytes before rejecting", declared, grew)
			}
		}
	}
	r := newReassembler(t, 1000)
	err := r.Feed(binary.AppendUvarint(nil, 1001), nil)
	if err == nil || err.Error() != "record: message of 1001 bytes exceeds MaxMessageBytes 1000" {
		t.Fatalf("error = %v", err)
	}
	if r.Feed([]byte{0}, nil) != err {
		t.Fatal("reassembler not dead after error")
	}
}

func TestReassemblerOverlongVarint(t *testing.T) {
	for _, log := range [][]byte{
		bytes.Repeat([]byte{0x80}, 11),
		append(bytes.Repeat([]byte{0xff}, 9), 0x02), // 10th byte overflows 64 bits
	} {
		for cut := range len(log) + 1 {
			r := newReassembler(t, 100)
			err := r.Feed(log[:cut], nil)
			if err == nil {
				err = r.Feed(log[cut:], nil)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("% x cut at %d: %v, want ErrMalformed", log, cut, err)
			}
		}
	}
}

func TestReassemblerBufferReuseAndBound(t *testing.T) {
	r := newReassembler(t, 5000)
	msg := bytes.Repeat([]byte{'z'}, 4000)
	log := AppendMessage(nil, msg)
	nop := func([]byte) error { return nil }
	step := func() {
		for i := 0; i < len(log); i += 1000 {
			if err := r.Feed(log[i:min(i+1000, len(log))], nop); err != nil {
				t.Fatal(err)
			}
			if r.Pending() > 5000+binary.MaxVarintLen64 {
				t.Fatalf("Pending %d", r.Pending())
			}
		}
	}
	step()
	if a := testing.AllocsPerRun(50, step); a != 0 {
		t.Fatalf("spanning messages of a size seen before: %v allocs", a)
	}
}

func TestReassemblerCallbackErrorKills(t *testing.T) {
	r := newReassembler(t, 10)
	stop := errors.New("stop")
	calls := 0
	log := []byte{1, 'a', 1, 'b'}
	if err := r.Feed(log, func([]byte) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("Feed = %v after %d calls", err, calls)
	}
	if err := r.Feed(log, func([]byte) error { calls++; return nil }); err != stop || calls != 1 {
		t.Fatalf("dead reassembler: Feed = %v, %d calls", err, calls)
	}
}

func TestNewReassemblerLimits(t *testing.T) {
	for _, n := range []int{-1, 0, MaxMessageBytesLimit + 1} {
		if _, err := NewReassembler(n); err == nil {
			t.Errorf("NewReassembler(%d) accepted", n)
		}
	}
	if r, err := NewReassembler(MaxMessageBytesLimit); err != nil || r.MaxMessageBytes() != MaxMessageBytesLimit {
		t.Fatal(err)
	}
}

func TestMessageOverhead(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 1 << 21, MaxMessageBytesLimit} {
		if got, want := MessageOverhead(n), len(binary.AppendUvarint(nil, uint64(n))); got != want {
			t.Errorf("MessageOverhead(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestReassemblerKeep: Keep hands over only a large message assembled in
// the Reassembler's own buffer; a kept message stays intact while later
// ones are assembled.
func TestReassemblerKeep(t *testing.T) {
	r, err := NewReassembler(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("kept"), (1<<20)/4)
	small := []byte("small")
	var log []byte
	log = AppendMessage(log, big)
	log = AppendMessage(log, small)
	log = AppendMessage(log, bytes.Repeat([]byte("next"), (1<<20)/4))
	var kept [][]byte
	var keeps []bool
	for len(log) > 0 {
		k := min(len(log), 64<<10) // big messages span chunks
		if err := r.Feed(log[:k], func(msg []byte) error {
			ok := r.Keep()
			keeps = append(keeps, ok)
			if ok {
				kept = append(kept, msg)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		log = log[k:]
	}
	if want := []bool{true, false, true}; !slices.Equal(keeps, want) {
		t.Fatalf("Keep returned %v, want %v", keeps, want)
	}
	if !bytes.Equal(kept[0], big) {
		t.Fatal("the first kept message changed while the next was assembled")
	}
	if r.Keep() {
		t.Fatal("Keep outside deliver returned true")
	}
}

// TestReassemblerRoom: log bytes written where Room points and fed from
// there assemble the same messages as bytes fed from elsewhere; Room
// offers space only inside the body of a message in its own buffer.
func TestReassemblerRoom(t *testing.T) {
	r, err := NewReassembler(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	msgs := [][]byte{bytes.Repeat([]byte("abcdefg"), 150_000), []byte("tiny"), bytes.Repeat([]byte("xyz"), 400_000)}
	var log []byte
	for _, m := range msgs {
		log = AppendMessage(log, m)
	}
	var got [][]byte
	deliver := func(msg []byte) error { got = append(got, bytes.Clone(msg)); return nil }
	inPlace := 0
	for len(log) > 0 {
		k := min(len(log), 60_000)
		if room := r.Room(k); room != nil {
			if len(room) != 0 || cap(room) != k {
				t.Fatalf("Room(%d) = len %d cap %d", k, len(room), cap(room))
			}
			room = append(room, log[:k]...)
			if err := r.Feed(room, deliver); err != nil {
				t.Fatal(err)
			}
			inPlace++
		} else if err := r.Feed(log[:k], deliver); err != nil {
			t.Fatal(err)
		}
		log = log[k:]
	}
	if len(got) != len(msgs) {
		t.Fatalf("%d messages delivered, want %d", len(got), len(msgs))
	}
	for i := range msgs {
		if !bytes.Equal(got[i], msgs[i]) {
			t.Fatalf("message %d differs", i)
		}
	}
	if inPlace < 20 {
		t.Fatalf("only %d of %d chunks went in place", inPlace, (len(msgs[0])+len(msgs[2]))/60_000)
	}
	if r.Room(1) != nil {
		t.Fatal("Room between messages")
	}
}
