//go:build !unix

package zkserver

func maxFileDescriptors() int64 { return -1 }
