package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFrameRoundTripEveryCombination(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var got Frame
	for mask := range 128 {
		for range 20 {
			f := randFrame(rng, mask)
			body := AppendFrame(nil, f)
			if err := ParseFrame(body, &got); err != nil {
				t.Fatalf("mask %#x: ParseFrame: %v", mask, err)
			}
			if !framesEqual(f, &got) {
				t.Fatalf("mask %#x: round trip\n got %+v\nwant %+v", mask, got, *f)
			}
			// Overhead is exact when DATA is present, an upper bound otherwise.
			pt := 1 + len(body)
			if len(f.Data) > 0 && pt != f.Overhead()+len(f.Data) {
				t.Fatalf("mask %#x: plaintext %d bytes, Overhead %d + data %d", mask, pt, f.Overhead(), len(f.Data))
			}
			if pt > f.Overhead()+len(f.Data) || f.Overhead() > MaxOverhead {
				t.Fatalf("mask %#x: plaintext %d, Overhead %d, MaxOverhead %d", mask, pt, f.Overhead(), MaxOverhead)
			}
		}
	}
}

func TestFrameEmptyBodyIsValid(t *testing.T) {
	var f Frame
	body := AppendFrame(nil, &f)
	if !bytes.Equal(body, []byte{0}) {
		t.Fatalf("empty frame = %x, want 00", body)
	}
	if err := ParseFrame(body, &f); err != nil {
		t.Fatal(err)
	}
}

func TestFrameWireBytes(t *testing.T) {
	f := Frame{
		HasAck: true, Ack: Ack{Offset: 300, Window: 1},
		HasPNAck: true,
		HasPing:  true, Ping: 7,
		DataOffset: 5, Data: []byte("hi"),
	}
	// Packets 10, 9 | 6 | 3, 2, 1.
	f.PNAck.AckDelayMicros = 25
	f.PNAck.NumRanges = 3
	f.PNAck.Ranges[0] = PNRange{9, 10}
	f.PNAck.Ranges[1] = PNRange{6, 6}
	f.PNAck.Ranges[2] = PNRange{1, 3}
	want := []byte{
		FlagData | FlagAck | FlagPNAck | FlagPing,
		0xac, 0x02, 0x01, // ACK 300, 1
		10, 25, 2, 1, // PNACK largest 10, delay 25, 2 more ranges, first covers 9..10
		1, 0, // gap 1 (7, 8 missing), length 0: 6
		1, 2, // gap 1 (5, 4 missing), length 2: 1..3
		7,           // PING
		5, 'h', 'i', // DATA
	}
	got := AppendFrame(nil, &f)
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendFrame = % x\nwant          % x", got, want)
	}
}

// TestDetachedRoundTrip: a detached DATA section is its offset and length;
// Overhead counts the length.
func TestDetachedRoundTrip(t *testing.T) {
	f := Frame{HasAck: true, Ack: Ack{300, 1}, DataOffset: 1 << 20, Detached: MaxPlaintext}
	body := AppendFrame(nil, &f)
	want := cat(
		[]byte{FlagData | FlagAck | FlagDetached, 0xac, 0x02, 0x01},
		binary.AppendUvarint(nil, 1<<20), binary.AppendUvarint(nil, MaxPlaintext))
	if !bytes.Equal(body, want) {
		t.Fatalf("AppendFrame = % x, want % x", body, want)
	}
	if got := 1 + len(body); got != f.Overhead() {
		t.Fatalf("plaintext of %d bytes, Overhead %d", got, f.Overhead())
	}
	var g Frame
	if err := ParseFrame(body, &g); err != nil {
		t.Fatal(err)
	}
	if !framesEqual(&f, &g) {
		t.Fatalf("parsed %+v, want %+v", g, f)
	}
	for _, bad := range []Frame{{Detached: -1}, {Detached: MaxPlaintext + 1}, {Detached: 1, Data: []byte("x")}} {
		if err := bad.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("Validate(detached %d, %d inline) = %v, want ErrMalformed", bad.Detached, len(bad.Data), err)
		}
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestDocExample checks the worked example in doc.go.
func TestDocExample(t *testing.T) {
	f := Frame{HasAck: true, Ack: Ack{300, 1}, HasPing: true, Ping: 7, DataOffset: 5, Data: []byte("\x01h")}
	want := []byte{0x00, 0x0b, 0xac, 0x02, 0x01, 0x07, 0x05, 0x01, 0x68}
	if got := AppendPlaintext(nil, &f, false, nil); !bytes.Equal(got, want) {
		t.Fatalf("plaintext = % x, want % x", got, want)
	}
}

func TestParseFrameMalformed(t *testing.T) {
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	b := func(bs ...byte) []byte { return bs }
	overlong := bytes.Repeat([]byte{0xff}, 11)
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "empty frame body"},
		{"detached without data", b(FlagDetached), "detached flag 0x80 without DATA"},
		{"detached no length", b(FlagData|FlagDetached, 3), "detached DATA length truncated"},
		{"detached zero", b(FlagData|FlagDetached, 3, 0), "detached DATA length 0: want 1 to 65519"},
		{"detached too long", cat(b(FlagData|FlagDetached, 3), uv(MaxPlaintext+1)), "detached DATA length 65520: want 1 to 65519"},
		{"detached overflow", cat(b(FlagData|FlagDetached), uv(math.MaxUint64), b(1)), "DATA offset 18446744073709551615 plus length 1 overflows"},
		{"detached trailing", b(FlagData|FlagDetached, 3, 1, 'x'), "1 trailing bytes"},
		{"hello short id", b(FlagHello, 1, 2, 3), "HELLO session id truncated: 3 of 16"},
		{"hello no offset", cat(b(FlagHello), make([]byte, 16)), "HELLO recv offset truncated"},
		{"hello no max", cat(b(FlagHello), make([]byte, 16), b(0)), "HELLO max message bytes truncated"},
		{"ack truncated", b(FlagAck, 0x80), "ACK offset truncated"},
		{"ack no window", b(FlagAck, 1), "ACK window truncated"},
		{"varint overflow", cat(b(FlagPing), overlong), "PING id: varint overflows"},
		{"varint 10th byte", cat(b(FlagPing), bytes.Repeat([]byte{0x80}, 9), b(2)), "PING id: varint overflows"},
		{"pnack range count", cat(b(FlagPNAck, 10, 0), uv(900), b(0)), "PNACK range count 900 exceeds 64"},
		{"pnack huge count", cat(b(FlagPNAck, 10, 0), uv(math.MaxUint64), b(0)), "PNACK range count 18446744073709551615 exceeds 64"},
		{"pnack first range", b(FlagPNAck, 10, 0, 0, 11), "first range length 11 exceeds largest 10"},
		{"pnack gap underflow", b(FlagPNAck, 10, 0, 1, 2, 7, 0), "PNACK gap 7 below packet 8 underflows"},
		{"pnack gap at zero", b(FlagPNAck, 1, 0, 1, 1, 0, 0), "PNACK gap 0 below packet 0 underflows"},
		{"pnack len underflow", b(FlagPNAck, 10, 0, 1, 0, 0, 9), "PNACK range length 9 exceeds its largest 8"},
		{"pnack missing range", b(FlagPNAck, 10, 0, 2, 0, 0, 0), "PNACK gap truncated"},
		{"pnack truncated", b(FlagPNAck, 10), "PNACK ack delay truncated"},
		{"ping truncated", b(FlagPing), "PING id truncated"},
		{"pong truncated", b(FlagPing|FlagPong, 1), "PONG id truncated"},
		{"close reason long", cat(b(FlagClose, 0), uv(300), make([]byte, 300)), "CLOSE reason length 300 exceeds 256"},
		{"close reason short", b(FlagClose, 0, 5, 'a'), "CLOSE reason truncated: 1 of 5"},
		{"close no code", b(FlagClose), "CLOSE code truncated"},
		{"data empty", b(FlagData, 3), "empty DATA section"},
		{"data no offset", b(FlagData), "DATA offset truncated"},
		{"data overflow", cat(b(FlagData), uv(math.MaxUint64), b('x')), "DATA offset 18446744073709551615 plus length 1 overflows"},
		{"trailing", b(FlagPing, 1, 2), "1 trailing bytes"},
		{"trailing no flags", b(0, 0), "1 trailing bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Frame{HasPing: true, Ping: 99}
			err := ParseFrame(tt.body, &f)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseFrame(% x) = %v, want ErrMalformed", tt.body, err)
			}
			if !strings.HasPrefix(err.Error(), "record: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if !framesEqual(&f, &Frame{}) {
				t.Fatalf("frame not reset after error: %+v", f)
			}
		})
	}
}

func TestParseFrameTruncationsNeverPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	var f Frame
	for mask := range 128 {
		body := AppendFrame(nil, randFrame(rng, mask))
		for n := range len(body) {
			_ = ParseFrame(body[:n], &f)
		}
		for range 50 {
			mut := bytes.Clone(body)
			mut[rng.IntN(len(mut))] ^= byte(1 << rng.IntN(8))
			_ = ParseFrame(mut, &f)
		}
	}
}

func TestAppendFramePanicsOnInvalidFrame(t *testing.T) {
	bad := []*Frame{
		{HasPNAck: true}, // no ranges
		{HasPNAck: true, PNAck: PNAck{NumRanges: 2, Ranges: [65]PNRange{{5, 6}, {4, 4}}}}, // adjacent
		{HasPNAck: true, PNAck: PNAck{NumRanges: 1, Ranges: [65]PNRange{{7, 6}}}},         // inverted
		{HasPNAck: true, PNAck: PNAck{NumRanges: 66}},
		{HasClose: true, Close: Close{Reason: make([]byte, MaxCloseReason+1)}},
		{DataOffset: math.MaxUint64, Data: []byte("x")},
	}
	for i, f := range bad {
		if err := f.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d: Validate = %v, want ErrMalformed", i, err)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%d: AppendFrame did not panic", i)
				}
			}()
			AppendFrame(nil, f)
		}()
	}
}

func TestFrameHotPathDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	f := randFrame(rng, 127)
	buf := make([]byte, 0, 8192)
	var got Frame
	allocs := testing.AllocsPerRun(100, func() {
		body := AppendFrame(buf[:0], f)
		if err := ParseFrame(body, &got); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendFrame+ParseFrame: %v allocs, want 0", allocs)
	}
}

func TestPNAckAccessors(t *testing.T) {
	var a PNAck
	if a.Largest() != 0 || len(a.Acked()) != 0 {
		t.Fatal("zero PNAck not empty")
	}
	a.NumRanges = 200 // out of range: Acked clamps
	if len(a.Acked()) != MaxPNAckRanges+1 {
		t.Fatalf("Acked len %d", len(a.Acked()))
	}
}
