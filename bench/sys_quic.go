package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"sync"

	"github.com/quic-go/quic-go"
)

// quic-go is one QUIC connection per Conn with one bidirectional stream
// and the shared bufio framing, default quic.Config, a self-signed
// certificate, as quic-go's echo example does. A dialer sends all its
// connections through one quic.Transport (one UDP socket), as quic-go's
// docs recommend for clients with many connections.

func init() {
	registerSystem(QUICGo, systemEntry{
		open: func() System { return &quicSystem{} },
		variants: func(cfg *Config) []Variant {
			if !cfg.anySecure() {
				return nil
			}
			return []Variant{{System: QUICGo, Transport: "quic", Security: TLS}}
		},
	})
}

const quicALPN = "weft-bench"

type quicSystem struct{}

func (*quicSystem) Close() error { return nil }

var (
	quicCertOnce sync.Once
	quicCert     tls.Certificate
	quicCertErr  error
)

// selfSigned returns a self-signed Ed25519 certificate, made once.
func selfSigned() (tls.Certificate, error) {
	quicCertOnce.Do(func() {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			quicCertErr = err
			return
		}
		tmpl := x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, priv.Public(), priv)
		quicCert, quicCertErr = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}, err
	})
	return quicCert, quicCertErr
}

func (*quicSystem) Listen(ctx context.Context, spec ServerSpec) (Server, error) {
	cert, err := selfSigned()
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{quicALPN}}
	ln, err := quic.ListenAddr("127.0.0.1:0", tlsConf, nil)
	if err != nil {
		return nil, err
	}
	s := &quicServer{counter: newCounter(), ln: ln}
	s.g.goWait(func() { s.acceptLoop(spec) })
	return s, nil
}

type quicServer struct {
	*counter
	ln *quic.Listener
	g  streamGroup
}

// quicConnCloser closes a QUIC connection as an io.Closer.
type quicConnCloser struct{ c *quic.Conn }

func (q quicConnCloser) Close() error { return q.c.CloseWithError(0, "") }

func (s *quicServer) acceptLoop(spec ServerSpec) {
	ctx := context.Background()
	for {
		c, err := s.ln.Accept(ctx)
		if err != nil {
			return
		}
		s.g.serve(quicConnCloser{c}, func() {
			st, err := c.AcceptStream(ctx)
			if err != nil {
				return
			}
			_ = serveStream(st, spec, s.counter)
			st.CancelRead(0)
			_ = st.Close()
		})
	}
}

func (s *quicServer) Addr() string { return s.ln.Addr().String() }

func (s *quicServer) Close() error {
	err := s.ln.Close()
	s.g.closeAll()
	return err
}

func (*quicSystem) NewDialer(ctx context.Context, v Variant, max int) (Dialer, error) {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return &quicDialer{tr: &quic.Transport{Conn: udp}, udp: udp, max: max}, nil
}

type quicDialer struct {
	tr    *quic.Transport
	udp   *net.UDPConn
	max   int
	conns closers
}

func (d *quicDialer) Dial(ctx context.Context, addr string, mode Mode) (Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{quicALPN}}
	c, err := d.tr.Dial(ctx, ua, tlsConf, nil)
	if err != nil {
		return nil, err
	}
	closeConn := func() error { return c.CloseWithError(0, "") }
	if !d.conns.add(closeConn) {
		_ = closeConn()
		return nil, net.ErrClosed
	}
	st, err := c.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	sc := newStreamConn(st, d.max)
	sc.closeFn = func() error {
		st.CancelRead(0)
		return errors.Join(st.Close(), closeConn())
	}
	return sc, nil
}

func (d *quicDialer) Close() error {
	_ = d.conns.close()
	err := d.tr.Close()
	_ = d.udp.Close() // the transport may have closed it already
	return err
}
