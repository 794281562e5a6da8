package main

import "syscall"

// procAttr puts a node in a process group of its own, so that a Ctrl-C in
// the terminal reaches only localcluster, which then stops the nodes
// itself; and has the kernel kill it if localcluster dies first (Linux's
// parent-death signal), so that no node outlives it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
