package fuzz

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/weftnet/weft/identity"
)

const (
	validPeerID = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
	rsaPeerID   = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
)

// validPeerIDBytes returns the binary form of validPeerID.
func validPeerIDBytes(f *testing.F) []byte {
	id, err := identity.ParsePeerID(validPeerID)
	if err != nil {
		f.Fatal(err)
	}
	return id.Bytes()
}

func FuzzParsePeerID(f *testing.F) {
	for _, s := range []string{
		validPeerID,
		"12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5",
		rsaPeerID,
		"",
		"1",
		"11111111111111111111111111111111111111111111111111111",
		"12D3KooW0OIl",
		validPeerID[:40],
		validPeerID + "2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := identity.ParsePeerID(s)
		if err != nil {
			if !id.IsZero() {
				t.Fatalf("ParsePeerID(%q) failed but returned %v", s, id)
			}
			return
		}
		if got := id.String(); got != s {
			t.Fatalf("ParsePeerID(%q).String() = %q", s, got)
		}
		again, err := identity.ParsePeerID(id.String())
		if err != nil || again != id {
			t.Fatalf("re-parsing %q: %v, %v", id, again, err)
		}
		if _, err := id.PublicKey(); err != nil {
			t.Fatalf("PublicKey of parsed ID %q: %v", s, err)
		}
	})
}

func FuzzPeerIDFromBytes(f *testing.F) {
	valid := validPeerIDBytes(f)
	f.Add(valid)
	f.Add([]byte{})
	f.Add([]byte{0x00})
	f.Add([]byte{0x80, 0x80})
	f.Add(valid[:20])
	f.Add(append(bytes.Clone(valid), 0))
	secp := bytes.Clone(valid)
	secp[3] = 0x02
	f.Add(secp)
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := identity.PeerIDFromBytes(b)
		if err != nil {
			return
		}
		if !bytes.Equal(id.Bytes(), b) {
			t.Fatalf("PeerIDFromBytes(%x).Bytes() = %x", b, id.Bytes())
		}
		again, err := identity.ParsePeerID(id.String())
		if err != nil || again != id {
			t.Fatalf("ParsePeerID(String()) of %x: %v, %v", b, again, err)
		}
		pub, err := id.PublicKey()
		if err != nil || identity.PeerIDFromPublicKey(pub) != id {
			t.Fatalf("PublicKey of %x does not give the same ID: %v", b, err)
		}
	})
}

func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{
		"/ip4/1.2.3.4/tcp/80",
		"/ip6/::1/udp/4001/quic-v1/p2p/" + validPeerID,
		"/ip4/127.0.0.1/udp/5000",
		"/memory/42/p2p/" + validPeerID,
		"/ip4/1.2.3.4/tcp/1/p2p/" + rsaPeerID,
		"/ip4/999.1.1.1/tcp/1",
		"/ip4/1.2.3.4/tcp/notaport",
		"/ip4/1.2.3.4/sctp/5",
		"/dns4/x/tcp/1",
		"/ip6zone/eth0/ip6/fe80::1/tcp/1",
		"/p2p/" + validPeerID,
		"garbage",
		"",
		"/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := identity.ParseAddr(s)
		if err != nil {
			return
		}
		again, err := identity.ParseAddr(m.String())
		if err != nil || !again.Equal(m) {
			t.Fatalf("ParseAddr(%q) = %s, which re-parses as %v, %v", s, m, again, err)
		}
		if _, err := identity.ParseNetAddr(m); err != nil {
			t.Fatalf("ParseNetAddr(%s): %v", m, err)
		}
		transport, id, hasID, err := identity.SplitPeer(m)
		if err != nil || hasID == id.IsZero() {
			t.Fatalf("SplitPeer(%s) = %s, %v, %v, %v", m, transport, id, hasID, err)
		}
	})
}

// pkcs8PEM returns a PEM-encoded PKCS#8 Ed25519 key with the given seed.
func pkcs8PEM(f *testing.F, seedByte byte) []byte {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seedByte}, ed25519.SeedSize))
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func FuzzLoadKeyFile(f *testing.F) {
	valid := pkcs8PEM(f, 0x01)
	f.Add(valid)
	f.Add(pkcs8PEM(f, 0xff))
	f.Add([]byte{})
	f.Add([]byte("garbage"))
	f.Add(valid[:len(valid)/2])
	f.Add(append(bytes.Clone(valid), "trailing"...))
	f.Add(bytes.Replace(valid, []byte("PRIVATE KEY"), []byte("RSA PRIVATE KEY"), 2))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}))
	// One directory for the whole run keeps each execution cheap; calls of
	// the fuzz function within one process are sequential.
	dir := f.TempDir()
	path, out := filepath.Join(dir, "in.key"), filepath.Join(dir, "out.key")
	f.Fuzz(func(t *testing.T, data []byte) {
		// LoadKeyFile rejects a file over MaxKeyFileSize by its size alone;
		// one byte over reaches that path, and more only costs time.
		if len(data) > identity.MaxKeyFileSize+1 {
			return
		}
		// A new file each time: rewriting one in place (os.WriteFile
		// truncates it) makes ext4 write it back to disk on close (its
		// replace-via-truncate heuristic), which made each call about
		// three times slower.
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		k, err := identity.LoadKeyFile(path)
		if err != nil {
			return
		}
		if err := os.Remove(out); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if err := identity.SaveKeyFile(out, k); err != nil {
			t.Fatalf("SaveKeyFile of a loaded key: %v", err)
		}
		k2, err := identity.LoadKeyFile(out)
		if err != nil || !k2.Equal(k) {
			t.Fatalf("Save+Load round trip: %v", err)
		}
	})
}
