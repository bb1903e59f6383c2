// Package hub connects a fixed, known set of peers — a consensus group,
// the replicas of a state machine, an MPC committee — and carries their
// messages: one-way sends, broadcasts, request/response with correlation
// and timeouts, and quorum calls that return as soon as k members replied.
//
// A Hub dials every member on each of its transports' addresses, keeps
// exactly one connection (an endpoint: secure, reliable, ordered) per
// member and lane, redials with jittered exponential backoff when one
// ends, and accepts only members: a peer that is not one is refused after
// the handshake, logged and counted (Stats.RefusedNotMember). Members
// change at runtime with AddPeer, RemovePeer and SetAddrs; a removed
// member is refused until added again.
//
// # Lanes
//
// Each member pair has two lanes, Control and Bulk, each its own endpoint
// (own transport connection, own ordered stream, own flow control), so a
// bulk transfer never sits in front of a vote or a heartbeat. Control
// connections live on the driver's urgent worker (driver.Driver.Urgent),
// which the other workers hand the CPU to when it has I/O waiting, so a
// bulk transfer that keeps every CPU busy does not delay them either.
// Send, Broadcast, Request and Quorum
// use Control; Hub.On(Bulk) gives the same operations on Bulk. Order is
// kept within a lane, not across lanes.
//
// # Guarantees
//
// A message sent to a connected member on a lane arrives once, in order,
// for as long as the lane's connection lives: the endpoint resumes it
// across transport failures shorter than Config.Endpoint.ResumeTimeout.
// When a connection ends (the member restarted, was unreachable for
// longer, or was removed), what it had not acknowledged is counted in
// Stats.Undelivered, requests waiting on it fail with ErrNotConnected,
// and the member goes down (OnPeerEvent) until a new connection is up.
//
// # One connection per lane
//
// Both members of a pair dial each other, so two connections may come up
// at once. The member with the lower peer ID decides which one a lane
// uses, and says so (an Activate frame) before any application message
// flows; the other connection is refused. A lane keeps its connection
// while it lives, so nothing flaps; a connection from a newer instance of
// the member (it restarted: its Hello carries a later epoch) replaces the
// old one at once.
//
// # Frames
//
// Every endpoint message is one Frame (see its doc): a version and kind
// byte, then the kind's fields. ParseFrame checks everything and fails
// with a *FrameError; a connection that sends a bad frame is closed and
// counted (Stats.BadFrames).
//
// The loop a caller writes:
//
//	d, _ := driver.New(driver.Config{})
//	tr, _ := tcp.New(tcp.Config{})
//	h, err := hub.New(hub.Config{
//		Driver: d, Identity: key, Transports: []transport.Transport{tr},
//		ListenAddrs: []ma.Multiaddr{ma.StringCast("/ip4/0.0.0.0/tcp/7000")},
//		Peers:       members, // identity.Contact: peer ID + addresses
//		Handler: func(m *hub.Message) {
//			if m.IsRequest() {
//				m.Reply(ctx, answer(m.Payload))
//			} else {
//				apply(m.From, m.Payload)
//			}
//		},
//	})
//	defer h.Close(ctx)
//	h.WaitConnected(ctx, 0)             // every member up
//	h.Broadcast(ctx, []byte("hello"))   // a *BroadcastError names who missed it
//	replies, err := h.Quorum(ctx, vote, 3)
//	h.On(hub.Bulk).Send(ctx, peer, snapshot)
//
// Package hub/raft runs a replicated log (etcd's raft) over a hub.
package hub
