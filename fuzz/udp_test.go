package fuzz

import (
	"bytes"
	"errors"
	"testing"

	"github.com/weftnet/weft/internal/udpwire"
)

// udpEdgeMax bounds the head and the tail of FuzzUDPDatagram's datagrams.
const udpEdgeMax = 64

// udpDatagram is FuzzUDPDatagram's datagram: head, zeros zero bytes, tail.
func udpDatagram(head []byte, zeros uint16, tail []byte) []byte {
	b := make([]byte, len(head)+int(zeros)+len(tail))
	copy(b, head)
	copy(b[len(head)+int(zeros):], tail)
	return b
}

// FuzzUDPDatagram parses a datagram of the UDP transport's header format,
// and checks that a valid one re-encodes to the same bytes and parses the
// same again.
//
// The datagram is built from a short head, a run of zeros and a short tail.
// An INITIAL is at least 1200 bytes, and the fuzzer minimizes every input
// that finds new coverage by trying to drop each byte and each run of
// bytes, quadratic in its length: fed whole datagrams, it spent entire CI
// runs minimizing one INITIAL. Parse reads the header byte, the length
// field, the token and whether the bytes after the payload are zero; the
// payload's own bytes it never looks at. So datagrams whose non-zero bytes
// lie in their first and last udpEdgeMax bytes reach every branch, with
// inputs of at most 2×udpEdgeMax+2 bytes.
func FuzzUDPDatagram(f *testing.F) {
	first := []byte{0x51, 0, 5, 'f', 'i', 'r', 's', 't'}
	initialPad := uint16(udpwire.MinInitialBytes - len(first))
	f.Add(udpwire.Append(nil, udpwire.Packet{Type: udpwire.Data, Payload: []byte("hello")}), uint16(0), []byte{})
	f.Add(first, initialPad, []byte{})
	f.Add(first, initialPad+6, []byte{})                                  // padded beyond 1200 bytes: malformed
	f.Add(first, initialPad-1, []byte{1})                                 // non-zero padding
	f.Add(first, initialPad-1, []byte{})                                  // short
	f.Add([]byte{0x51, 0x05, 0xdc}, uint16(1500), []byte{})               // 1500-byte payload, no padding
	f.Add([]byte{0x51, 0xff, 0xff}, uint16(udpwire.MaxPayload), []byte{}) // the largest INITIAL
	for _, typ := range []udpwire.Type{udpwire.Challenge, udpwire.Response, udpwire.Reset} {
		f.Add(udpwire.Append(nil, udpwire.Packet{Type: typ, Token: [udpwire.TokenLen]byte{1, 2, 3, 4, 5, 6, 7, 8}}), uint16(0), []byte{})
	}
	f.Add([]byte{}, uint16(0), []byte{})
	f.Add([]byte{0x5f, 0}, uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, head []byte, zeros uint16, tail []byte) {
		if len(head) > udpEdgeMax || len(tail) > udpEdgeMax {
			return
		}
		b := udpDatagram(head, zeros, tail)
		p, err := udpwire.Parse(b)
		if err != nil {
			if !errors.Is(err, udpwire.ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out := udpwire.Append(nil, p)
		if !bytes.Equal(out, b) {
			t.Fatalf("%v of %d bytes (head %x, %d zeros, tail %x) re-encodes to %d bytes",
				p.Type, len(b), head, zeros, tail, len(out))
		}
		q, err := udpwire.Parse(out)
		if err != nil || q.Type != p.Type || q.Token != p.Token || !bytes.Equal(q.Payload, p.Payload) {
			t.Fatalf("re-parse: %v, token %x, %d payload bytes, %v; want %v, %x, %d",
				q.Type, q.Token, len(q.Payload), err, p.Type, p.Token, len(p.Payload))
		}
	})
}
