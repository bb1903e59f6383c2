//go:build race

package transporttest

// raceEnabled reports whether the race detector is on; the big transfers
// shrink under it.
const raceEnabled = true
