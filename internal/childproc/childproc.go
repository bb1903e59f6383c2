package childproc

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// Proc is a started child process.
type Proc struct {
	cmd   *exec.Cmd
	In    io.WriteCloser // the child's standard input
	Out   io.ReadCloser  // the child's standard output
	waitc chan error
}

// Start starts cmd with pipes to its standard input and output (its
// standard error is left as cmd says).
func Start(cmd *exec.Cmd) (*Proc, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("childproc: start %s: %w", cmd.Path, err)
	}
	return &Proc{cmd: cmd, In: in, Out: out, waitc: make(chan error, 1)}, nil
}

// Stop closes the child's standard input and waits for it to exit; if it
// has not after grace, it is killed. It returns the child's exit error.
// Call it once, after the reads of Out are done or abandoned.
func (p *Proc) Stop(grace time.Duration) error {
	_ = p.In.Close()
	go func() { p.waitc <- p.cmd.Wait() }()
	select {
	case err := <-p.waitc:
		return err
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		return errors.Join(fmt.Errorf("childproc: %s did not exit within %v; killed", p.cmd.Path, grace), <-p.waitc)
	}
}
