//go:build !linux

package proctest

import "os/exec"

// setSysProcAttr does nothing here: the child exits on EOF on its stdin
// when the parent dies.
func setSysProcAttr(cmd *exec.Cmd) {}
