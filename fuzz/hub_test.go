package fuzz

import (
	"bytes"
	"errors"
	"testing"

	"github.com/weftnet/weft/hub"
)

// FuzzHubFrame: the hub's frame decoder never panics, fails only with
// hub.ErrMalformed, and what it accepts re-encodes to the same bytes and
// parses back to the same frame.
func FuzzHubFrame(f *testing.F) {
	for _, fr := range []hub.Frame{
		{Kind: hub.KindHello, Epoch: 1<<62 + 3, Lane: hub.Bulk},
		{Kind: hub.KindActivate},
		{Kind: hub.KindRefuse, Code: hub.RefuseNotMember, Payload: []byte("not a member")},
		{Kind: hub.KindMessage, Payload: []byte("payload")},
		{Kind: hub.KindRequest, ID: 300, Payload: []byte{1, 2, 3}},
		{Kind: hub.KindReply, ID: 1 << 63},
		{Kind: hub.KindError, ID: 7, Payload: []byte("no")},
	} {
		f.Add(hub.AppendFrame(nil, &fr))
	}
	f.Add([]byte{0x15, 0x80, 0x00})       // non-minimal id
	f.Add([]byte{0x11, 0, 0, 0, 0, 0, 9}) // short hello
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr hub.Frame
		if err := hub.ParseFrame(b, &fr); err != nil {
			var fe *hub.FrameError
			if !errors.Is(err, hub.ErrMalformed) || !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FrameError wrapping ErrMalformed", err)
			}
			return
		}
		out := hub.AppendFrame(nil, &fr)
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoding %x gave %x", b, out)
		}
		var again hub.Frame
		if err := hub.ParseFrame(out, &again); err != nil {
			t.Fatalf("re-encoded frame does not parse: %v", err)
		}
		if again.Kind != fr.Kind || again.Epoch != fr.Epoch || again.Lane != fr.Lane || again.Code != fr.Code ||
			again.ID != fr.ID || !bytes.Equal(again.Payload, fr.Payload) {
			t.Fatalf("round trip changed %+v into %+v", fr, again)
		}
	})
}
