package endpoint

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/weftnet/weft/internal/record"
)

// TestSendLogRelease checks the send log's chunk-wise release against a
// list of message boundaries: acknowledged bytes leave used() at once, the
// released count never runs ahead of the truth, pending() is exact, and the
// unacknowledged bytes stay readable.
func TestSendLogRelease(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var l sendLog
		var bounds []uint64 // message start offsets, then end
		var stream []byte
		acked := uint64(0)
		for step := range 400 {
			if rng.IntN(3) > 0 || step%97 == 0 {
				n := rng.IntN(200)
				if rng.IntN(50) == 0 {
					n = rng.IntN(3 * chunkSize)
				}
				msg := make([]byte, n)
				for i := range msg {
					msg[i] = byte(rng.Uint32())
				}
				bounds = append(bounds, l.end)
				l.appendMsg(msg)
				stream = appendFrame(stream, msg)
				continue
			}
			if l.end > acked {
				acked += uint64(rng.Int64N(int64(l.end-acked) + 1))
				if rng.IntN(10) == 0 {
					acked = l.end
				}
			}
			l.release(acked)
			whole := uint64(0) // messages wholly below acked
			for i := range bounds {
				next := l.end
				if i+1 < len(bounds) {
					next = bounds[i+1]
				}
				if next <= acked {
					whole++
				}
			}
			if got, want := l.used(), l.end-acked; got != want {
				t.Fatalf("round %d: used() = %d, want %d", round, got, want)
			}
			if l.released > whole {
				t.Fatalf("round %d: released %d messages, only %d are acknowledged", round, l.released, whole)
			}
			if got, want := l.pending(), uint64(len(bounds))-whole; got != want {
				t.Fatalf("round %d: pending() = %d, want %d", round, got, want)
			}
			if acked == l.end && l.released != l.msgs {
				t.Fatalf("round %d: all acknowledged but released %d of %d", round, l.released, l.msgs)
			}
			for off := acked; off < l.end; {
				b := l.slice(off, l.end)
				if !bytes.Equal(b, stream[off:off+uint64(len(b))]) {
					t.Fatalf("round %d: bytes at %d changed", round, off)
				}
				off += uint64(len(b))
			}
		}
	}
}

func appendFrame(dst, msg []byte) []byte {
	var l sendLog
	l.appendMsg(msg)
	for off := uint64(0); off < l.end; {
		b := l.slice(off, l.end)
		dst = append(dst, b...)
		off += uint64(len(b))
	}
	l.free()
	return dst
}

// TestMinDetachedFitsInline: a chunk below minDetached, sent inline, fits
// one record beside the largest frame, which fillData relies on.
func TestMinDetachedFitsInline(t *testing.T) {
	if room := record.MaxPlaintext - record.MaxOverhead - 2; minDetached > room {
		t.Fatalf("minDetached %d exceeds the inline room %d", minDetached, room)
	}
}
