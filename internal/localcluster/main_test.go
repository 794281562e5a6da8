package main

import (
	"bufio"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParsePorts(t *testing.T) {
	if p, err := parsePorts("7711, 7712,7713"); err != nil || len(p) != 3 || p[2] != 7713 {
		t.Errorf("parsePorts = %v, %v", p, err)
	}
	for _, bad := range []string{"", "7711,", "x", "0", "60000", "7711,7711"} {
		if _, err := parsePorts(bad); err == nil {
			t.Errorf("parsePorts(%q) accepted", bad)
		}
	}
}

func TestShellArgs(t *testing.T) {
	got := shellArgs([]string{"--dir", "a b", "it's", "", "127.0.0.1:17712"})
	if want := `--dir 'a b' 'it'\''s' '' 127.0.0.1:17712`; got != want {
		t.Errorf("shellArgs = %s, want %s", got, want)
	}
}

// Three nodes join, and a Ctrl-C stops all of them.
func TestClusterStartsJoinsAndStops(t *testing.T) {
	server := filepath.Join(t.TempDir(), "disque-server")
	build := exec.Command("go", "build", "-o", server, "./cmd/disque-server")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ports := freePorts(t, 3)
	r, w := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-server", server, "-ports", ports, "-dir", t.TempDir(),
			"--", "--appendonly", "no", "--cluster-node-timeout", "1000"}, w, w)
		w.Close()
	}()
	var pids []int
	lines := bufio.NewScanner(r)
	ready := false
	for !ready && lines.Scan() {
		l := lines.Text()
		t.Log(l)
		if f := strings.Fields(l); len(f) >= 3 && f[1] == "pid" {
			pid, _ := strconv.Atoi(f[2])
			pids = append(pids, pid)
		}
		ready = l == "Ctrl-C stops the cluster."
	}
	if !ready || len(pids) != 3 {
		t.Fatalf("the cluster did not start (pids %v)", pids)
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil { // run catches it
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d after Ctrl-C", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of Ctrl-C")
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			t.Errorf("node process %d is still there after Ctrl-C (%v)", pid, err)
		}
	}
}

// freePorts finds n client ports, each free with its bus port.
func freePorts(t *testing.T, n int) string {
	var ports []string
	for range 200 {
		p := 12000 + rand.IntN(10000)
		if portFree(p) && portFree(p+10000) {
			ports = append(ports, strconv.Itoa(p))
			if len(ports) == n {
				return strings.Join(ports, ",")
			}
		}
	}
	t.Fatal("no free ports")
	return ""
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
