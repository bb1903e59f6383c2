// Package identity holds who a weft node is and where it can be reached.
//
// It provides:
//
//   - Node keys: Ed25519 key pairs ([PrivateKey], [PublicKey]) with
//     domain-separated signatures ([PrivateKey.Sign], [PublicKey.Verify]).
//   - Peer IDs ([PeerID]): byte-for-byte and string-for-string the same as
//     libp2p's peer IDs for Ed25519 keys, so a weft node's ID reads
//     "12D3KooW..." and can be checked with libp2p tooling. The bytes are an
//     identity multihash (code 0x00) of the protobuf-encoded public key; the
//     string is that multihash in base58btc with no multibase prefix. Only
//     Ed25519 keys are accepted.
//   - Key files ([SaveKeyFile], [LoadKeyFile]): PEM-encoded PKCS#8, written
//     with mode 0600 and refused when readable or writable by group or others.
//   - Addresses ([ParseAddr], [SplitPeer], [ParseNetAddr], [FromNetAddr]):
//     multiaddrs in one of the forms weft's transports speak (see below).
//   - Contacts ([Contact]): a peer ID with the addresses it can be dialed at.
//
// # Addresses
//
// weft accepts these multiaddr forms, each optionally followed by
// /p2p/<peer-id>:
//
//	/ip4/<ip>/tcp/<port>            /ip6/<ip>/tcp/<port>
//	/ip4/<ip>/udp/<port>            /ip6/<ip>/udp/<port>          (datagrams)
//	/ip4/<ip>/udp/<port>/quic-v1    /ip6/<ip>/udp/<port>/quic-v1
//	/memory/<number>                                              (in-process)
//
// DNS names (/dns, /dns4, /dns6), IPv6 zones and every other protocol that
// go-multiaddr knows are rejected with an [*AddrError] matching
// [ErrUnsupportedAddr]; text that is not a valid multiaddr (including one
// naming a protocol go-multiaddr does not know) matches [ErrMalformedAddr].
//
// # Memory addresses
//
// go-multiaddr already defines the "memory" protocol (code 777, the one
// libp2p's in-memory transport uses), and its value is an unsigned 64-bit
// decimal number. weft uses that definition unchanged rather than
// registering a protocol of its own, so memory "names" are decimal numbers:
// /memory/1, /memory/42. [NetAddr.Name] holds that number as a string.
//
// # Signatures
//
// [PrivateKey.Sign] never signs a caller's bytes directly: it signs
//
//	"weft:" + domain + "\x00" + msg
//
// where domain is a non-empty string without NUL bytes naming what the
// signature is for (for example "handshake"). A signature made for one
// domain therefore never verifies for another.
//
// # Usage
//
//	key, err := identity.GenerateKey(rand.Reader)
//	if err != nil { ... }
//	id := identity.PeerIDFromPublicKey(key.Public())
//	fmt.Println(id) // 12D3KooW...
//
//	if err := identity.SaveKeyFile("node.key", key); err != nil { ... }
//	key, err = identity.LoadKeyFile("node.key")
//
//	addr, err := identity.ParseAddr("/ip4/127.0.0.1/udp/4001/quic-v1/p2p/" + id.String())
//	transportAddr, peer, hasPeer, err := identity.SplitPeer(addr)
//	na, err := identity.ParseNetAddr(transportAddr) // na.Network == "udp4", na.HostPort() == "127.0.0.1:4001"
package identity
