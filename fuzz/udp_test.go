package fuzz

import (
	"bytes"
	"errors"
	"testing"

	"github.com/weftnet/weft/internal/udpwire"
)

// FuzzUDPDatagram parses a datagram of the UDP transport's header format,
// and checks that a valid one re-encodes to the same bytes and parses the
// same again.
func FuzzUDPDatagram(f *testing.F) {
	f.Add(udpwire.Append(nil, udpwire.Packet{Type: udpwire.Data, Payload: []byte("hello")}))
	f.Add(udpwire.Append(nil, udpwire.Packet{Type: udpwire.Initial, Payload: []byte("first")}))
	f.Add(udpwire.Append(nil, udpwire.Packet{Type: udpwire.Initial, Payload: bytes.Repeat([]byte{1}, 1500)}))
	for _, typ := range []udpwire.Type{udpwire.Challenge, udpwire.Response, udpwire.Reset} {
		f.Add(udpwire.Append(nil, udpwire.Packet{Type: typ, Token: [udpwire.TokenLen]byte{1, 2, 3, 4, 5, 6, 7, 8}}))
	}
	f.Add([]byte{})
	f.Add([]byte{0x5f, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := udpwire.Parse(b)
		if err != nil {
			if !errors.Is(err, udpwire.ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		out := udpwire.Append(nil, p)
		if !bytes.Equal(out, b) {
			t.Fatalf("%v re-encodes to %d bytes %x, parsed from %d bytes %x", p.Type, len(out), out, len(b), b)
		}
		q, err := udpwire.Parse(out)
		if err != nil || q.Type != p.Type || q.Token != p.Token || !bytes.Equal(q.Payload, p.Payload) {
			t.Fatalf("re-parse: %+v, %v; want %+v", q, err, p)
		}
	})
}
