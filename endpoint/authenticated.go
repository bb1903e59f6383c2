package endpoint

import (
	"fmt"

	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/transport"
)

// handshaker is one side of a link's handshake: Noise XX
// (handshake.State), or the two-message exchange over a connection its
// transport already authenticated (handshake.AuthState). Both frame their
// messages alike and return the same Result.
type handshaker interface {
	Start() ([]byte, error)
	Step(in []byte) (out []byte, res *handshake.Result, err error)
}

// handshakeFor returns the handshake to run on c with cfg, which
// cfg.Check accepted, for the dialer (initiator) or the listener. Over a
// transport.Authenticated connection (quic's TLS 1.3, a libp2p stream)
// the transport has proven both transport identities and seals every
// byte, so Noise would only encrypt twice: the link runs
// handshake.AuthState instead, and its records travel in the plaintext
// framing. Noise's state (a fresh static key and a signature over it) is
// built only for the other connections. The connection's type decides,
// and both ends of a connection share their transport, so neither side
// can pick the other mode; a peer that speaks Noise there anyway fails the
// handshake as malformed.
func handshakeFor(c transport.Conn, cfg handshake.Config, initiator bool) (handshaker, error) {
	if a, ok := c.(transport.Authenticated); ok {
		newAuth := handshake.NewAuthResponder
		if initiator {
			newAuth = handshake.NewAuthInitiator
		}
		s, err := newAuth(cfg, a.LocalPeer(), a.RemotePeer())
		if err != nil {
			return nil, fmt.Errorf("endpoint: %w", err)
		}
		return s, nil
	}
	newNoise := handshake.NewResponder
	if initiator {
		newNoise = handshake.NewInitiator
	}
	s, err := newNoise(cfg)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	return s, nil
}
