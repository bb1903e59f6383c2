package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/flynn/noise"

	"github.com/weftnet/weft/internal/record"
)

// recordSeedFrames returns valid frames covering every section.
func recordSeedFrames() []*record.Frame {
	all := &record.Frame{
		HasHello: true, Hello: record.Hello{SessionID: [16]byte{1, 2, 3}, RecvOffset: 1 << 40, MaxMessageBytes: 1 << 20},
		HasAck: true, Ack: record.Ack{Offset: 300, Window: 65536},
		HasPNAck: true,
		HasPing:  true, Ping: 1,
		HasPong: true, Pong: 2,
		HasClose: true, Close: record.Close{Code: 3, Reason: []byte("bye")},
		DataOffset: 12345, Data: []byte("\x05hello\x00\x03abc"),
	}
	all.PNAck.AckDelayMicros = 100
	all.PNAck.NumRanges = 3
	all.PNAck.Ranges[0] = record.PNRange{Smallest: 90, Largest: 100}
	all.PNAck.Ranges[1] = record.PNRange{Smallest: 50, Largest: 80}
	all.PNAck.Ranges[2] = record.PNRange{Smallest: 0, Largest: 10}
	return []*record.Frame{
		{},
		all,
		{HasAck: true, Ack: record.Ack{Offset: 1, Window: 2}},
		{DataOffset: 0, Data: []byte{0}},
		{HasClose: true, Close: record.Close{Code: 1 << 63, Reason: bytes.Repeat([]byte{'r'}, 256)}},
	}
}

// recordFramesEqual compares the meaningful parts of two frames.
func recordFramesEqual(a, b *record.Frame) bool {
	return a.HasHello == b.HasHello && a.Hello == b.Hello &&
		a.HasAck == b.HasAck && a.Ack == b.Ack &&
		a.HasPNAck == b.HasPNAck && (!a.HasPNAck ||
		a.PNAck.AckDelayMicros == b.PNAck.AckDelayMicros && slices.Equal(a.PNAck.Acked(), b.PNAck.Acked())) &&
		a.HasPing == b.HasPing && a.Ping == b.Ping &&
		a.HasPong == b.HasPong && a.Pong == b.Pong &&
		a.HasClose == b.HasClose && a.Close.Code == b.Close.Code && bytes.Equal(a.Close.Reason, b.Close.Reason) &&
		a.DataOffset == b.DataOffset && bytes.Equal(a.Data, b.Data)
}

func FuzzParseFrame(f *testing.F) {
	for _, fr := range recordSeedFrames() {
		f.Add(record.AppendFrame(nil, fr))
	}
	f.Add([]byte{record.FlagPNAck, 10, 0, 0x84, 0x07, 0}) // range count 900
	f.Fuzz(func(t *testing.T, body []byte) {
		var fr record.Frame
		if err := record.ParseFrame(body, &fr); err != nil {
			if !errors.Is(err, record.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if err := fr.Validate(); err != nil {
			t.Fatalf("parsed frame is invalid: %v", err)
		}
		enc := record.AppendFrame(nil, &fr)
		var again record.Frame
		if err := record.ParseFrame(enc, &again); err != nil {
			t.Fatalf("re-parse of % x: %v", enc, err)
		}
		if !recordFramesEqual(&fr, &again) {
			t.Fatalf("round trip changed the frame\n got %+v\nwant %+v", again, fr)
		}
		if !bytes.Equal(record.AppendFrame(nil, &again), enc) {
			t.Fatal("encoding is not canonical")
		}
		if n := 1 + len(enc); n > fr.Overhead()+len(fr.Data) || fr.Overhead() > record.MaxOverhead {
			t.Fatalf("plaintext %d bytes, Overhead %d, data %d", n, fr.Overhead(), len(fr.Data))
		}
	})
}

// recordChunks splits b into chunks whose sizes come from sizes (cycled);
// a zero size gives an empty chunk. Without sizes, b is one chunk.
func recordChunks(b, sizes []byte) [][]byte {
	if len(sizes) == 0 {
		return [][]byte{b}
	}
	var out [][]byte
	for i := 0; len(b) > 0 && i < 4*len(b)+len(sizes); i++ {
		n := min(int(sizes[i%len(sizes)])*int(sizes[i%len(sizes)]), len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

var recordFuzzKey = [32]byte{9, 9, 9}

func recordCipher() *noise.CipherState {
	suite := noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)
	return noise.UnsafeNewCipherState(suite, recordFuzzKey, 0)
}

// recordOpenAll feeds chunks to o and returns copies of the plaintexts and
// the first error, checking the buffering bound after every Feed.
func recordOpenAll(t *testing.T, o *record.StreamOpener, chunks [][]byte) ([][]byte, error) {
	var pts [][]byte
	for _, c := range chunks {
		err := o.Feed(c, func(pt []byte) error {
			if len(pt) > record.MaxPlaintext {
				t.Fatalf("plaintext of %d bytes", len(pt))
			}
			pts = append(pts, bytes.Clone(pt))
			return nil
		})
		if o.Buffered() >= record.MaxStreamRecord {
			t.Fatalf("opener buffers %d bytes, more than one record", o.Buffered())
		}
		if err != nil {
			return pts, err
		}
	}
	return pts, nil
}

func FuzzStreamOpener(f *testing.F) {
	plain := record.NewStreamSealer(nil)
	keyed := record.NewStreamSealer(recordCipher())
	var pw, kw []byte
	for _, pt := range [][]byte{nil, []byte("a"), bytes.Repeat([]byte{'x'}, 300)} {
		pw, _ = plain.Seal(pw, pt)
		kw, _ = keyed.Seal(kw, pt)
	}
	f.Add(pw, []byte{})
	f.Add(pw, []byte{1, 2, 3})
	f.Add(kw, []byte{0, 5, 1})
	f.Add(kw, []byte{})
	f.Add([]byte{0xff, 0xff, 1, 2}, []byte{1})
	f.Fuzz(func(t *testing.T, stream, sizes []byte) {
		chunks := recordChunks(stream, sizes)
		// Plaintext mode: the chunking does not matter, and the records
		// delivered re-seal to the consumed part of the stream.
		o := record.NewStreamOpener(nil)
		pts, err := recordOpenAll(t, o, chunks)
		onePts, oneErr := recordOpenAll(t, record.NewStreamOpener(nil), [][]byte{stream})
		if (err == nil) != (oneErr == nil) || len(pts) != len(onePts) {
			t.Fatalf("chunked: %d records, %v; whole: %d records, %v", len(pts), err, len(onePts), oneErr)
		}
		if err == nil {
			var re []byte
			for _, pt := range pts {
				re, _ = plain.Seal(re, pt)
			}
			if !bytes.Equal(re, stream[:len(stream)-o.Buffered()]) {
				t.Fatal("records do not re-seal to the consumed stream")
			}
		}
		// Keyed mode: no panic, bounded buffering, and a dead opener stays
		// dead.
		k := record.NewStreamOpener(recordCipher())
		if _, err := recordOpenAll(t, k, chunks); err != nil {
			if k.Feed([]byte{0, 0}, func([]byte) error { return nil }) != err {
				t.Fatal("keyed opener came back to life")
			}
		}
	})
}

func FuzzReassembler(f *testing.F) {
	var log []byte
	for _, m := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{'m'}, 200)} {
		log = record.AppendMessage(log, m)
	}
	f.Add(log, []byte{}, uint16(1000))
	f.Add(log, []byte{1, 3, 0, 2}, uint16(200))
	f.Add(log, []byte{2}, uint16(10))
	f.Add(bytes.Repeat([]byte{0x80}, 11), []byte{1}, uint16(100))
	f.Add(binary.AppendUvarint(nil, 1<<40), []byte{1}, uint16(100))
	f.Fuzz(func(t *testing.T, data, sizes []byte, limit16 uint16) {
		// Small logs and limits reach every path; large inputs only slow
		// the fuzzer down (and its minimizer, quadratically).
		if len(data) > 1024 || len(sizes) > 16 {
			return
		}
		limit := int(limit16)%512 + 1
		run := func(chunks [][]byte) ([][]byte, *record.Reassembler, error) {
			r, err := record.NewReassembler(limit)
			if err != nil {
				t.Fatal(err)
			}
			var msgs [][]byte
			for _, c := range chunks {
				err = r.Feed(c, func(msg []byte) error {
					if len(msg) > limit {
						t.Fatalf("delivered %d bytes, limit %d", len(msg), limit)
					}
					msgs = append(msgs, bytes.Clone(msg))
					return nil
				})
				if r.Pending() > limit+binary.MaxVarintLen64 {
					t.Fatalf("buffers %d bytes, limit %d", r.Pending(), limit)
				}
				if err != nil {
					break
				}
			}
			return msgs, r, err
		}
		msgs, r, err := run(recordChunks(data, sizes))
		one, _, oneErr := run([][]byte{data})
		if (err == nil) != (oneErr == nil) || len(msgs) != len(one) {
			t.Fatalf("chunked: %d messages, %v; whole: %d messages, %v", len(msgs), err, len(one), oneErr)
		}
		var re []byte
		for i, m := range msgs {
			if !bytes.Equal(m, one[i]) {
				t.Fatalf("message %d differs with chunking", i)
			}
			re = record.AppendMessage(re, m)
		}
		// Non-minimal length prefixes make the log longer than the
		// re-encoding, never shorter.
		if err == nil && (uint64(len(re)) > r.Delivered() || r.Delivered()+uint64(r.Pending()) != uint64(len(data))) {
			t.Fatalf("Delivered %d, Pending %d, re-encoded %d of %d bytes", r.Delivered(), r.Pending(), len(re), len(data))
		}
	})
}

func FuzzDecompress(f *testing.F) {
	comp, _ := record.Compress(nil, bytes.Repeat([]byte("weft "), 200))
	f.Add(comp, uint16(1000))
	f.Add(comp, uint16(10))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0}, uint16(100))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, comp []byte, limit16 uint16) {
		limit := int(limit16)
		out, err := record.Decompress([]byte("p"), comp, limit)
		if err != nil {
			if !errors.Is(err, record.ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		body := out[1:]
		if len(body) > limit {
			t.Fatalf("decoded %d bytes, limit %d", len(body), limit)
		}
		re, ok := record.Compress(nil, body)
		if !ok {
			return
		}
		back, err := record.Decompress(nil, re, limit)
		if err != nil || !bytes.Equal(back, body) {
			t.Fatalf("re-compress round trip: %v", err)
		}
		pt, err := record.OpenPlaintext(append([]byte{record.HdrCompressed}, comp...), limit, nil)
		if err != nil || !bytes.Equal(pt, body) {
			t.Fatalf("OpenPlaintext: %v", err)
		}
	})
}
