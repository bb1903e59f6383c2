//go:build !race

package udp

// See race.go.
func raceReleaseIO() {}
func raceAcquireIO() {}
