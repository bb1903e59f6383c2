//go:build !race

package endpointtest

// raceEnabled reports whether the race detector is on; the big runs shrink
// under it.
const raceEnabled = false
