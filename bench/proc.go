package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ------------------------------ Reading /proc ---------------------------------

// clockTicks is Linux's USER_HZ, the unit of utime and stime in
// /proc/PID/stat. It is 100 on every architecture Go supports on Linux
// (sysconf(_SC_CLK_TCK) would need cgo to ask).
const clockTicks = 100

// ProcessCPU is the CPU time a process has used, user plus system, over
// all its threads (utime+stime of /proc/PID/stat), at 10 ms resolution.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces:
	// count fields from the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bench: unreadable /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("bench: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bench: bad utime/stime in /proc stat")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// ProcessRSS is a process's resident set size in bytes (/proc/PID/statm).
func ProcessRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, errors.New("bench: short /proc statm")
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// serverPID finds the process to read the CPU of: Options.ServerPID, or
// for a single loopback address the process_id its INFO reports, if /proc
// knows it. 0 means none. (A server in another PID namespace, a container,
// would report a PID that names some other process here: pass -1.)
func serverPID(o *Options) int {
	if o.ServerPID != 0 {
		return max(o.ServerPID, 0)
	}
	if len(o.Addrs) != 1 || !IsLoopback(o.Addrs[0]) {
		return 0
	}
	return LocalPID(o.Addrs[0], o.DialTimeout)
}

// LocalPID asks a server on this machine for its process ID (INFO server's
// process_id); 0 when it does not say or /proc does not know it.
func LocalPID(addr string, timeout time.Duration) int {
	c, err := Dial(addr, timeout)
	if err != nil {
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	info, err := c.Info("server")
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(info["process_id"])
	if err != nil || pid <= 0 {
		return 0
	}
	if _, err := ProcessCPU(pid); err != nil {
		return 0
	}
	return pid
}

// IsLoopback tells whether host:port names this machine's loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
