package bench

import (
	"fmt"
	"sort"
	"sync"

	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
	"github.com/weftnet/weft/transport/quic"
	"github.com/weftnet/weft/transport/tcp"
	"github.com/weftnet/weft/transport/udp"
)

// TransportSpec is one weft transport the benchmark can run over. Adding a
// transport (quic, udp) is one RegisterTransport call.
type TransportSpec struct {
	// Name is the transport's name on the command line and in reports.
	Name string
	// New opens the transport of one node (a server or a dialer) whose
	// identity is key (QUIC binds its certificate to it); close releases
	// it (nil: nothing to do). A run opens one per node and key, and
	// closes them when it ends.
	New func(key identity.PrivateKey) (tr transport.Transport, close func() error, err error)
	// ListenAddr is the multiaddr servers listen on: loopback, any port.
	ListenAddr string
	// InProcess marks a transport whose nodes must share one instance
	// (mem's in-process network): New is called once per run, and the
	// transport cannot run with Config.Split.
	InProcess bool
}

var (
	transportsMu sync.RWMutex
	transports   = map[string]TransportSpec{}
)

// RegisterTransport adds or replaces a weft transport.
func RegisterTransport(t TransportSpec) {
	transportsMu.Lock()
	defer transportsMu.Unlock()
	transports[t.Name] = t
}

// Transports returns the names of the registered weft transports.
func Transports() []string {
	transportsMu.RLock()
	defer transportsMu.RUnlock()
	names := make([]string, 0, len(transports))
	for n := range transports {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookupTransport(name string) (TransportSpec, error) {
	transportsMu.RLock()
	t, ok := transports[name]
	transportsMu.RUnlock()
	if !ok {
		return TransportSpec{}, fmt.Errorf("bench: weft transport %q (have %v): %w", name, Transports(), ErrUnknown)
	}
	return t, nil
}

func init() {
	RegisterTransport(TransportSpec{
		Name: "tcp",
		New: func(identity.PrivateKey) (transport.Transport, func() error, error) {
			tr, err := tcp.New(tcp.Config{})
			return tr, nil, err
		},
		ListenAddr: "/ip4/127.0.0.1/tcp/0",
	})
	RegisterTransport(TransportSpec{
		Name: "mem",
		New: func(identity.PrivateKey) (transport.Transport, func() error, error) {
			nw, err := mem.NewNetwork(mem.Config{})
			if err != nil {
				return nil, nil, err
			}
			return nw.Transport(transport.Stream), nw.Close, nil
		},
		ListenAddr: "/memory/0",
		InProcess:  true,
	})
	RegisterTransport(TransportSpec{
		Name: "udp",
		New: func(identity.PrivateKey) (transport.Transport, func() error, error) {
			tr, err := udp.New(udp.Config{})
			return tr, nil, err
		},
		ListenAddr: "/ip4/127.0.0.1/udp/0",
	})
	RegisterTransport(TransportSpec{
		Name: "quic",
		New: func(key identity.PrivateKey) (transport.Transport, func() error, error) {
			tr, err := quic.New(quic.Config{Identity: key})
			return tr, nil, err
		},
		ListenAddr: "/ip4/127.0.0.1/udp/0/quic-v1",
	})
	// udp-loss2 is udp losing 2 % of the datagrams each side sends (the
	// transport's fault injection), for the endpoint's loss recovery.
	RegisterTransport(TransportSpec{
		Name: "udp-loss2",
		New: func(identity.PrivateKey) (transport.Transport, func() error, error) {
			tr, err := udp.New(udp.Config{Faults: udp.Faults{Loss: 0.02, Seed: 1}})
			return tr, nil, err
		},
		ListenAddr: "/ip4/127.0.0.1/udp/0",
	})
}
