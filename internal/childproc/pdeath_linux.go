package childproc

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the child if this process dies.
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
