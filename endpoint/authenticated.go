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

// handshakeFor returns the handshake to run on c with hs's configuration.
// Over a transport.Authenticated connection (quic's TLS 1.3, a libp2p
// stream) the transport has proven both transport identities and seals
// every byte, so Noise would only encrypt twice: the link runs
// handshake.AuthState instead, and its records travel in the plaintext
// framing. The connection's type decides, and both ends of a connection
// share their transport, so neither side can pick the other mode; a peer
// that speaks Noise there anyway fails the handshake as malformed.
func handshakeFor(c transport.Conn, hs *handshake.State) (handshaker, error) {
	a, ok := c.(transport.Authenticated)
	if !ok {
		return hs, nil
	}
	auth, err := hs.Authenticated(a.LocalPeer(), a.RemotePeer())
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	return auth, nil
}
