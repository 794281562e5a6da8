//go:build !linux

package chaos

import "syscall"

// procAttr puts a server in a process group of its own, so that a Ctrl-C
// in the terminal reaches only the harness, which then stops the cluster
// itself. (Only Linux also kills the servers when the harness dies.)
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
