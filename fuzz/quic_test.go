package fuzz

import (
	"bytes"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
)

// The decoders of the QUIC transport's identity binding and of the
// endpoint's handshake over authenticated transports.

// certSeeds returns a valid certificate (DER) and its extension value.
func certSeeds(tb testing.TB) (der, ext []byte) {
	key, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{7}, identity.SeedSize))
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := handshake.NewCertificate(key, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range cert.Leaf.Extensions {
		if e.Id.Equal(handshake.CertExtensionOID) {
			ext = e.Value
		}
	}
	return cert.Certificate[0], ext
}

// FuzzCertExtension: the signed-key extension value decodes only if it is
// the one fixed layout; whatever decodes re-encodes to the same bytes,
// which decode again.
func FuzzCertExtension(f *testing.F) {
	_, ext := certSeeds(f)
	f.Add(ext)
	f.Add(ext[:len(ext)-1])
	f.Add(append(bytes.Clone(ext), 0))
	f.Add([]byte{0x30, 0x64, 0x04, 0x20})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := handshake.DecodeCertExtension(b)
		if err != nil {
			if !errors.Is(err, handshake.ErrBadCertificate) {
				t.Fatalf("error %v does not wrap ErrBadCertificate", err)
			}
			return
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoded %x as %x", b, out)
		}
		again, err := handshake.DecodeCertExtension(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("the re-encoding %x does not decode again: %x, %v", out, again, err)
		}
	})
}

// FuzzVerifyCertificate: arbitrary DER never panics the verifier, errors
// wrap ErrBadCertificate, and an accepted certificate's identity is the
// one PeerOfCertificate reports for it.
func FuzzVerifyCertificate(f *testing.F) {
	der, _ := certSeeds(f)
	f.Add(der)
	f.Add(der[:len(der)/2])
	flipped := bytes.Clone(der)
	flipped[len(flipped)-10] ^= 1 // in the certificate's own signature: ignored
	f.Add(flipped)
	f.Fuzz(func(t *testing.T, b []byte) {
		key, err := handshake.VerifyCertificate([][]byte{b})
		if err != nil {
			if !errors.Is(err, handshake.ErrBadCertificate) {
				t.Fatalf("error %v does not wrap ErrBadCertificate", err)
			}
			return
		}
		cert, err := x509.ParseCertificate(b)
		if err != nil {
			t.Fatalf("verified a certificate that does not parse: %v", err)
		}
		peer, err := handshake.PeerOfCertificate(cert)
		if err != nil || peer != identity.PeerIDFromPublicKey(key) {
			t.Fatalf("PeerOfCertificate = %s, %v; VerifyCertificate said %s", peer, err, identity.PeerIDFromPublicKey(key))
		}
	})
}

// authMessages returns m1 and m2 of an authenticated handshake in which
// both endpoints prove identities other than their transports'.
func authMessages(tb testing.TB, k *handshakeKeys) [2][]byte {
	ti, tr := k.peer(3), k.peer(4)
	ini, err := handshake.NewAuthInitiator(k.config(1), ti, tr)
	if err != nil {
		tb.Fatal(err)
	}
	rsp, err := handshake.NewAuthResponder(k.config(2), tr, ti)
	if err != nil {
		tb.Fatal(err)
	}
	m1, err := ini.Start()
	if err != nil {
		tb.Fatal(err)
	}
	m2, _, err := rsp.Step(m1)
	if err != nil {
		tb.Fatal(err)
	}
	return [2][]byte{m1, m2}
}

// FuzzAuthMessage: m1/m2 decode canonically (re-encoding gives the same
// bytes), and a fresh responder and initiator fed the input never panic
// and fail only with the package's sentinels.
func FuzzAuthMessage(f *testing.F) {
	keys := newHandshakeKeys(f)
	ti, tr := keys.peer(3), keys.peer(4)
	m := authMessages(f, keys)
	f.Add(m[0])
	f.Add(m[1])
	f.Add([]byte{2, 0, 1})
	f.Add([]byte{2, 0x04, 0x80, 0x01})
	f.Add([]byte{1, 0, 1})
	sentinels := []error{handshake.ErrPeerMismatch, handshake.ErrInsecureMismatch, handshake.ErrBadSignature,
		handshake.ErrMalformed, handshake.ErrUnexpected}
	f.Fuzz(func(t *testing.T, b []byte) {
		if out, err := handshake.DecodeAuthMessage(b); err == nil {
			if !bytes.Equal(out, b) {
				t.Fatalf("re-encoded %x as %x", b, out)
			}
			if again, err := handshake.DecodeAuthMessage(out); err != nil || !bytes.Equal(again, out) {
				t.Fatalf("the re-encoding %x does not decode again: %v", out, err)
			}
		} else if !errors.Is(err, handshake.ErrMalformed) {
			t.Fatalf("decode error %v does not wrap ErrMalformed", err)
		}
		rsp, err := handshake.NewAuthResponder(keys.config(2), tr, ti)
		if err != nil {
			t.Fatal(err)
		}
		ini, err := handshake.NewAuthInitiator(keys.config(1), ti, tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ini.Start(); err != nil {
			t.Fatal(err)
		}
		for _, s := range []interface {
			Step([]byte) ([]byte, *handshake.Result, error)
		}{rsp, ini} {
			_, res, err := s.Step(b)
			if err == nil {
				if res == nil {
					t.Fatalf("Step(%x) returned neither a Result nor an error", b)
				}
				continue
			}
			known := false
			for _, e := range sentinels {
				known = known || errors.Is(err, e)
			}
			if !known {
				t.Fatalf("Step(%x): %v wraps none of the package's sentinels", b, err)
			}
		}
	})
}
