package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

func TestDatagramRoundTripAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	for _, m := range cipherModes {
		t.Run(m.name, func(t *testing.T) {
			sc, rc := modePair(t, m.fn)
			s, o := NewDatagramSealer(sc), NewDatagramOpener(rc)
			var pkts, pts [][]byte
			for i := range 200 {
				pt := randBytes(rng, rng.IntN(1400))
				pkt, pn, err := s.Seal([]byte("xx"), pt)
				if err != nil || pn != uint64(i) || s.NextPN() != uint64(i+1) {
					t.Fatalf("Seal: pn %d, next %d, %v", pn, s.NextPN(), err)
				}
				if pkt[2] != TypeData || binary.BigEndian.Uint64(pkt[3:]) != pn {
					t.Fatalf("header % x", pkt[2:2+DatagramHeaderLen])
				}
				pkts, pts = append(pkts, pkt[2:]), append(pts, pt)
			}
			for _, i := range rng.Perm(len(pkts)) {
				pn, got, err := o.Open([]byte("y"), pkts[i])
				if err != nil || pn != uint64(i) || !bytes.Equal(got[1:], pts[i]) || got[0] != 'y' {
					t.Fatalf("Open(packet %d) = %d, %v", i, pn, err)
				}
			}
			for i := range pkts {
				if _, _, err := o.Open(nil, pkts[i]); !errors.Is(err, ErrReplay) {
					t.Fatalf("duplicate of packet %d: %v, want ErrReplay", i, err)
				}
			}
		})
	}
}

// refWindow is the replay rule stated plainly: accept a packet number once,
// unless it is ReplayWindow or more below the largest accepted.
type refWindow struct {
	seen    map[uint64]bool
	largest uint64
}

func (r *refWindow) accept(pn uint64) bool {
	if r.seen[pn] || pn < r.largest && r.largest-pn >= ReplayWindow {
		return false
	}
	r.seen[pn] = true
	r.largest = max(r.largest, pn)
	return true
}

func TestReplayWindowAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for trial := range 20 {
		var w replayWindow
		ref := refWindow{seen: map[uint64]bool{}}
		next := uint64(0)
		for range 20000 {
			var pn uint64
			switch k := rng.IntN(100); {
			case k < 50: // mostly in order
				pn = next
				next++
			case k < 85: // reordered or duplicated, near the edge of the window
				pn = next - min(next, uint64(rng.IntN(ReplayWindow+200)))
			case k < 98: // a small jump ahead
				next += uint64(rng.IntN(3 * ReplayWindow))
				pn = next
			default: // a far jump ahead
				next += uint64(rng.IntN(1 << 20))
				pn = next
			}
			want := ref.accept(pn)
			err := w.check(pn)
			if (err == nil) != want {
				t.Fatalf("trial %d: pn %d (largest %d): check = %v, reference accepts = %v", trial, pn, ref.largest, err, want)
			}
			if err == nil {
				w.mark(pn)
			}
		}
	}
}

func TestReplayWindowEdges(t *testing.T) {
	var w replayWindow
	accept := func(pn uint64) error {
		err := w.check(pn)
		if err == nil {
			w.mark(pn)
		}
		return err
	}
	if err := accept(0); err != nil {
		t.Fatal("first packet 0 rejected")
	}
	if err := accept(0); err != errReplayDuplicate {
		t.Fatalf("duplicate 0: %v", err)
	}
	if err := accept(5000); err != nil {
		t.Fatal(err)
	}
	if err := accept(5000 - ReplayWindow); err != errReplayTooOld {
		t.Fatalf("exactly ReplayWindow below: %v", err)
	}
	if err := accept(5000 - ReplayWindow + 1); err != nil {
		t.Fatalf("just inside the window: %v", err)
	}
	if err := accept(5000 - ReplayWindow + 1); err != errReplayDuplicate {
		t.Fatalf("duplicate inside the window: %v", err)
	}
	if err := accept(1 << 40); err != nil { // far ahead: the whole ring is reset
		t.Fatal(err)
	}
	for pn := uint64(1<<40) - ReplayWindow + 1; pn < 1<<40; pn++ {
		if err := accept(pn); err != nil {
			t.Fatalf("pn %d after far jump: %v", pn, err)
		}
	}
}

func TestDatagramTamperedPacket(t *testing.T) {
	for _, m := range cipherModes[:2] {
		t.Run(m.name, func(t *testing.T) {
			sc, rc := cipherPair(t, m.fn)
			s, o := NewDatagramSealer(sc), NewDatagramOpener(rc)
			pkt, pn, _ := s.Seal(nil, []byte("datagram payload"))
			for bit := 8; bit < len(pkt)*8; bit++ { // every bit but the type byte
				mut := bytes.Clone(pkt)
				mut[bit/8] ^= 1 << (bit % 8)
				if _, _, err := o.Open(nil, mut); !errors.Is(err, ErrAuth) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("bit %d flipped: %v, want ErrAuth", bit, err)
				} else if bit >= DatagramHeaderLen*8 && err != ErrAuth {
					t.Fatalf("bit %d flipped: %v, want ErrAuth", bit, err)
				}
			}
			// Failed packets did not enter the replay window.
			if got, _, err := o.Open(nil, pkt); err != nil || got != pn {
				t.Fatalf("genuine packet after tampered copies: %v", err)
			}
		})
	}
}

func TestDatagramMalformed(t *testing.T) {
	sc, rc := cipherPair(t, cipherModes[0].fn)
	s, o := NewDatagramSealer(sc), NewDatagramOpener(rc)
	pkt, _, _ := s.Seal(nil, nil)
	hs := bytes.Clone(pkt)
	hs[0] = TypeHandshake
	reserved := bytes.Clone(pkt)
	binary.BigEndian.PutUint64(reserved[1:], 1<<64-1)
	for _, tt := range []struct {
		name string
		pkt  []byte
	}{
		{"empty", nil},
		{"header only", pkt[:DatagramHeaderLen]},
		{"no full tag", pkt[:len(pkt)-1]},
		{"handshake type", hs},
		{"reserved pn", reserved},
		{"too large", append(bytes.Clone(pkt), make([]byte, MaxPlaintext+1)...)},
	} {
		if _, _, err := o.Open(nil, tt.pkt); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Open = %v, want ErrMalformed", tt.name, err)
		}
	}
	if _, _, err := NewDatagramOpener(nil).Open(nil, pkt[:DatagramHeaderLen]); err != nil {
		t.Errorf("plaintext mode, empty payload: %v", err)
	}
	if _, _, err := s.Seal(nil, make([]byte, MaxPlaintext+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Seal above MaxPlaintext: %v", err)
	}
}

func TestDatagramInPlaceAndAllocs(t *testing.T) {
	for _, m := range cipherModes {
		sc, rc := modePair(t, m.fn)
		s, o := NewDatagramSealer(sc), NewDatagramOpener(rc)
		msg := []byte("opened in place")
		buf := make([]byte, 0, 1500)
		step := func() {
			copy(buf[DatagramHeaderLen:cap(buf)], msg)
			pkt, pn, err := s.Seal(buf, buf[DatagramHeaderLen:DatagramHeaderLen+len(msg)])
			if err != nil || &pkt[0] != &buf[:1][0] {
				t.Fatalf("%s: in-place Seal: %v", m.name, err)
			}
			got, pt, err := o.Open(pkt[DatagramHeaderLen:DatagramHeaderLen], pkt)
			if err != nil || got != pn || !bytes.Equal(pt, msg) || &pt[0] != &pkt[DatagramHeaderLen] {
				t.Fatalf("%s: in-place Open: %v", m.name, err)
			}
		}
		if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
			t.Errorf("%s: seal+open: %v allocs, want 0", m.name, allocs)
		}
		// Routine drops do not allocate.
		pkt, _, _ := s.Seal(nil, msg)
		if _, _, err := o.Open(nil, pkt); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(100, func() { _, _, _ = o.Open(nil, pkt) }); a != 0 {
			t.Errorf("%s: replay drop: %v allocs", m.name, a)
		}
	}
}
