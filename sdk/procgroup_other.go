//go:build !unix

package sdk

import (
	"os"
	"os/exec"
)

// setProcessGroup does nothing here: there are no process groups to use.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills p.
func killProcessGroup(p *os.Process) error { return p.Kill() }
