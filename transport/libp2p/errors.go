package libp2p

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	msmux "github.com/multiformats/go-multistream"

	"github.com/weftnet/weft/transport"
)

// Errors of this package, wrapped with detail. Callers branch on them with
// errors.Is.
var (
	// ErrUnknownPeer: Dial got an address without /p2p/<peer-id> and the
	// host knows no peer there (no connection from that address, nothing
	// in its peerstore). It comes wrapped with transport.ErrRefused: as far
	// as the host can tell, nobody listens there.
	ErrUnknownPeer = errors.New("libp2p: no known peer at the address")
	// ErrAmbiguousAddr: Dial got an address without /p2p/<peer-id> that
	// the host knows for several peers. Name the peer.
	ErrAmbiguousAddr = errors.New("libp2p: several peers at the address")
	// ErrInsecureConn: the libp2p connection under a stream is not secured
	// (a host built with libp2p.NoSecurity): its peer ID is a claim, not a
	// proof, so the transport refuses it. Dial fails with it; an incoming
	// stream over such a connection is reset.
	ErrInsecureConn = errors.New("libp2p: connection not secured")
	// ErrNotEd25519: a peer (or the host) has a key other than Ed25519, so
	// its peer ID is not a weft identity.
	ErrNotEd25519 = errors.New("libp2p: not an Ed25519 peer")
	// ErrListening: the host already has a handler for the transport's
	// protocol (another Listen that is not closed, or some other code).
	ErrListening = errors.New("libp2p: the protocol already has a handler on this host")
)

// insecureID is the security protocol of go-libp2p's libp2p.NoSecurity
// (p2p/security/insecure.ID): connections with it authenticate nothing.
const insecureID protocol.ID = "/plaintext/2.0.0"

// dialError explains why a dial failed, as the transport contract wants
// it: the context's error if it ended, ErrRefused where nobody is there
// to talk to, err itself otherwise.
func dialError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	var notSupported msmux.ErrNotSupported[protocol.ID]
	switch {
	case errors.As(err, &notSupported):
		return fmt.Errorf("%w: the peer does not serve the protocol (no listener): %w", transport.ErrRefused, err)
	case errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, swarm.ErrDialBackoff),
		errors.Is(err, swarm.ErrNoAddresses),
		errors.Is(err, swarm.ErrNoGoodAddresses),
		errors.Is(err, swarm.ErrDialToSelf):
		return fmt.Errorf("%w: %w", transport.ErrRefused, err)
	}
	return err
}

// closeError explains why a stream's read side ended, as OnClose reports
// it: io.EOF when the peer closed its side, ErrReset otherwise.
func closeError(err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("libp2p: closed by peer: %w", io.EOF)
	}
	return fmt.Errorf("%w: %w", transport.ErrReset, err)
}
