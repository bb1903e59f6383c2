//go:build !linux

package bench

import "os/exec"

// setParentDeathSignal does nothing here: the child still ends when its
// stdin closes.
func setParentDeathSignal(cmd *exec.Cmd) {}
