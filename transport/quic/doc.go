// Package quic is the QUIC transport of weft, on quic-go: a Stream
// transport whose connections TLS 1.3 authenticates with the nodes'
// identity keys and encrypts. It passes transport/transporttest, and the
// endpoint suite over it (endpoint/endpointtest_quic_test.go), with kills
// and with 5 % loss.
//
// A caller builds one Transport per node key and uses it like any other
// transport (transport.Transport documents the contracts):
//
//	tr, _ := quic.New(quic.Config{Identity: key})
//	ln, _ := tr.Listen(ma.StringCast("/ip4/0.0.0.0/udp/7001/quic-v1"), d, accept)
//	c, _ := tr.Dial(ctx, peerAddr, d.Pick(), handler) // .../quic-v1/p2p/<id> checks the peer
//	c.Post(func() { c.Write(b) })
//
// Endpoints use it unchanged: endpoint.Dial(ctx, d, tr, addr, cfg).
//
// # Addresses
//
// /ip4/<ip>/udp/<port>/quic-v1 or /ip6/<ip>/udp/<port>/quic-v1, optionally
// followed by /p2p/<peer-id>. Dial with a /p2p suffix fails with
// ErrPeerMismatch during the TLS handshake unless the peer proves that
// identity; without one it accepts any peer that proves some identity, and
// the connection's RemotePeer says which. Listen accepts a /p2p suffix
// only if it names the transport's own identity.
//
// # Identity: TLS 1.3 bound to the node key
//
// The scheme is libp2p's TLS handshake with weft's own names (the code is
// internal/handshake/certificate.go). New makes a self-signed certificate
// for a fresh ECDSA P-256 key that carries one extension, OID
// 1.3.6.1.4.1.59999.1.1 (not critical): the node's Ed25519 public key and
// its signature, identity.Sign("weft-tls-certificate-key", spki), over the
// certificate's DER SubjectPublicKeyInfo. Both sides present their
// certificate (mutual TLS) and check the peer's in VerifyPeerCertificate:
// exactly one certificate, exactly one such extension, a valid signature.
// TLS's CertificateVerify proves the peer holds the certificate key; the
// extension proves the identity key endorsed it; so the peer is that
// identity. Session tickets are off (a resumed session skips the
// certificate, and with it the proof) and so is 0-RTT. The ALPN is
// "weft/1". Key exchange is Go's default (hybrid X25519MLKEM768, then
// X25519). The OID sits under an unassigned Private Enterprise Number
// until weft registers one: an extension under the same OID from someone
// else could only fail verification, never pass it.
//
// Connections implement transport.Authenticated: LocalPeer and RemotePeer
// are what the handshake proved. An endpoint over such a connection skips
// its Noise handshake and runs a two-message exchange in the clear inside
// TLS instead (internal/handshake/authenticated.go): it negotiates
// compression, the message size limits and the InsecurePlaintext setting,
// the dialer checks the peer it expects before anything else is sent, and
// an endpoint whose identity is not the transport's (one transport serving
// several identities, as in the conformance suite) proves it with a
// signature bound to the two transport identities. Records then travel in
// the plaintext framing, sealed once, by QUIC.
//
// # Connections and goroutines
//
// A transport.Conn is one QUIC connection with one bidirectional stream,
// opened by the dialer, which first writes one preamble byte (0x77): QUIC
// announces a stream only with its first byte, and the listener must see
// the connection's stream before the dialer has anything to say. A
// listener accepts exactly one stream per connection and no
// unidirectional streams; anything else is a protocol error.
//
// quic-go runs its goroutines (per socket, per connection). Each
// connection adds a reader goroutine, which hands its read buffers to an
// inbox of at most RecvBufferBytes and posts one drain per burst to the
// connection's mailbox (driver.Mailbox: the handler runs on the owning
// worker, across moves), and a writer goroutine while there is something
// to send, which hands the outbox to the stream in 64 KiB chunks (the
// machinery is internal/goconn's, shared with transport/libp2p). Write on
// the worker copies into the outbox, unless it is small (up to 1 KiB) and
// nothing is queued before it: then it goes to quic-go at once
// (Stream.TryWriteAll, which never blocks), so a request or a reply skips
// the writer goroutine. Buffered counts what quic-go has not taken beyond
// SendBufferBytes, like a kernel socket buffer; a move
// freezes and thaws the mailbox and needs nothing else, as no socket
// belongs to a worker. Dials share one UDP socket per address family,
// opened with the first dialed connection and closed with the last; a
// listener's socket lives while it is open or any connection accepted on
// it lives (new connections meanwhile are refused with QUIC's
// CONNECTION_REFUSED).
//
// QUIC ignores ICMP errors, so a dial to a port where nothing listens
// would fail only when the handshake times out. A dial still running
// after 100 ms therefore probes the address: a connected UDP socket sends
// empty datagrams (QUIC stacks drop them), and an ICMP port unreachable,
// which the kernel reports to a connected socket as ECONNREFUSED, fails the
// dial with transport.ErrRefused.
//
// # Closing
//
// Close stops Writes at once; the writer hands what was written to quic-go
// (for at most CloseTimeout, flow control permitting), sends FIN, and
// OnClose(nil) runs. The peer reads the data, then the FIN, which its
// OnClose reports as io.EOF, and closes the connection with application
// code 0. A side that reads a FIN (its peer closed too) closes the same
// way. Reset instead closes at once with code 2, and both sides' OnClose
// get transport.ErrReset; so do an idle timeout, a stateless reset, or a
// flush that timed out. A listener refusing a connection uses code 1 (the
// dialer sees io.EOF); a broken preamble, code 3.
//
// The closing side must keep its connection until the peer answers, or
// quic-go could not retransmit what the peer lacks. If the peer's answer
// is lost, or the peer vanished, nothing would come: so from Close on it
// sends an empty DATAGRAM every now and then (20 ms, doubling), which a
// closed peer answers with its CONNECTION_CLOSE again (quic-go does for
// three PTOs), or its socket with a stateless reset (the reset key is
// derived from the identity key, so this holds across restarts), and it
// probes the peer's address as a dial does, for a socket that is gone. A
// peer that still acknowledges but never reads is given IdleTimeout.
//
// # quic-go settings, and why
//
//   - Flow control: the stream window starts at quic-go's 512 KiB and
//     auto-tunes up to StreamWindowBytes (16 MiB): enough for about
//     1 Gbit/s at 100 ms of round trip, while an idle connection pins
//     little. With one stream per connection the connection window only
//     needs to exceed the stream's: 1.5 times it (quic-go's own ratio).
//     The endpoint above has its own window (8 MiB by default); the
//     transport's must not be the smaller one on long paths.
//   - Keep-alive and idle timeout: quic-go closes a connection that heard
//     nothing for MaxIdleTimeout (IdleTimeout, 30 s) — that is how a peer
//     that vanished is noticed. A TCP connection does not die of silence,
//     so a quiet one must not either: KeepAlive pings every IdleTimeout/2
//     (15 s), which also keeps NAT bindings open. Endpoints ping on their
//     own (every 5 s) and declare a silent link dead after 20 s, before
//     QUIC would.
//   - HandshakeIdleTimeout is HandshakeTimeout (5 s, quic-go's default);
//     it also bounds the listener's wait for a new connection's stream.
//   - Streams: a listener allows the dialer one bidirectional stream and
//     no unidirectional ones; a dialer allows none. DATAGRAM frames are on
//     only for the close nudges; nothing reads received ones.
//   - Stateless resets: on, keyed by HKDF-SHA256 of the identity seed.
//
// Config.WrapPacketConn is a testing hook: it wraps every UDP socket (the
// endpoint suite loses, duplicates and reorders 5 % of the packets with
// it), at the price of quic-go's UDP optimisations.
package quic
