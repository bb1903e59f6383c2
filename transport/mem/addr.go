package mem

import (
	"encoding/binary"
	"fmt"
	"strconv"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/transport"
)

// parseAddr returns the id of a /memory/<id> address. A trailing
// /p2p/<peer-id> is allowed and ignored; anything else is unsupported.
func parseAddr(a ma.Multiaddr) (uint64, error) {
	if len(a) == 0 || a[0].Code() != ma.P_MEMORY {
		return 0, fmt.Errorf("mem: %q is not a /memory address: %w", a.String(), transport.ErrUnsupportedAddr)
	}
	for _, c := range a[1:] {
		if c.Code() != ma.P_P2P {
			return 0, fmt.Errorf("mem: %q: unexpected /%s after /memory: %w", a.String(), c.Protocol().Name, transport.ErrUnsupportedAddr)
		}
	}
	raw := a[0].RawValue()
	if len(raw) != 8 {
		return 0, fmt.Errorf("mem: %q: bad /memory value: %w", a.String(), transport.ErrUnsupportedAddr)
	}
	return binary.BigEndian.Uint64(raw), nil
}

// memAddr returns /memory/<id>.
func memAddr(id uint64) ma.Multiaddr {
	c, err := ma.NewComponent("memory", strconv.FormatUint(id, 10))
	if err != nil {
		panic(fmt.Sprintf("mem: cannot build /memory/%d: %v", id, err)) // every uint64 is valid
	}
	return c.Multiaddr()
}
