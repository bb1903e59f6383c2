package record

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// benchFrame is a typical data record: an ACK, a PNACK with a few holes and
// a 1 KiB DATA chunk.
func benchFrame() *Frame {
	f := &Frame{HasAck: true, Ack: Ack{Offset: 1 << 30, Window: 1 << 20}, DataOffset: 1 << 31, Data: make([]byte, 1024)}
	f.HasPNAck = true
	f.PNAck.AckDelayMicros = 250
	f.PNAck.NumRanges = 4
	f.PNAck.Ranges[0] = PNRange{100090, 100100}
	f.PNAck.Ranges[1] = PNRange{100050, 100080}
	f.PNAck.Ranges[2] = PNRange{100000, 100040}
	f.PNAck.Ranges[3] = PNRange{99000, 99990}
	return f
}

func BenchmarkAppendParseFrame(b *testing.B) {
	f := benchFrame()
	buf := make([]byte, 0, 4096)
	var got Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(f.Data)))
	for b.Loop() {
		body := AppendFrame(buf[:0], f)
		if err := ParseFrame(body, &got); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStreamSealOpen64KiB(b *testing.B) {
	for _, m := range cipherModes {
		b.Run(m.name, func(b *testing.B) {
			sc, rc := modePair(b, m.fn)
			s, o := NewStreamSealer(sc), NewStreamOpener(rc)
			pt := make([]byte, MaxPlaintext)
			wire := make([]byte, 0, MaxStreamRecord)
			nop := func([]byte) error { return nil }
			b.ReportAllocs()
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				w, err := s.Seal(wire[:0], pt)
				if err != nil {
					b.Fatal(err)
				}
				if err := o.Feed(w, nop); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDatagramSealOpen1200(b *testing.B) {
	for _, m := range cipherModes {
		b.Run(m.name, func(b *testing.B) {
			sc, rc := modePair(b, m.fn)
			s, o := NewDatagramSealer(sc), NewDatagramOpener(rc)
			pt := make([]byte, 1200)
			buf := make([]byte, 0, 1500)
			b.ReportAllocs()
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				pkt, _, err := s.Seal(buf, pt)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := o.Open(pkt[DatagramHeaderLen:DatagramHeaderLen], pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPlaintextCompressed(b *testing.B) {
	f := &Frame{HasAck: true, Data: bytes.Repeat([]byte("key=value;"), 6000)}
	var scratch, openScratch []byte
	dst := make([]byte, 0, MaxPlaintext+1)
	b.ReportAllocs()
	b.SetBytes(int64(len(f.Data)))
	for b.Loop() {
		pt := AppendPlaintext(dst[:0], f, true, &scratch)
		if _, err := OpenPlaintext(pt, MaxPlaintext, &openScratch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReassembler64B feeds 64-byte messages in 64 KiB chunks; message
// boundaries fall anywhere in a chunk, so some messages span two chunks.
func BenchmarkReassembler64B(b *testing.B) {
	const chunk = 64 << 10
	rng := rand.New(rand.NewPCG(13, 13))
	msg := randBytes(rng, 64)
	var log []byte
	for len(log) < 65*chunk { // 65 bytes per message: whole messages in 65 chunks
		log = AppendMessage(log, msg)
	}
	r, err := NewReassembler(1 << 20)
	if err != nil {
		b.Fatal(err)
	}
	var msgs int
	deliver := func(m []byte) error { msgs++; return nil }
	b.ReportAllocs()
	b.SetBytes(chunk)
	i := 0
	for b.Loop() {
		if err := r.Feed(log[i:i+chunk], deliver); err != nil {
			b.Fatal(err)
		}
		if i += chunk; i == len(log) {
			i = 0
		}
	}
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}
