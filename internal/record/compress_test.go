package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestCompressRoundTrip(t *testing.T) {
	body := bytes.Repeat([]byte("weft message "), 500)
	comp, ok := Compress([]byte("prefix"), body)
	if !ok {
		t.Fatal("Compress skipped a compressible body")
	}
	if !bytes.HasPrefix(comp, []byte("prefix")) || len(comp)-6 >= len(body) {
		t.Fatalf("Compress: %d bytes for %d", len(comp)-6, len(body))
	}
	got, err := Decompress([]byte("x"), comp[6:], len(body))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[1:], body) || got[0] != 'x' {
		t.Fatal("Decompress did not restore the body after dst")
	}
}

func TestCompressSkipsIncompressible(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, n := range []int{0, 1, 10, 100, 5000} {
		body := randBytes(rng, n)
		dst := []byte("keep")
		out, ok := Compress(dst, body)
		if ok {
			t.Fatalf("%d random bytes: Compress reported a gain", n)
		}
		if string(out) != "keep" {
			t.Fatalf("%d random bytes: dst changed to %q", n, out)
		}
	}
}

func TestDecompressLimitCheckedBeforeAllocating(t *testing.T) {
	body := bytes.Repeat([]byte{'a'}, 10000)
	comp, _ := Compress(nil, body)
	_, err := Decompress(nil, comp, len(body)-1)
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("Decompress over limit = %v, want ErrTooLarge and ErrMalformed", err)
	}

	// A block declaring 4 GiB: rejected without allocating it.
	huge := binary.AppendUvarint(nil, 0xffffffff)
	huge = append(huge, 0, 0, 0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Decompress(nil, huge, 1<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decompress(4 GiB) = %v, want ErrTooLarge", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<16 {
		t.Fatalf("rejecting a 4 GiB block allocated %d bytes", grew)
	}
}

func TestDecompressCorrupt(t *testing.T) {
	comp, _ := Compress(nil, bytes.Repeat([]byte("abcd"), 100))
	for _, in := range [][]byte{nil, {0xff}, comp[:len(comp)/2], append(bytes.Clone(comp), 1)} {
		if _, err := Decompress(nil, in, 1<<20); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decompress(% x) = %v, want ErrMalformed", in, err)
		}
	}
}

func TestPlaintextRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var scratch, openScratch []byte
	var got Frame
	for i := range 300 {
		f := randFrame(rng, rng.IntN(128))
		if i%2 == 0 && len(f.Data) > 0 {
			f.Data = bytes.Repeat(f.Data[:1], len(f.Data)) // compressible
		}
		plainLen := len(AppendPlaintext(nil, f, false, nil))
		for _, compress := range []bool{false, true} {
			pt := AppendPlaintext([]byte("hdr"), f, compress, &scratch)[3:]
			if len(pt) > plainLen {
				t.Fatalf("compressed plaintext %d bytes > uncompressed %d", len(pt), plainLen)
			}
			if !compress && pt[0] != 0 {
				t.Fatalf("uncompressed header %#x", pt[0])
			}
			body, err := OpenPlaintext(pt, MaxPlaintext, &openScratch)
			if err != nil {
				t.Fatal(err)
			}
			if err := ParseFrame(body, &got); err != nil {
				t.Fatal(err)
			}
			if !framesEqual(f, &got) {
				t.Fatalf("frame changed through plaintext (compress=%v)", compress)
			}
		}
	}
}

func TestAppendPlaintextCompressesWhenItPays(t *testing.T) {
	var scratch []byte
	f := &Frame{Data: bytes.Repeat([]byte("x"), 4000)}
	pt := AppendPlaintext(nil, f, true, &scratch)
	if pt[0] != HdrCompressed || len(pt) > 1000 {
		t.Fatalf("header %#x, %d bytes: want compressed", pt[0], len(pt))
	}
	f.Data = randBytes(rand.New(rand.NewPCG(6, 6)), 4000)
	if pt = AppendPlaintext(nil, f, true, &scratch); pt[0] != 0 {
		t.Fatalf("random data: header %#x, want uncompressed", pt[0])
	}
}

func TestOpenPlaintextMalformed(t *testing.T) {
	comp, _ := Compress([]byte{HdrCompressed}, bytes.Repeat([]byte{1}, 5000))
	for _, tt := range []struct {
		name string
		pt   []byte
	}{
		{"empty", nil},
		{"reserved bits", []byte{0x02, 0}},
		{"corrupt", []byte{HdrCompressed, 0xff}},
		{"over limit", comp},
	} {
		if _, err := OpenPlaintext(tt.pt, 4096, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: OpenPlaintext = %v, want ErrMalformed", tt.name, err)
		}
	}
}

func TestCompressedPlaintextSteadyStateAllocs(t *testing.T) {
	f := &Frame{HasAck: true, Data: bytes.Repeat([]byte("weft "), 2000)}
	var scratch, openScratch []byte
	dst := make([]byte, 0, 1<<16)
	var got Frame
	step := func() {
		pt := AppendPlaintext(dst[:0], f, true, &scratch)
		body, err := OpenPlaintext(pt, MaxPlaintext, &openScratch)
		if err != nil {
			t.Fatal(err)
		}
		if err := ParseFrame(body, &got); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if allocs := testing.AllocsPerRun(50, step); allocs != 0 {
		t.Fatalf("compressed plaintext round trip: %v allocs, want 0", allocs)
	}
}
