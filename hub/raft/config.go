package raft

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/identity"
)

// Config configures a Node. Hub and Apply are required; the zero value of
// every other field means the default written beside it.
type Config struct {
	// Hub carries the replicas' messages: every replica must be one of its
	// members (or the hub itself). The node does not close it, and does
	// not install itself as its handler: route messages with Node.Handle.
	// Required.
	Hub *hub.Hub
	// Apply receives every committed entry, in log order, once, on one
	// goroutine of the node's. While it runs, later entries wait; if it
	// falls far behind, the node's raft loop waits for it too (and the
	// replica may miss heartbeats). Required.
	Apply func(Entry)
	// Members are the replicas the log starts with, this node included
	// (added if missing). Every replica of a new log must be started with
	// the same set. Default: the hub's members and this node.
	Members []identity.PeerID
	// Join starts this node with an empty log, to be added to a running
	// group with AddMember (called on a member of it); Members is then
	// ignored.
	Join bool

	// TickInterval is raft's logical clock. Default 10ms.
	TickInterval time.Duration
	// ElectionTicks is the election timeout in ticks (randomised between
	// it and twice it). Default 20 (200 ms to 400 ms at 10 ms ticks).
	ElectionTicks int
	// HeartbeatTicks is the leader's heartbeat interval. Default 2.
	HeartbeatTicks int
	// MaxEntriesBytes bounds the entries of one append message. Default
	// 256 KiB.
	MaxEntriesBytes uint64
	// MaxInflight bounds the append messages in flight to one follower.
	// Default 256.
	MaxInflight int

	// Logger receives the node's and raft's diagnostics. Default: silent.
	Logger *slog.Logger
}

func (c *Config) validate() error {
	switch {
	case c.Hub == nil:
		return errors.New("raft: Config.Hub is required")
	case c.Apply == nil:
		return errors.New("raft: Config.Apply is required")
	case c.TickInterval < 0, c.ElectionTicks < 0, c.HeartbeatTicks < 0, c.MaxInflight < 0:
		return errors.New("raft: Config.TickInterval, ElectionTicks, HeartbeatTicks and MaxInflight must not be negative")
	}
	if c.TickInterval == 0 {
		c.TickInterval = 10 * time.Millisecond
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 2
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 20
	}
	if c.ElectionTicks <= c.HeartbeatTicks {
		return fmt.Errorf("raft: Config.ElectionTicks (%d) must exceed HeartbeatTicks (%d)", c.ElectionTicks, c.HeartbeatTicks)
	}
	if c.MaxEntriesBytes == 0 {
		c.MaxEntriesBytes = 256 << 10
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Entry is one committed entry of the log.
type Entry struct {
	Index uint64 // position in the log, from 1; entries of other kinds (leader no-ops, membership changes) take indexes too
	Term  uint64 // the leader's term that appended it
	Data  []byte // what Propose was given; belongs to Apply
}

// Status is a snapshot of a node.
type Status struct {
	ID       identity.PeerID
	Leader   identity.PeerID // zero while unknown
	IsLeader bool
	Term     uint64
	Commit   uint64 // highest committed index known here
	Applied  uint64 // highest index handed to Apply
}
