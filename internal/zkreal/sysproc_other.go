//go:build !linux

package zkreal

import "os/exec"

// setSysProcAttr does nothing here: without Pdeathsig a server outlives a
// test binary that is killed before its cleanup runs.
func setSysProcAttr(cmd *exec.Cmd) {}
