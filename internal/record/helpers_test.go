package record

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flynn/noise"
)

// cipherPair returns a sending and a receiving CipherState sharing a key, as
// the two ends of a finished Noise handshake hold them.
func cipherPair(t testing.TB, fn noise.CipherFunc) (send, recv *noise.CipherState) {
	t.Helper()
	suite := noise.NewCipherSuite(noise.DH25519, fn, noise.HashBLAKE2s)
	var key [32]byte
	for i := range key {
		key[i] = byte(i*7 + 1)
	}
	return noise.UnsafeNewCipherState(suite, key, 0), noise.UnsafeNewCipherState(suite, key, 0)
}

// cipherModes names the three record modes the stream and datagram tests run
// in; a nil CipherFunc is plaintext mode.
var cipherModes = []struct {
	name string
	fn   noise.CipherFunc
}{
	{"chacha", noise.CipherChaChaPoly},
	{"aes", noise.CipherAESGCM},
	{"plain", nil},
}

func modePair(t testing.TB, fn noise.CipherFunc) (send, recv *noise.CipherState) {
	if fn == nil {
		return nil, nil
	}
	return cipherPair(t, fn)
}

// randU64 returns a random value of random bit length, so that varints of
// every length occur.
func randU64(rng *rand.Rand) uint64 {
	return rng.Uint64() >> rng.IntN(65)
}

// randPNAck fills a with n valid ranges, built upward from a random base and
// then reversed into descending order.
func randPNAck(rng *rand.Rand, a *PNAck, n int) {
	step := func() uint64 { return rng.Uint64() >> (40 + rng.IntN(25)) }
	lo := step()
	if rng.IntN(2) == 0 {
		lo += rng.Uint64() >> 1 // large packet numbers: long varints
	}
	var asc []PNRange
	for range n {
		hi := lo + step()
		asc = append(asc, PNRange{lo, hi})
		lo = hi + 2 + step()
	}
	slices.Reverse(asc)
	a.AckDelayMicros = randU64(rng)
	a.NumRanges = copy(a.Ranges[:], asc)
}

// randFrame returns a random valid frame whose present sections are those
// of mask (bit i = i-th section in wire order; bit 6 = DATA).
func randFrame(rng *rand.Rand, mask int) *Frame {
	f := &Frame{}
	if mask&1 != 0 {
		f.HasHello = true
		for i := range f.Hello.SessionID {
			f.Hello.SessionID[i] = byte(rng.Uint32())
		}
		f.Hello.RecvOffset, f.Hello.MaxMessageBytes = randU64(rng), randU64(rng)
	}
	if mask&2 != 0 {
		f.HasAck, f.Ack = true, Ack{randU64(rng), randU64(rng)}
	}
	if mask&4 != 0 {
		f.HasPNAck = true
		randPNAck(rng, &f.PNAck, 1+rng.IntN(MaxPNAckRanges+1))
	}
	if mask&8 != 0 {
		f.HasPing, f.Ping = true, randU64(rng)
	}
	if mask&16 != 0 {
		f.HasPong, f.Pong = true, randU64(rng)
	}
	if mask&32 != 0 {
		f.HasClose = true
		f.Close = Close{Code: randU64(rng), Reason: randBytes(rng, rng.IntN(MaxCloseReason+1))}
	}
	if mask&64 != 0 {
		f.Data = randBytes(rng, 1+rng.IntN(2000))
		f.DataOffset = randU64(rng) >> 1
	}
	return f
}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// framesEqual compares the meaningful parts of two frames.
func framesEqual(a, b *Frame) bool {
	return a.HasHello == b.HasHello && a.Hello == b.Hello &&
		a.HasAck == b.HasAck && a.Ack == b.Ack &&
		a.HasPNAck == b.HasPNAck && (!a.HasPNAck ||
		a.PNAck.AckDelayMicros == b.PNAck.AckDelayMicros && slices.Equal(a.PNAck.Acked(), b.PNAck.Acked())) &&
		a.HasPing == b.HasPing && a.Ping == b.Ping &&
		a.HasPong == b.HasPong && a.Pong == b.Pong &&
		a.HasClose == b.HasClose && a.Close.Code == b.Close.Code && bytes.Equal(a.Close.Reason, b.Close.Reason) &&
		a.DataOffset == b.DataOffset && bytes.Equal(a.Data, b.Data) && a.Detached == b.Detached
}
