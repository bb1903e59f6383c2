// Package endpoint is what weft users hold: a secure, reliable, ordered,
// batched message channel to one peer, over any transport.
//
// Secure: a Noise XX handshake binds the channel to the peer's Ed25519
// identity (its peer ID); a dialer that names the peer it expects (a
// /p2p/<peer-id> suffix) fails with ErrPeerMismatch before any message
// flows. Records are encrypted with AES-GCM when both sides have AES
// hardware, else ChaCha20-Poly1305.
//
// Reliable: every message is appended to a send log and acknowledged by
// the peer; if the transport connection dies, the dialing side redials
// with jittered backoff, both sides handshake again and resume from what
// the peer acknowledged: every message handed to Send arrives exactly once
// and in order, as long as the peer is back within Config.ResumeTimeout.
// Past that the endpoint closes and Config.OnClose reports how many
// messages were not delivered. Over a datagram transport the endpoint also
// numbers packets, resends lost ones and keeps a congestion window.
//
// Batched: many small messages share one record (one encryption, one
// write); a record goes out as soon as the worker has drained the
// endpoint's queue, never on a timer.
//
// Bounded: Send blocks (TrySend fails with ErrBufferFull) once queued plus
// unacknowledged bytes reach Config.SendBufferBytes; the receiver grants
// the sender at most Config.RecvWindowBytes beyond what the application
// consumed, so a slow reader stalls its sender and memory stays bounded
// on both sides. A message above Config.MaxMessageBytes is refused before
// anything is allocated for it.
//
// The loop a caller writes:
//
//	d, _ := driver.New(driver.Config{})
//	tr, _ := tcp.New(tcp.Config{})
//	ln, _ := endpoint.Listen(d, tr, addr, endpoint.Config{Identity: key}, nil)
//	go func() {
//		for {
//			ep, err := ln.Accept(ctx)
//			if err != nil { return }
//			go func() {
//				for {
//					msg, err := ep.Recv(ctx)
//					if err != nil { return }
//					handle(msg)
//				}
//			}()
//		}
//	}()
//	ep, _ := endpoint.Dial(ctx, d, tr, peerAddr, endpoint.Config{Identity: myKey})
//	ep.Send(ctx, []byte("hello"))
//	ep.CloseWait(ctx)
//
// For the highest rates, set Config.Handler instead of calling Recv: it
// runs on the endpoint's worker with a message valid only during the call,
// and may answer with TrySend (never the blocking Send). A Recv caller may
// hand each message back with Release when done with it.
//
// A peer reachable over several transports: DialContact tries a Contact's
// addresses in order (happy eyeballs, DialStagger apart) with whichever of
// the given transports handles each, and every reconnection starts over,
// so a session may resume over another transport; Listener.Listen adds a
// transport to a listener, which shares its sessions among them. Over a
// transport.Authenticated connection (QUIC, libp2p) the endpoint skips
// Noise and checks the peer the transport proved.
package endpoint
