//go:build !linux

package childproc

import "os/exec"

// setParentDeathSignal does nothing here: the child still ends when its
// standard input closes.
func setParentDeathSignal(*exec.Cmd) {}
