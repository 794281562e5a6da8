package chaos

import "syscall"

// procAttr puts a server in a process group of its own, so that a Ctrl-C
// in the terminal reaches only the harness, which then stops the cluster
// itself; and has the kernel kill it if the harness dies first (Linux's
// parent-death signal), so that no node outlives a crashed run.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
