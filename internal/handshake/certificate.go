package handshake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/weftnet/weft/identity"
)

// TLS certificates bound to a node's identity key, for transports that run
// TLS 1.3 themselves (transport/quic). The scheme is libp2p's
// (go-libp2p/p2p/security/tls) with weft's own domain string and OID:
//
//   - The certificate is self-signed, for a fresh ECDSA P-256 key: the
//     identity key never signs a TLS transcript (key separation), and any
//     TLS 1.3 stack can verify the CertificateVerify.
//   - It carries one extension, OID CertExtensionOID, not critical, whose
//     value is the DER encoding of SEQUENCE { OCTET STRING identityKey,
//     OCTET STRING signature }, that is exactly these 102 bytes:
//     30 64 04 20 <identityKey: 32 bytes, raw Ed25519> 04 40 <signature:
//     64 bytes>, where signature = identity.Sign(CertDomain, spki) and spki
//     is the DER SubjectPublicKeyInfo of the certificate's key.
//
// TLS 1.3 proves that the peer holds the certificate's private key (its
// CertificateVerify signs the handshake transcript); the extension proves
// that the identity key endorsed that certificate key. Together they prove
// the peer is that identity. The certificate's own signature and validity
// dates are not checked: whoever holds the certificate key could re-sign
// the certificate with any dates, so they prove nothing more.

// CertDomain is the identity signature domain over a certificate's
// SubjectPublicKeyInfo.
const CertDomain = "weft-tls-certificate-key"

// CertExtensionOID identifies weft's signed-key extension. weft has no IANA
// Private Enterprise Number yet, so the OID sits under an unassigned one,
// 1.3.6.1.4.1.59999; a certificate is accepted only if the extension's
// signature verifies under CertDomain, so a foreign extension that happened
// to share the OID could only make a certificate fail, never pass. Replace
// it (a protocol version change) once weft registers a number.
var CertExtensionOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 59999, 1, 1}

// ErrBadCertificate: a peer's TLS certificate chain is not one certificate
// carrying a valid signed-key extension. Errors from VerifyCertificate and
// DecodeCertExtension wrap it.
var ErrBadCertificate = errors.New("handshake: bad certificate")

// certExtensionLen is the length of the extension value; certExtensionHdr
// and certSigHdr are its fixed DER headers.
const certExtensionLen = 4 + identity.PublicKeySize + 2 + identity.SignatureSize

var (
	certExtensionHdr = [4]byte{0x30, certExtensionLen - 2, 0x04, identity.PublicKeySize}
	certSigHdr       = [2]byte{0x04, identity.SignatureSize}
)

// signedKey is the decoded extension value.
type signedKey struct {
	key identity.PublicKey
	sig [identity.SignatureSize]byte
}

// encodeSignedKey encodes s as the extension value.
func encodeSignedKey(s signedKey) []byte {
	b := make([]byte, 0, certExtensionLen)
	b = append(b, certExtensionHdr[:]...)
	b = append(b, s.key.Bytes()...)
	b = append(b, certSigHdr[:]...)
	return append(b, s.sig[:]...)
}

// decodeSignedKey decodes what encodeSignedKey encodes, and nothing else.
func decodeSignedKey(b []byte) (signedKey, error) {
	if len(b) != certExtensionLen {
		return signedKey{}, fmt.Errorf("%w: extension value is %d bytes, want %d", ErrBadCertificate, len(b), certExtensionLen)
	}
	keyEnd := len(certExtensionHdr) + identity.PublicKeySize
	if [4]byte(b[:4]) != certExtensionHdr || [2]byte(b[keyEnd:keyEnd+2]) != certSigHdr {
		return signedKey{}, fmt.Errorf("%w: extension value is not SEQUENCE { OCTET STRING (32), OCTET STRING (64) }", ErrBadCertificate)
	}
	key, err := identity.PublicKeyFromBytes(b[4:keyEnd])
	if err != nil {
		return signedKey{}, fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	s := signedKey{key: key}
	copy(s.sig[:], b[keyEnd+2:])
	return s, nil
}

// DecodeCertExtension decodes b as the value of the signed-key extension
// and returns its encoding again (equal to b: the encoding is fixed). It
// does not check the signature. For fuzzing; errors wrap
// ErrBadCertificate.
func DecodeCertExtension(b []byte) ([]byte, error) {
	s, err := decodeSignedKey(b)
	if err != nil {
		return nil, err
	}
	return encodeSignedKey(s), nil
}

// NewCertificate returns a self-signed TLS certificate for a fresh ECDSA
// P-256 key, bound to key by the signed-key extension. rnd is the source of
// the certificate key and serial numbers; nil means crypto/rand.Reader.
func NewCertificate(key identity.PrivateKey, rnd io.Reader) (tls.Certificate, error) {
	if key.IsZero() {
		return tls.Certificate{}, errors.New("handshake: certificate: identity key is required")
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("handshake: certificate key: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(certKey.Public())
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("handshake: certificate key: %w", err)
	}
	sig, err := key.Sign(CertDomain, spki)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("handshake: sign certificate key: %w", err)
	}
	s := signedKey{key: key.Public()}
	copy(s.sig[:], sig)
	tmpl, err := certTemplate(rnd)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl.ExtraExtensions = []pkix.Extension{{Id: CertExtensionOID, Value: encodeSignedKey(s)}}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, certKey.Public(), certKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("handshake: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("handshake: parse own certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: certKey, Leaf: leaf}, nil
}

// certTemplate is the certificate's content besides its key and extension.
// The dates are wide because nobody checks them (see above) but generic
// tools print them.
func certTemplate(rnd io.Reader) (*x509.Certificate, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 62)
	serial, err := rand.Int(rnd, limit)
	if err != nil {
		return nil, fmt.Errorf("handshake: certificate serial: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "weft"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(100 * 365 * 24 * time.Hour),
	}, nil
}

// VerifyCertificate checks a peer's certificate chain as crypto/tls hands
// it to VerifyPeerCertificate: exactly one certificate, carrying exactly one
// signed-key extension whose signature by the identity key it names covers
// the certificate's public key. It returns that identity key. Errors wrap
// ErrBadCertificate.
func VerifyCertificate(rawCerts [][]byte) (identity.PublicKey, error) {
	if len(rawCerts) != 1 {
		return identity.PublicKey{}, fmt.Errorf("%w: %d certificates, want 1", ErrBadCertificate, len(rawCerts))
	}
	cert, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return identity.PublicKey{}, fmt.Errorf("%w: %w", ErrBadCertificate, err)
	}
	return verifyParsed(cert)
}

// verifyParsed is VerifyCertificate on a parsed certificate.
func verifyParsed(cert *x509.Certificate) (identity.PublicKey, error) {
	var value []byte
	found := 0
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(CertExtensionOID) {
			value = ext.Value
			found++
		}
	}
	if found != 1 {
		return identity.PublicKey{}, fmt.Errorf("%w: %d signed-key extensions, want 1", ErrBadCertificate, found)
	}
	s, err := decodeSignedKey(value)
	if err != nil {
		return identity.PublicKey{}, err
	}
	if !s.key.Verify(CertDomain, cert.RawSubjectPublicKeyInfo, s.sig[:]) {
		return identity.PublicKey{}, fmt.Errorf("%w: the signature of %s over the certificate key does not verify",
			ErrBadCertificate, identity.PeerIDFromPublicKey(s.key))
	}
	return s.key, nil
}

// PeerOfCertificate returns the peer ID a certificate that crypto/tls
// parsed (tls.ConnectionState.PeerCertificates[0]) proves, checking it
// again as VerifyCertificate does.
func PeerOfCertificate(cert *x509.Certificate) (identity.PeerID, error) {
	key, err := verifyParsed(cert)
	if err != nil {
		return identity.PeerID{}, err
	}
	return identity.PeerIDFromPublicKey(key), nil
}
