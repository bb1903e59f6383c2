package udp

import (
	"slices"
	"testing"
)

// TestMessages: how flushTx groups datagrams into messages.
func TestMessages(t *testing.T) {
	rep := func(n, size int) []int { return slices.Repeat([]int{size}, n) }
	for _, tc := range []struct {
		name  string
		sizes []int
		from  int
		gso   bool
		want  []int // datagrams per message
		seg   []int // segment sizes (0: one datagram)
	}{
		{"equal run, then a shorter one ends it", slices.Concat(rep(3, 100), []int{50, 100}), 0, true, []int{4, 1}, []int{100, 0}},
		{"a bigger one starts a new run", []int{50, 100, 100}, 0, true, []int{1, 2}, []int{0, 100}},
		{"two shorter ones: the second starts a run", []int{100, 50, 50}, 0, true, []int{2, 1}, []int{100, 0}},
		{"at most gsoMaxSegments", rep(gsoMaxSegments+1, 10), 0, true, []int{gsoMaxSegments, 1}, []int{10, 0}},
		{"at most gsoMaxBytes", rep(9, 8193), 0, true, []int{7, 2}, []int{8193, 8193}},
		{"without GSO, one each", rep(3, 100), 0, false, []int{1, 1, 1}, []int{0, 0, 0}},
		{"from a datagram on", []int{7, 100, 100}, 1, true, []int{2}, []int{100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tx txBatch
			for _, s := range tc.sizes {
				tx.push(make([]byte, s))
			}
			tx.messages(tc.from, tc.gso)
			var got []int
			total := 0
			for k := range tx.hdrs {
				got = append(got, tx.datagrams(k))
				total += tx.bytes(k)
				if withCmsg := tx.hdrs[k].hdr.Controllen > 0; withCmsg != (tx.seg[k] > 0) {
					t.Errorf("message %d: control message %v, segment size %d", k, withCmsg, tx.seg[k])
				}
				if int(tx.iov[k].Len) != tx.bytes(k) {
					t.Errorf("message %d: iovec of %d bytes, want %d", k, tx.iov[k].Len, tx.bytes(k))
				}
			}
			if !slices.Equal(got, tc.want) || !slices.Equal(tx.seg, tc.seg) {
				t.Errorf("datagrams per message %v, segments %v; want %v, %v", got, tx.seg, tc.want, tc.seg)
			}
			want := 0
			for _, s := range tc.sizes[tc.from:] {
				want += s
			}
			if total != want {
				t.Errorf("messages carry %d bytes; want %d", total, want)
			}
		})
	}
}
