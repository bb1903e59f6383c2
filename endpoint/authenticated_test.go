package endpoint

import (
	"errors"
	"testing"

	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
	"github.com/weftnet/weft/transport"
)

// plainConn and authConn stand for connections of a transport that does
// or does not authenticate; handshakeFor only looks at their type.
type plainConn struct{ transport.Conn }

type authConn struct {
	transport.Conn
	local, remote identity.PeerID
}

func (c authConn) LocalPeer() identity.PeerID  { return c.local }
func (c authConn) RemotePeer() identity.PeerID { return c.remote }

// TestHandshakeFor: Noise over a plain connection, the authenticated
// exchange over an authenticated one, decided by the connection alone.
func TestHandshakeFor(t *testing.T) {
	key := testKey(t, 1)
	hs, err := handshake.NewInitiator(handshake.Config{Identity: key})
	if err != nil {
		t.Fatal(err)
	}
	h, err := handshakeFor(plainConn{}, hs)
	if err != nil || h != handshaker(hs) {
		t.Errorf("over a plain connection: %T, %v; want the Noise state", h, err)
	}
	self := identity.PeerIDFromPublicKey(key.Public())
	other := identity.PeerIDFromPublicKey(testKey(t, 2).Public())
	h, err = handshakeFor(authConn{local: self, remote: other}, hs)
	if _, ok := h.(*handshake.AuthState); !ok || err != nil {
		t.Fatalf("over an authenticated connection: %T, %v; want *handshake.AuthState", h, err)
	}
	m1, err := h.Start()
	if err != nil {
		t.Fatal(err)
	}
	if len(m1) > 8 {
		t.Errorf("m1 is %d bytes although the endpoint's identity is the transport's: it should carry no proof", len(m1))
	}
	if _, err := handshakeFor(authConn{}, hs); err == nil {
		t.Error("an authenticated connection without peer IDs was accepted")
	}
	// A peer speaking Noise where the authenticated exchange is expected
	// fails the handshake as malformed: it cannot pick the other mode.
	rsp, _ := handshake.NewResponder(handshake.Config{Identity: testKey(t, 2)})
	ah, err := handshakeFor(authConn{local: other, remote: self}, rsp)
	if err != nil {
		t.Fatal(err)
	}
	noise, _ := handshake.NewInitiator(handshake.Config{Identity: key})
	msg1, _ := noise.Start()
	if _, _, err := ah.Step(msg1); !errors.Is(err, handshake.ErrMalformed) {
		t.Errorf("Noise msg1 over an authenticated connection: %v; want ErrMalformed", err)
	}
}
