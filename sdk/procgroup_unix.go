//go:build unix

package sdk

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup makes cmd start in a process group of its own (its pid
// is the group's id), so that killing the plugin kills whatever it
// started too. The plugin is then outside the terminal's foreground group:
// a Ctrl-C reaches the host, which stops the plugin itself.
func setProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// killProcessGroup sends SIGKILL to p's process group and to p. It does
// nothing once p has been waited for, so no reused pid is hit.
func killProcessGroup(p *os.Process) error {
	if err := p.Signal(syscall.Signal(0)); err != nil {
		return err // os.ErrProcessDone: already reaped
	}
	// The group is p's until p is reaped: p leads it (Setpgid).
	_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	return p.Kill()
}
