package identity_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/identity"
)

// exampleKey returns the key whose seed is 32 zero bytes.
func exampleKey() identity.PrivateKey {
	k, err := identity.NewKeyFromSeed(make([]byte, identity.SeedSize))
	if err != nil {
		panic(err)
	}
	return k
}

func ExampleGenerateKey() {
	key, err := identity.GenerateKey(rand.Reader)
	if err != nil {
		fmt.Println(err)
		return
	}
	id := identity.PeerIDFromPublicKey(key.Public())
	fmt.Println(strings.HasPrefix(id.String(), "12D3KooW"), len(id.String()))
	// Output: true 52
}

func ExampleNewKeyFromSeed() {
	key, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{0x01}, 32))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(identity.PeerIDFromPublicKey(key.Public()))

	_, err = identity.NewKeyFromSeed([]byte("short"))
	fmt.Println(err)
	// Output:
	// 12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5
	// identity: key seed is 5 bytes, want 32
}

func ExamplePeerID() {
	id := identity.PeerIDFromPublicKey(exampleKey().Public())
	fmt.Println(id)
	fmt.Printf("%x\n", id.Bytes())
	// Output:
	// 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN
	// 0024080112203b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29
}

func ExamplePeerIDFromPublicKey() {
	pub := exampleKey().Public()
	fmt.Println(identity.PeerIDFromPublicKey(pub))
	// Output: 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN
}

func ExampleParsePeerID() {
	id, err := identity.ParsePeerID("12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN")
	if err != nil {
		fmt.Println(err)
		return
	}
	pub, _ := id.PublicKey()
	fmt.Printf("%x\n", pub.Bytes())

	_, err = identity.ParsePeerID("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
	fmt.Println(err)
	fmt.Println(errors.Is(err, identity.ErrInvalidPeerID))
	// Output:
	// 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29
	// identity: peer ID "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N": multihash code 0x12, want identity (0x00): only Ed25519 peer IDs are supported
	// true
}

func ExamplePeerIDFromBytes() {
	b := identity.PeerIDFromPublicKey(exampleKey().Public()).Bytes()
	id, err := identity.PeerIDFromBytes(b)
	fmt.Println(id, err)

	_, err = identity.PeerIDFromBytes(b[:10])
	fmt.Println(err)
	// Output:
	// 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN <nil>
	// identity: peer ID 0x0024080112203b6a27bc: truncated: multihash digest has 8 bytes, header says 36
}

func ExamplePeerID_Compare() {
	a, _ := identity.ParsePeerID("12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN")
	b, _ := identity.ParsePeerID("12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5")
	// Both sides of a simultaneous dial agree on the same winner.
	fmt.Println(a.Compare(b), b.Compare(a), a.Compare(a))
	// Output: -1 1 0
}

func ExamplePrivateKey_Sign() {
	key := exampleKey()
	sig, err := key.Sign("example", []byte("hello"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(sig))

	_, err = key.Sign("", []byte("hello"))
	fmt.Println(err)
	// Output:
	// 64
	// identity: invalid signature domain: empty
}

func ExamplePublicKey_Verify() {
	key := exampleKey()
	sig, _ := key.Sign("example", []byte("hello"))
	pub := key.Public()
	fmt.Println(pub.Verify("example", []byte("hello"), sig))
	fmt.Println(pub.Verify("other-domain", []byte("hello"), sig))
	// Output:
	// true
	// false
}

func ExampleSaveKeyFile() {
	dir, err := os.MkdirTemp("", "weft-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "node.key")

	if err := identity.SaveKeyFile(path, exampleKey()); err != nil {
		fmt.Println(err)
		return
	}
	key, err := identity.LoadKeyFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(identity.PeerIDFromPublicKey(key.Public()))
	// Output: 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN
}

func ExampleLoadKeyFile() {
	dir, err := os.MkdirTemp("", "weft-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "node.key")
	if err := identity.SaveKeyFile(path, exampleKey()); err != nil {
		fmt.Println(err)
		return
	}
	_ = os.Chmod(path, 0o644) // readable by everyone: LoadKeyFile refuses it

	_, err = identity.LoadKeyFile(path)
	var modeErr *identity.KeyFileModeError
	if errors.As(err, &modeErr) {
		fmt.Printf("mode %04o refused\n", modeErr.Mode)
	}
	// Output: mode 0644 refused
}

func ExampleParseAddr() {
	addr, err := identity.ParseAddr("/ip4/127.0.0.1/udp/4001/quic-v1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(addr)

	_, err = identity.ParseAddr("/ip4/1.2.3.4/sctp/5")
	fmt.Println(err)
	fmt.Println(errors.Is(err, identity.ErrUnsupportedAddr))
	// Output:
	// /ip4/127.0.0.1/udp/4001/quic-v1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN
	// identity: address "/ip4/1.2.3.4/sctp/5": unsupported transport "sctp" (want tcp, udp, quic-v1 or memory)
	// true
}

func ExampleSplitPeer() {
	addr, _ := identity.ParseAddr("/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN")
	transportAddr, id, hasID, err := identity.SplitPeer(addr)
	fmt.Println(transportAddr, id, hasID, err)
	// Output: /ip4/10.0.0.1/tcp/4001 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN true <nil>
}

func ExampleParseNetAddr() {
	for _, s := range []string{"/ip6/::1/udp/4001/quic-v1", "/ip4/127.0.0.1/tcp/80", "/memory/7"} {
		addr, _ := identity.ParseAddr(s)
		na, err := identity.ParseNetAddr(addr)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(na.Transport, na.Network, na.HostPort())
	}
	// Output:
	// quic udp6 [::1]:4001
	// tcp tcp4 127.0.0.1:80
	// memory memory 7
}

func ExampleFromNetAddr() {
	addr, err := identity.FromNetAddr(identity.TransportQUIC, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4001})
	fmt.Println(addr, err)
	// Output: /ip4/192.0.2.1/udp/4001/quic-v1 <nil>
}

func ExampleContactFromAddrs() {
	c, err := identity.ContactFromAddrs(
		"/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
		"/ip4/192.0.2.1/udp/4001/quic-v1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.ID)
	fmt.Println(c.Addrs)
	// Output:
	// 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN
	// [/ip4/192.0.2.1/tcp/4001 /ip4/192.0.2.1/udp/4001/quic-v1]
}

func ExampleParseContact() {
	c, err := identity.ParseContact("/memory/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN")
	fmt.Println(c.Addrs, err)
	c, err = identity.ParseContact("12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN")
	fmt.Println(len(c.Addrs), err)
	// Output:
	// [/memory/1] <nil>
	// 0 <nil>
}

func ExampleContact_Validate() {
	fmt.Println(identity.Contact{}.Validate())
	// Output: identity: contact has no peer ID
}

func ExamplePublicKeyFromBytes() {
	pub, err := identity.PublicKeyFromBytes(exampleKey().Public().Bytes())
	fmt.Println(identity.PeerIDFromPublicKey(pub), err)
	// Output: 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN <nil>
}

func ExamplePeerID_MarshalText() {
	id := identity.PeerIDFromPublicKey(exampleKey().Public())
	b, err := json.Marshal(map[string]identity.PeerID{"peer": id})
	fmt.Println(string(b), err)

	var back map[string]identity.PeerID
	err = json.Unmarshal(b, &back)
	fmt.Println(back["peer"] == id, err)
	// Output:
	// {"peer":"12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"} <nil>
	// true <nil>
}

func ExampleContact_String() {
	id := identity.PeerIDFromPublicKey(exampleKey().Public())
	tcp, _ := identity.ParseAddr("/ip4/192.0.2.1/tcp/4001")
	c := identity.Contact{ID: id, Addrs: []multiaddr.Multiaddr{tcp}}
	fmt.Println(c)
	fmt.Println(identity.Contact{ID: id})
	// Output:
	// /ip4/192.0.2.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN
	// 12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN
}

func ExampleNetAddr_HostPort() {
	addr, _ := identity.ParseAddr("/ip6/2001:db8::1/tcp/443")
	na, _ := identity.ParseNetAddr(addr)
	fmt.Println(na.Network, na.HostPort())
	// Output: tcp6 [2001:db8::1]:443
}
