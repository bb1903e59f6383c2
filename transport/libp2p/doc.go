// Package libp2p is a weft transport over a go-libp2p host: weft endpoints
// run over libp2p streams, so a weft node reaches peers through whatever
// the host is built with (TCP, QUIC, relays, hole punching) and talks to
// plain libp2p programs. Only programs that import this package compile
// go-libp2p into weft; the rest of weft does not depend on it.
//
// # Streams and protocol
//
// Every transport.Conn is one libp2p stream of the protocol
// Config.Protocol, by default DefaultProtocol, "/weft/endpoint/1.0.0". The
// stream carries exactly the bytes the connection's users write: nothing
// is added, so a libp2p program that opens the protocol speaks the weft
// endpoint's wire format directly. Dial returns once the peer's host has
// agreed to the protocol (a multistream-select round trip); a host with no
// listener on it refuses, and Dial fails with transport.ErrRefused. The
// libp2p connection under the streams (one per pair of hosts, whatever the
// number of streams) belongs to the host: the transport never closes it.
//
// Connections implement transport.Authenticated: libp2p's security
// handshake (Noise or TLS) proved both peer IDs and encrypts every byte, so
// a weft endpoint over this transport need not run its own Noise
// handshake. The transport refuses connections of a host built with
// libp2p.NoSecurity (ErrInsecureConn), whose peer IDs prove nothing, and
// peers whose key is not Ed25519 (ErrNotEd25519).
//
// # Addresses
//
// The transport's addresses are libp2p multiaddrs the host can dial:
//
//	/ip4/10.0.0.7/tcp/4001/p2p/12D3KooW…    that peer, at that address
//	/ip4/…/p2p/<relay>/p2p-circuit/p2p/<id>  through a relay (if the host has the relay transport)
//	/p2p/12D3KooW…                           that peer, wherever the peerstore (or routing) finds it
//	/ip4/10.0.0.7/tcp/4001                   the peer the host knows there
//
// A relayed connection is limited (capped in time and bytes): Dial uses
// one only with Config.AllowLimitedConn. The last form has no peer ID: Dial takes the peer it is connected to from
// that address, or the one whose peerstore addresses include it
// (ErrUnknownPeer if none, ErrAmbiguousAddr if several). It is the form
// endpoint.Dial passes on, since it splits a trailing /p2p/<id> off the
// address as the identity it expects of the peer's endpoint; so for an
// endpoint dial the host must know the peer's address first: connect the
// host to it (host.Connect), or add its addresses to the host's peerstore.
//
// Listen registers the protocol's stream handler on the host, which
// listens where libp2p.ListenAddrs said: its address names one of the
// host's own addresses (with or without /p2p/<self>), which Addr returns
// without /p2p/, or is /p2p/<self> alone. A transport has one listener at
// a time (ErrListening otherwise); connections arrive over any of the
// host's connections.
//
// # One key for both
//
// weft peer IDs are libp2p peer IDs, byte for byte. A node uses one
// Ed25519 key as its host's identity and its endpoints' identity: build
// the host from a weft key with HostKey,
//
//	key, _ := identity.LoadKeyFile("node.key")
//	sk, _ := libp2p.HostKey(key)
//	h, _ := golibp2p.New(golibp2p.Identity(sk), golibp2p.ListenAddrStrings("/ip4/0.0.0.0/tcp/4001"))
//
// or take an existing host's key with IdentityOf, then use it in
// endpoint.Config.Identity:
//
//	key, _ := libp2p.IdentityOf(h)
//	tr, _ := libp2p.New(libp2p.Config{Host: h})
//	ln, _ := endpoint.Listen(d, tr, h.Addrs()[0], endpoint.Config{Identity: key}, nil)
//
// FromPeerID and ToPeerID convert peer IDs. An endpoint may also use
// another key than its host's: its own handshake then proves that key.
//
// # Closing
//
// Close flushes what was written (at most Config.CloseTimeout), then
// closes the stream's write side: the peer reads everything, then EOF, and
// its OnClose gets an error wrapping io.EOF; this side's OnClose gets nil.
// The stream is released once the peer closed its side too, or
// CloseTimeout later (then with a reset). Reset (a kill) resets the stream:
// data in flight is lost and both sides' OnClose get transport.ErrReset,
// as they do when the host closes or the libp2p connection dies.
//
// # Defaults
//
//   - CloseTimeout 5s: long enough to flush a full send buffer over a slow
//     link, short enough that a vanished peer does not pin a stream.
//   - SendBufferBytes 1 MiB: Buffered stays 0 while this much waits for
//     the stream, so an endpoint batches into large writes without
//     stalling; yamux's window (16 MiB at most) is the real bound in flight.
//   - RecvBufferBytes 1 MiB: what a connection reads ahead of its worker,
//     at most; beyond it the libp2p stream's flow control pushes back.
//
// # Goroutines
//
// libp2p streams are blocking readers and writers, so each connection has
// a reader goroutine (an accepted one reads on the host's handler
// goroutine) and, while it has bytes to send, a writer goroutine; they
// hand bytes to and take bytes from the connection's driver worker, which
// runs every callback (internal/goconn, shared with transport/quic). A
// Write copies into the writer's outbox once; a read buffer goes to the
// worker whole, not copied. A libp2p stream has no write that cannot
// block, so, unlike QUIC's, even a small Write goes through the writer.
// Handlers see the transport contract unchanged.
package libp2p
