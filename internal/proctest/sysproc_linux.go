//go:build linux

package proctest

import (
	"os/exec"
	"syscall"
)

// setSysProcAttr makes the kernel kill the child if the parent dies (the
// child also exits on EOF on its stdin, which covers other systems).
func setSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
