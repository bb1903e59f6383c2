package handshake

import (
	"bytes"
	"strings"
	"testing"
)

func TestOfferRoundTrip(t *testing.T) {
	for _, o := range []offer{
		{ciphers: allCiphers, maxMessageBytes: 1},
		{aesHardware: true, compression: true, plaintext: true, ciphers: setOf([]Cipher{AESGCM}), maxMessageBytes: MaxMessageBytesLimit},
		{compression: true, ciphers: setOf([]Cipher{ChaChaPoly}), maxMessageBytes: 127},
		{plaintext: true, ciphers: allCiphers, maxMessageBytes: 128},
	} {
		b := encodeOffer(o)
		if len(b) > maxOfferLen {
			t.Errorf("%+v: %d bytes, more than %d", o, len(b), maxOfferLen)
		}
		got, err := decodeOffer(b)
		if err != nil || got != o {
			t.Errorf("decodeOffer(encodeOffer(%+v)) = %+v, %v", o, got, err)
		}
		if re, err := DecodeOffer(b); err != nil || !bytes.Equal(re, b) {
			t.Errorf("DecodeOffer(%x) = %x, %v", b, re, err)
		}
	}
}

func TestHelloRoundTrip(t *testing.T) {
	k := testKey(t, 7)
	base := signedHello(t, k, k, signatureDomain, []byte("static"))
	for _, d := range []*decision{
		nil,
		{cipher: ChaChaPoly, maxMessageBytes: 1},
		{cipher: AESGCM, compression: true, maxMessageBytes: MaxMessageBytesLimit},
		{plaintext: true, compression: true, maxMessageBytes: 300},
	} {
		h := base
		if d != nil {
			h.hasDecision, h.decision = true, *d
		}
		b := encodeHello(h)
		if len(b) > maxHelloDecision {
			t.Errorf("%d bytes, more than %d", len(b), maxHelloDecision)
		}
		got, err := decodeHello(b, d != nil)
		if err != nil || got != h {
			t.Errorf("decodeHello(encodeHello(%+v)) = %+v, %v", h, got, err)
		}
		if re, err := DecodeIdentity(b, d != nil); err != nil || !bytes.Equal(re, b) {
			t.Errorf("DecodeIdentity = %x, %v", re, err)
		}
		if _, err := decodeHello(b, d == nil); err == nil {
			t.Errorf("decoded with withDecision=%t", d == nil)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	k := testKey(t, 7)
	hello := encodeHello(signedHello(t, k, k, signatureDomain, nil))
	withDecision := func(tail ...byte) []byte { return append(bytes.Clone(hello), tail...) }
	offers := map[string][]byte{
		"empty payload":               nil,
		"unsupported payload version": {2, 0, 3, 1},
		"offer truncated":             {1, 0},
		"unknown flags":               {1, 0x08, 3, 1},
		"cipher set 0x00":             {1, 0, 0, 1},
		"cipher set 0x04":             {1, 0, 4, 1},
		"truncated uvarint":           {1, 0, 3},
		"out of range":                {1, 0, 3, 0},
		"not minimally":               {1, 0, 3, 0x81, 0x00},
		"overflows":                   {1, 0, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"1073741825 out of range":     {1, 0, 3, 0x81, 0x80, 0x80, 0x80, 0x04},
		"trailing":                    {1, 0, 3, 1, 0},
	}
	for want, b := range offers {
		if _, err := DecodeOffer(b); err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "handshake: ") {
			t.Errorf("DecodeOffer(%x) = %v, want %q", b, err, want)
		}
	}
	hellos := map[string][]byte{
		"unsupported payload version": append([]byte{0}, hello[1:]...),
		"identity payload truncated":  hello[:helloLen-1],
		"decision truncated":          withDecision(0),
		"unknown flags":               withDecision(4, 1, 1),
		"plaintext with cipher":       withDecision(2, 1, 1),
		"unknown cipher 0":            withDecision(0, 0, 1),
		"unknown cipher 3":            withDecision(0, 3, 1),
		"decision max message size":   withDecision(0, 1, 0x80),
		"trailing":                    withDecision(0, 1, 1, 0),
	}
	for want, b := range hellos {
		if _, err := DecodeIdentity(b, true); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeIdentity(%x) = %v, want %q", b, err, want)
		}
	}
	if _, err := DecodeIdentity(withDecision(0), false); err == nil || !strings.Contains(err.Error(), "1 trailing bytes") {
		t.Errorf("msg3 payload with a trailing byte: %v", err)
	}
}
