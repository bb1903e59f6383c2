package hub

// How a lane's connection is chosen, as a pure function of what each side
// knows. Both members of a pair dial each other on every lane, so two
// connections may come up at once (or one may replace a dead one). The
// member with the lower peer ID is the arbiter of the pair: it alone
// decides which connection a lane uses, and tells the other side with an
// Activate frame, before any application message on that connection.
// Neither side sends application messages on a connection before it is
// activated, and a lane never switches connections while its active one
// lives (unless the peer restarted), so what one lane carries is never
// split across two connections: no loss, duplication or reordering from
// the choice itself.
//
// Every hub instance has an epoch (its start time in nanoseconds), sent in
// the Hello frame. A connection from a newer epoch of the peer means the
// peer restarted: the old connection is dead, whatever our endpoint
// thinks, and gives way.

// action is what to do with a connection whose Hello just arrived.
type action uint8

const (
	actWait            action = iota // non-arbiter: wait for Activate or Refuse
	actActivate                      // arbiter: make it the lane's connection
	actReplace                       // arbiter: close the active one (the peer restarted), activate this one
	actDropActive                    // non-arbiter: the peer restarted; close the active one, then wait
	actRefuseDuplicate               // arbiter: the lane has a live connection to this same peer instance
	actRefuseStale                   // the connection comes from an older instance of the peer than the active one
)

var actionNames = [...]string{"wait", "activate", "replace", "drop-active", "refuse-duplicate", "refuse-stale"}

func (a action) String() string { return actionNames[a] }

// decideHello chooses what to do with a connection whose Hello carried
// epoch, given whether we are the pair's arbiter and the epoch of the
// lane's active connection, if it has one.
func decideHello(arbiter, hasActive bool, activeEpoch, epoch uint64) action {
	switch {
	case hasActive && epoch < activeEpoch:
		return actRefuseStale
	case !arbiter && hasActive && epoch > activeEpoch:
		return actDropActive
	case !arbiter:
		return actWait
	case !hasActive:
		return actActivate
	case epoch > activeEpoch:
		return actReplace
	default:
		return actRefuseDuplicate
	}
}
