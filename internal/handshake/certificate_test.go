package handshake

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/weftnet/weft/identity"
)

func TestCertificateRoundTrip(t *testing.T) {
	key := testKey(t, 1)
	cert, err := NewCertificate(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyCertificate(cert.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	if got != key.Public() {
		t.Errorf("VerifyCertificate returned %x; want the identity key", got.Bytes())
	}
	peer, err := PeerOfCertificate(cert.Leaf)
	if err != nil || peer != peerOf(key) {
		t.Errorf("PeerOfCertificate = %s, %v; want %s", peer, err, peerOf(key))
	}
	var ext []byte
	for _, e := range cert.Leaf.Extensions {
		if e.Id.Equal(CertExtensionOID) {
			ext = e.Value
			if e.Critical {
				t.Error("the signed-key extension is critical; generic parsers would reject the certificate")
			}
		}
	}
	if len(ext) != certExtensionLen || ext[0] != 0x30 || ext[1] != 100 {
		t.Fatalf("extension value %x; want the 102-byte SEQUENCE", ext)
	}
	if out, err := DecodeCertExtension(ext); err != nil || !bytes.Equal(out, ext) {
		t.Errorf("DecodeCertExtension = %x, %v", out, err)
	}
}

// makeCert builds a certificate for certKey carrying the given extensions
// (nil: the valid one for key).
func makeCert(t *testing.T, key identity.PrivateKey, certKey *ecdsa.PrivateKey, exts []pkix.Extension) []byte {
	t.Helper()
	if exts == nil {
		spki, _ := x509.MarshalPKIXPublicKey(certKey.Public())
		sig, _ := key.Sign(CertDomain, spki)
		s := signedKey{key: key.Public()}
		copy(s.sig[:], sig)
		exts = []pkix.Extension{{Id: CertExtensionOID, Value: encodeSignedKey(s)}}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), ExtraExtensions: exts}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, certKey.Public(), certKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCertificateRejects(t *testing.T) {
	key := testKey(t, 1)
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := makeCert(t, key, k1, nil)
	if _, err := VerifyCertificate([][]byte{good}); err != nil {
		t.Fatalf("a valid certificate: %v", err)
	}
	// The extension of a certificate for k1, moved into one for k2: the
	// signature covers k1's key, so it must fail.
	parsed, _ := x509.ParseCertificate(good)
	var moved []pkix.Extension
	for _, e := range parsed.Extensions {
		if e.Id.Equal(CertExtensionOID) {
			moved = append(moved, e)
		}
	}
	badValue := encodeSignedKey(signedKey{key: key.Public()}) // zero signature
	cases := map[string][][]byte{
		"no certificate":       nil,
		"two certificates":     {good, good},
		"not DER":              {{0x30, 0x03, 1, 2, 3}},
		"no extension":         {makeCert(t, key, k1, []pkix.Extension{{Id: []int{1, 2, 3}, Value: []byte{5, 0}}})},
		"extension moved":      {makeCert(t, key, k2, moved)},
		"zero signature":       {makeCert(t, key, k1, []pkix.Extension{{Id: CertExtensionOID, Value: badValue}})},
		"extension not a key":  {makeCert(t, key, k1, []pkix.Extension{{Id: CertExtensionOID, Value: []byte{0x30, 0}}})},
		"extension truncated":  {makeCert(t, key, k1, []pkix.Extension{{Id: CertExtensionOID, Value: badValue[:50]}})},
		"signed by another id": {makeCert(t, testKey(t, 2), k1, []pkix.Extension{{Id: CertExtensionOID, Value: mutateKey(badValue, testKey(t, 2))}})},
	}
	for name, chain := range cases {
		if _, err := VerifyCertificate(chain); !errors.Is(err, ErrBadCertificate) {
			t.Errorf("%s: %v; want ErrBadCertificate", name, err)
		}
	}
}

// mutateKey returns an extension value naming other's key with v's
// signature.
func mutateKey(v []byte, other identity.PrivateKey) []byte {
	out := bytes.Clone(v)
	copy(out[4:4+identity.PublicKeySize], other.Public().Bytes())
	return out
}

func TestDecodeCertExtensionRejects(t *testing.T) {
	good := encodeSignedKey(signedKey{key: testKey(t, 1).Public()})
	for i := range good {
		if i >= 4 && i < 4+identity.PublicKeySize || i >= 4+identity.PublicKeySize+2 {
			continue // key and signature bytes may be anything
		}
		b := bytes.Clone(good)
		b[i] ^= 1
		if _, err := DecodeCertExtension(b); !errors.Is(err, ErrBadCertificate) {
			t.Errorf("header byte %d changed: %v; want ErrBadCertificate", i, err)
		}
	}
	for _, n := range []int{0, 1, len(good) - 1, len(good) + 1} {
		b := append(bytes.Clone(good), 0)[:n]
		if _, err := DecodeCertExtension(b); !errors.Is(err, ErrBadCertificate) {
			t.Errorf("%d bytes: %v; want ErrBadCertificate", n, err)
		}
	}
}

// TestCertificateTLS runs a real TLS 1.3 handshake with the certificates
// on both sides, as transport/quic configures it.
func TestCertificateTLS(t *testing.T) {
	ka, kb := testKey(t, 1), testKey(t, 2)
	ca, _ := NewCertificate(ka, nil)
	cb, _ := NewCertificate(kb, nil)
	var seenByServer, seenByClient identity.PublicKey
	conf := func(c tls.Certificate, seen *identity.PublicKey) *tls.Config {
		return &tls.Config{
			MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{c}, InsecureSkipVerify: true,
			ClientAuth: tls.RequireAnyClientCert, NextProtos: []string{"test"}, SessionTicketsDisabled: true,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				k, err := VerifyCertificate(raw)
				*seen = k
				return err
			},
		}
	}
	_, srvConn := tlsPipe(t, conf(ca, &seenByClient), conf(cb, &seenByServer))
	if seenByServer != ka.Public() || seenByClient != kb.Public() {
		t.Errorf("server saw %x, client saw %x", seenByServer.Bytes(), seenByClient.Bytes())
	}
	peer, err := PeerOfCertificate(srvConn.ConnectionState().PeerCertificates[0])
	if err != nil || peer != peerOf(ka) {
		t.Errorf("the server's PeerOfCertificate = %s, %v; want %s", peer, err, peerOf(ka))
	}
}

// tlsPipe runs a TLS handshake over an in-memory pipe and returns both
// ends, failing the test if either side's handshake fails.
func tlsPipe(t *testing.T, cli, srv *tls.Config) (*tls.Conn, *tls.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() }) // not tls.Conn.Close: its close_notify would block on the pipe
	c, s := tls.Client(a, cli), tls.Server(b, srv)
	errc := make(chan error, 1)
	go func() { errc <- s.Handshake() }()
	if err := c.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return c, s
}
