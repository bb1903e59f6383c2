package udpwire

import (
	"bytes"
	"errors"
	"testing"
)

// TestRoundTrip: what Append encodes, Parse decodes to the same packet,
// and INITIALs are exactly InitialSize long.
func TestRoundTrip(t *testing.T) {
	tok := [TokenLen]byte{1, 2, 3, 4, 5, 6, 7, 8}
	for _, p := range []Packet{
		{Type: Data},
		{Type: Data, Payload: []byte("hello")},
		{Type: Initial},
		{Type: Initial, Payload: []byte("first")},
		{Type: Initial, Payload: bytes.Repeat([]byte{7}, MinInitialBytes-InitialOverhead)},
		{Type: Initial, Payload: bytes.Repeat([]byte{7}, MinInitialBytes)},
		{Type: Initial, Payload: bytes.Repeat([]byte{7}, MaxPayload)},
		{Type: Challenge, Token: tok},
		{Type: Response, Token: tok},
		{Type: Reset, Token: tok},
	} {
		b := Append(nil, p)
		if p.Type == Initial && len(b) != InitialSize(len(p.Payload)) {
			t.Errorf("INITIAL with %d payload bytes: %d bytes, want %d", len(p.Payload), len(b), InitialSize(len(p.Payload)))
		}
		q, err := Parse(b)
		if err != nil {
			t.Errorf("%v with %d payload bytes: %v", p.Type, len(p.Payload), err)
			continue
		}
		if q.Type != p.Type || q.Token != p.Token || !bytes.Equal(q.Payload, p.Payload) {
			t.Errorf("%v: parsed as %v, token %x, %d payload bytes", p.Type, q.Type, q.Token, len(q.Payload))
		}
	}
}

// TestParseRejects: every malformed datagram fails with ErrMalformed.
func TestParseRejects(t *testing.T) {
	first := Append(nil, Packet{Type: Initial, Payload: []byte("first")})
	big := Append(nil, Packet{Type: Initial, Payload: bytes.Repeat([]byte{7}, 1500)})
	nonZeroPad := bytes.Clone(first)
	nonZeroPad[len(nonZeroPad)-1] = 1
	pastEnd := bytes.Clone(first)
	pastEnd[1], pastEnd[2] = 0x04, 0xb0 // 1200 payload bytes in a 1200-byte datagram
	for name, b := range map[string][]byte{
		"empty":                 {},
		"bad magic":             {0x40},
		"unknown type":          {0x55},
		"short control":         {0x52, 1, 2, 3},
		"long control":          append(Append(nil, Packet{Type: Reset}), 0),
		"short INITIAL":         first[:MinInitialBytes-1],
		"INITIAL past its end":  pastEnd,
		"non-zero padding":      nonZeroPad,
		"over-padded INITIAL":   append(bytes.Clone(first), 0, 0, 0, 0, 0, 0),
		"padding after payload": append(bytes.Clone(big), 0),
	} {
		if p, err := Parse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s (%d bytes): Parse = %v, %v; want ErrMalformed", name, len(b), p.Type, err)
		}
	}
}

// TestParseOverPaddedInitial is the input the fuzzer found: an INITIAL
// with a 5-byte payload padded to 1206 bytes parsed, and re-encoded to
// 1200, so one packet had many encodings.
func TestParseOverPaddedInitial(t *testing.T) {
	b := append(Append(nil, Packet{Type: Initial, Payload: []byte("first")}), 0, 0, 0, 0, 0, 0)
	if len(b) != MinInitialBytes+6 {
		t.Fatalf("built %d bytes", len(b))
	}
	_, err := Parse(b)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("Parse of a %d-byte INITIAL with a 5-byte payload: %v, want ErrMalformed", len(b), err)
	}
}
