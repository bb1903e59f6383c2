package record

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/flynn/noise"
)

// sealStream seals each plaintext into one stream.
func sealStream(t *testing.T, s *StreamSealer, pts [][]byte) []byte {
	t.Helper()
	var wire []byte
	for _, pt := range pts {
		var err error
		if wire, err = s.Seal(wire, pt); err != nil {
			t.Fatal(err)
		}
	}
	return wire
}

// feedChunks feeds wire to o split at the given cut points and returns the
// plaintexts (copied), checking the buffering bound after every Feed.
func feedChunks(t *testing.T, o *StreamOpener, wire []byte, cuts []int) [][]byte {
	t.Helper()
	var got [][]byte
	prev := 0
	for _, c := range append(cuts, len(wire)) {
		err := o.Feed(wire[prev:c], func(pt []byte) error {
			got = append(got, bytes.Clone(pt))
			return nil
		})
		if err != nil {
			t.Fatalf("Feed(wire[%d:%d]): %v", prev, c, err)
		}
		if o.Buffered() >= MaxStreamRecord {
			t.Fatalf("opener buffers %d bytes", o.Buffered())
		}
		prev = c
	}
	return got
}

func equalRecords(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: got %d bytes, want %d", i, len(got[i]), len(want[i]))
		}
	}
}

func TestStreamSplitAtEveryByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	pts := [][]byte{randBytes(rng, 40), {}, randBytes(rng, 1), randBytes(rng, 200), randBytes(rng, 17)}
	for _, m := range cipherModes {
		t.Run(m.name, func(t *testing.T) {
			sc, rc := modePair(t, m.fn)
			wire := sealStream(t, NewStreamSealer(sc), pts)
			// Two chunks, cut at every position.
			for cut := 0; cut <= len(wire); cut++ {
				_, rc := modePair(t, m.fn)
				equalRecords(t, feedChunks(t, NewStreamOpener(rc), wire, []int{cut}), pts)
			}
			// One byte at a time.
			cuts := make([]int, len(wire))
			for i := range cuts {
				cuts[i] = i
			}
			equalRecords(t, feedChunks(t, NewStreamOpener(rc), wire, cuts), pts)
		})
	}
}

func TestStreamRandomChunking(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, m := range cipherModes {
		t.Run(m.name, func(t *testing.T) {
			sc, rc := modePair(t, m.fn)
			s, o := NewStreamSealer(sc), NewStreamOpener(rc)
			for range 20 {
				var pts [][]byte
				for range 1 + rng.IntN(30) {
					n := rng.IntN(3000)
					if rng.IntN(20) == 0 {
						n = MaxPlaintext
					}
					pts = append(pts, randBytes(rng, n))
				}
				wire := sealStream(t, s, pts)
				var cuts []int
				for c := rng.IntN(70000); c < len(wire); c += 1 + rng.IntN(70000) {
					cuts = append(cuts, c)
				}
				equalRecords(t, feedChunks(t, o, wire, cuts), pts)
			}
		})
	}
}

func TestStreamTamperedRecordKillsOpener(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	pts := [][]byte{randBytes(rng, 100), randBytes(rng, 100)}
	sc, _ := cipherPair(t, cipherModes[0].fn)
	wire := sealStream(t, NewStreamSealer(sc), pts)
	rec := StreamHeaderLen + 100 + TagLen
	// Flip each bit of the first record's ciphertext and tag.
	for bit := StreamHeaderLen * 8; bit < rec*8; bit++ {
		_, rc := cipherPair(t, cipherModes[0].fn)
		o := NewStreamOpener(rc)
		mut := bytes.Clone(wire)
		mut[bit/8] ^= 1 << (bit % 8)
		calls := 0
		err := o.Feed(mut, func([]byte) error { calls++; return nil })
		if !errors.Is(err, ErrAuth) || calls != 0 {
			t.Fatalf("bit %d: Feed = %v after %d records, want ErrAuth", bit, err, calls)
		}
		if err2 := o.Feed(wire[rec:], func([]byte) error { calls++; return nil }); err2 != err || calls != 0 {
			t.Fatalf("bit %d: dead opener: Feed = %v, %d records", bit, err2, calls)
		}
		if o.Err() != err || o.Buffered() != 0 {
			t.Fatalf("bit %d: Err = %v, Buffered = %d", bit, o.Err(), o.Buffered())
		}
	}
}

func TestStreamReplayAndReorderFail(t *testing.T) {
	for _, m := range cipherModes[:2] {
		t.Run(m.name, func(t *testing.T) {
			sc, rc := cipherPair(t, m.fn)
			s := NewStreamSealer(sc)
			r1, _ := s.Seal(nil, []byte("one"))
			r2, _ := s.Seal(nil, []byte("two"))
			o := NewStreamOpener(rc)
			nop := func([]byte) error { return nil }
			if err := o.Feed(r1, nop); err != nil {
				t.Fatal(err)
			}
			if err := o.Feed(r1, nop); !errors.Is(err, ErrAuth) {
				t.Fatalf("replayed record: %v, want ErrAuth", err)
			}
			_, rc = cipherPair(t, m.fn)
			if err := NewStreamOpener(rc).Feed(r2, nop); !errors.Is(err, ErrAuth) {
				t.Fatalf("reordered record: %v, want ErrAuth", err)
			}
		})
	}
}

func TestStreamMalformedLengths(t *testing.T) {
	nop := func([]byte) error { return nil }
	_, rc := cipherPair(t, cipherModes[0].fn)
	if err := NewStreamOpener(rc).Feed([]byte{0, 15}, nop); !errors.Is(err, ErrMalformed) {
		t.Fatalf("keyed record shorter than tag: %v", err)
	}
	if err := NewStreamOpener(nil).Feed([]byte{0xff, 0xff}, nop); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("plaintext record above MaxPlaintext: %v", err)
	}
	if _, err := NewStreamSealer(nil).Seal(nil, make([]byte, MaxPlaintext+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Seal above MaxPlaintext: %v", err)
	}
}

func TestStreamCallbackErrorStops(t *testing.T) {
	wire := sealStream(t, NewStreamSealer(nil), [][]byte{[]byte("a"), []byte("b")})
	o := NewStreamOpener(nil)
	stop := errors.New("stop")
	calls := 0
	if err := o.Feed(wire, func([]byte) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("Feed = %v after %d calls, want stop after 1", err, calls)
	}
	if err := o.Feed(wire, func([]byte) error { calls++; return nil }); err != stop || calls != 1 {
		t.Fatalf("dead opener: Feed = %v, %d calls", err, calls)
	}
}

func TestStreamSealInPlace(t *testing.T) {
	for _, m := range cipherModes {
		sc, rc := modePair(t, m.fn)
		msg := []byte("sealed where it was built")
		buf := make([]byte, 3, 3+StreamHeaderLen+len(msg)+TagLen)
		copy(buf[3+StreamHeaderLen:cap(buf)], msg)
		pt := buf[3+StreamHeaderLen : 3+StreamHeaderLen+len(msg)]
		wire, err := NewStreamSealer(sc).Seal(buf, pt)
		if err != nil {
			t.Fatal(err)
		}
		if &wire[0] != &buf[0] {
			t.Fatalf("%s: in-place Seal reallocated", m.name)
		}
		got := feedChunks(t, NewStreamOpener(rc), wire[3:], nil)
		equalRecords(t, got, [][]byte{msg})
	}
}

func TestStreamSteadyStateAllocs(t *testing.T) {
	for _, m := range cipherModes {
		sc, rc := modePair(t, m.fn)
		s, o := NewStreamSealer(sc), NewStreamOpener(rc)
		pt := make([]byte, 1000)
		wire := make([]byte, 0, 2*MaxStreamRecord)
		nop := func([]byte) error { return nil }
		step := func() {
			w, err := s.Seal(wire[:0], pt)
			if err != nil {
				t.Fatal(err)
			}
			// Split so that the partial-record path runs too.
			if err := o.Feed(w[:500], nop); err != nil {
				t.Fatal(err)
			}
			if err := o.Feed(w[500:], nop); err != nil {
				t.Fatal(err)
			}
		}
		step()
		// flynn/noise's AEAD wrapper allocates its 12-byte nonce on each
		// Encrypt and Decrypt; the record layer's aead does not.
		if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
			t.Errorf("%s: seal+open: %v allocs, want 0", m.name, allocs)
		}
	}
}

// TestStreamOpenerInto: records decrypt into the buffer Into offers, for
// records whole in a chunk and records split across chunks alike.
func TestStreamOpenerInto(t *testing.T) {
	send, recv := cipherPair(t, noise.CipherAESGCM)
	s, o := NewStreamSealer(send), NewStreamOpener(recv)
	dst := make([]byte, 0, MaxPlaintext)
	asked := 0
	o.Into = func(n int) []byte {
		asked++
		if n%2 == 0 {
			return nil // odd lengths only: the others use the scratch buffer
		}
		return dst
	}
	var wire []byte
	var want [][]byte
	for i, n := range []int{1, 2, 1001, 40_000, 65_519, 3} {
		pt := bytes.Repeat([]byte{byte(i + 1)}, n)
		want = append(want, pt)
		var err error
		if wire, err = s.Seal(wire, pt); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]byte
	into := 0
	for len(wire) > 0 {
		k := min(len(wire), 30_000) // splits the larger records
		if err := o.Feed(wire[:k], func(pt []byte) error {
			if len(pt) > 0 && &pt[0] == &dst[:1][0] {
				into++
			}
			got = append(got, bytes.Clone(pt))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		wire = wire[k:]
	}
	if len(got) != len(want) || asked != len(want) {
		t.Fatalf("%d records, Into asked %d times; want %d", len(got), asked, len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d differs", i)
		}
	}
	if into != 4 { // 1, 1001, 65519, 3
		t.Fatalf("%d records decrypted into Into's buffer, want 4", into)
	}
}
