//go:build !linux

package main

import "syscall"

// procAttr puts a node in a process group of its own, so that a Ctrl-C in
// the terminal reaches only localcluster, which then stops the nodes
// itself. Without Linux's parent-death signal, a localcluster killed with
// SIGKILL leaves its nodes running.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
