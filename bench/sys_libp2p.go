package bench

import (
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	yamux "github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptcp "github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

// libp2p is a pair of go-libp2p hosts with only TCP, Noise (or no
// security) and yamux, a stream handler on the server and one stream per
// Conn with the shared bufio framing, as go-libp2p's examples do. libp2p
// keeps one connection per pair of peers, so a dialer's Conns are streams
// multiplexed on one TCP connection. The resource manager has infinite
// limits (rcmgr.InfiniteLimits) so that many-connection scenarios are not
// refused by the default per-peer stream limits.

func init() {
	registerSystem(Libp2p, systemEntry{
		open: func() System { return libp2pSystem{} },
		variants: func(cfg *Config) []Variant {
			var vs []Variant
			if cfg.anySecure() {
				vs = append(vs, Variant{System: Libp2p, Transport: "tcp", Security: Noise})
			}
			if cfg.hasSecurity(Plaintext) {
				vs = append(vs, Variant{System: Libp2p, Transport: "tcp", Security: Plaintext})
			}
			return vs
		},
	})
}

const libp2pProto = "/weft-bench/1.0.0"

type libp2pSystem struct{}

func (libp2pSystem) Close() error { return nil }

// newHost returns a host with only TCP, Noise or no security, and yamux,
// and extra, if any, at the end (the libp2p transport adds its identity).
func newHost(v Variant, listen bool, extra ...libp2p.Option) (host.Host, error) {
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.InfiniteLimits))
	if err != nil {
		return nil, err
	}
	opts := []libp2p.Option{
		libp2p.Transport(libp2ptcp.NewTCPTransport),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.DisableRelay(),
	}
	switch v.Security {
	case Noise:
		opts = append(opts, libp2p.Security(noise.ID, noise.New))
	case Plaintext:
		opts = append(opts, libp2p.NoSecurity)
	default:
		return nil, fmt.Errorf("bench: libp2p security %q: %w", v.Security, ErrUnknown)
	}
	if listen {
		opts = append(opts, libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	} else {
		opts = append(opts, libp2p.NoListenAddrs)
	}
	return libp2p.New(append(opts, extra...)...)
}

func (libp2pSystem) Listen(ctx context.Context, spec ServerSpec) (Server, error) {
	h, err := newHost(spec.Variant, true)
	if err != nil {
		return nil, err
	}
	s := &libp2pServer{counter: newCounter(), h: h}
	h.SetStreamHandler(libp2pProto, func(st network.Stream) {
		s.g.serve(st, func() {
			if serveStream(st, spec, s.counter) != nil {
				_ = st.Reset()
			}
		})
	})
	addrs := h.Addrs()
	if len(addrs) == 0 {
		_ = h.Close()
		return nil, errors.New("bench: libp2p host has no listen address")
	}
	s.addr = addrs[0].Encapsulate(ma.StringCast("/p2p/" + h.ID().String())).String()
	return s, nil
}

type libp2pServer struct {
	*counter
	h    host.Host
	addr string
	g    streamGroup
}

func (s *libp2pServer) Addr() string { return s.addr }

func (s *libp2pServer) Close() error {
	s.h.RemoveStreamHandler(libp2pProto)
	s.g.closeAll()
	return s.h.Close()
}

func (libp2pSystem) NewDialer(ctx context.Context, v Variant, max int) (Dialer, error) {
	h, err := newHost(v, false)
	if err != nil {
		return nil, err
	}
	return &libp2pDialer{h: h, max: max}, nil
}

type libp2pDialer struct {
	h   host.Host
	max int
}

func (d *libp2pDialer) Dial(ctx context.Context, addr string, mode Mode) (Conn, error) {
	info, err := peer.AddrInfoFromString(addr)
	if err != nil {
		return nil, fmt.Errorf("bench: libp2p address %q: %w", addr, err)
	}
	if err := d.h.Connect(ctx, *info); err != nil {
		return nil, err
	}
	st, err := d.h.NewStream(ctx, info.ID, libp2pProto)
	if err != nil {
		return nil, err
	}
	return newStreamConn(st, d.max), nil
}

func (d *libp2pDialer) Close() error { return d.h.Close() }
