//go:build unix

package zkserver

import "syscall"

func maxFileDescriptors() int64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return -1
	}
	return int64(rl.Cur)
}
