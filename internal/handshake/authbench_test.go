package handshake

import (
	"testing"

	"github.com/weftnet/weft/identity"
)

// authSetup builds one side of the authenticated exchange for a
// connection whose transport proved local and remote.
type authSetup func(cfg Config, initiator bool, local, remote identity.PeerID) (*AuthState, error)

// setupViaNoise is how the endpoint built it before NewAuthInitiator
// checked the Config itself: a whole Noise State (fresh static key,
// signature over it), then State.Authenticated, which kept the config and
// dropped the rest.
func setupViaNoise(cfg Config, initiator bool, local, remote identity.PeerID) (*AuthState, error) {
	newState := NewResponder
	if initiator {
		newState = NewInitiator
	}
	s, err := newState(cfg)
	if err != nil {
		return nil, err
	}
	return authFromConfig(s.cfg, s.initiator, local, remote)
}

// setupDirect is today's path.
func setupDirect(cfg Config, initiator bool, local, remote identity.PeerID) (*AuthState, error) {
	if initiator {
		return NewAuthInitiator(cfg, local, remote)
	}
	return NewAuthResponder(cfg, local, remote)
}

var authSetups = []struct {
	name  string
	setup authSetup
}{{"via-noise", setupViaNoise}, {"direct", setupDirect}}

// BenchmarkAuthSetup is the per-connection cost of building one side's
// handshake state over an authenticated transport (QUIC, libp2p), before
// (via-noise) and after (direct). Sub-benchmarks alternate under -count.
func BenchmarkAuthSetup(b *testing.B) {
	ki, kr := testKey(b, 1), testKey(b, 2)
	cfg := Config{Identity: ki, Expect: peerOf(kr)}
	for _, s := range authSetups {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.setup(cfg, true, peerOf(ki), peerOf(kr)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthHandshake is a whole handshake over an authenticated
// transport, both sides (setup, m1, m2), as the endpoint runs it per
// connection, before and after.
func BenchmarkAuthHandshake(b *testing.B) {
	ki, kr := testKey(b, 1), testKey(b, 2)
	ic, rc := Config{Identity: ki, Expect: peerOf(kr)}, Config{Identity: kr}
	ti, tr := peerOf(ki), peerOf(kr)
	for _, s := range authSetups {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ini, err := s.setup(ic, true, ti, tr)
				if err != nil {
					b.Fatal(err)
				}
				rsp, err := s.setup(rc, false, tr, ti)
				if err != nil {
					b.Fatal(err)
				}
				if err := authRoundTrip(ini, rsp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// authRoundTrip runs m1 and m2 between ini and rsp.
func authRoundTrip(ini, rsp *AuthState) error {
	m1, err := ini.Start()
	if err != nil {
		return err
	}
	m2, _, err := rsp.Step(m1)
	if err != nil {
		return err
	}
	_, _, err = ini.Step(m2)
	return err
}
