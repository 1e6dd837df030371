//go:build linux

package zkreal

import (
	"os/exec"
	"syscall"
)

// setSysProcAttr makes the kernel kill the server if the test binary dies
// before its cleanup runs.
func setSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
