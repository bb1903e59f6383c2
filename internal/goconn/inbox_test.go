package goconn

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestInboxJoins pushes reads of random sizes, as a reader makes them, and
// takes them at random moments: what comes out is what went in, in order;
// an empty inbox takes the reader's buffer itself; the inbox never holds a
// buffer larger than its limit plus one read.
func TestInboxJoins(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var in inbox
	in.init(256 << 10)
	var want, got []byte
	var buf []byte
	posted, swapped := false, 0
	for i := range 3000 {
		size := minReadBuf << rng.IntN(readClasses)
		if cap(buf) < size {
			buf = getReadBuf(size)
		}
		n := 1 + rng.IntN(cap(buf))
		if rng.IntN(3) > 0 {
			n = 1 + rng.IntN(200)
		}
		b := buf[:n]
		for j := range b {
			b[j] = byte(i + j)
		}
		want = append(want, b...)
		wasEmpty := len(in.buf) == 0
		var post bool
		buf, post = in.push(b)
		if post != !posted {
			t.Fatalf("push %d: post = %v; want %v", i, post, !posted)
		}
		posted = true
		if wasEmpty {
			swapped++
			if buf != nil || &in.buf[0] != &b[0] {
				t.Fatalf("push %d into an empty inbox copied the read", i)
			}
		}
		if c := cap(in.buf); c > in.limit+maxReadBuf {
			t.Fatalf("push %d: the inbox holds a buffer of %d bytes", i, c)
		}
		if len(in.buf) >= in.limit || rng.IntN(10) == 0 {
			got = takeAll(t, &in, got)
			posted = false
		}
	}
	got = takeAll(t, &in, got)
	if !bytes.Equal(got, want) {
		t.Fatalf("took %d bytes that differ from the %d pushed", len(got), len(want))
	}
	if swapped < 100 {
		t.Errorf("only %d reads went into an empty inbox", swapped)
	}
}

func takeAll(t *testing.T, in *inbox, got []byte) []byte {
	t.Helper()
	b, ended, _ := in.take()
	if ended {
		t.Fatal("take: ended before end")
	}
	got = append(got, b...)
	in.done(b)
	return got
}

// TestInboxEnd: a graceful end comes after what is queued and only the
// first counts; a reset drops what is queued and overrides it; after kill
// nothing is queued.
func TestInboxEnd(t *testing.T) {
	var in inbox
	in.init(1 << 10)
	in.push([]byte("abc"))
	errA, errB := errors.New("a"), errors.New("b")
	in.end(errA, false)
	if post := in.end(errB, false); post {
		t.Error("a second graceful end posted a drain")
	}
	if _, post := in.push([]byte("late")); post {
		t.Error("a push after the end posted a drain")
	}
	b, ended, err := in.take()
	if string(b) != "abc" || !ended || err != errA {
		t.Errorf("take = %q, %v, %v; want abc, true, a", b, ended, err)
	}
	in.push([]byte("x")) // dropped: ended
	in.end(errB, true)
	if b, _, err := in.take(); len(b) != 0 || err != errB {
		t.Errorf("after a reset: take = %q, %v; want nothing, b", b, err)
	}
	in.kill()
	if next, post := in.push([]byte("y")); post || len(next) != 0 {
		t.Errorf("push after kill = %q, %v", next, post)
	}
}
