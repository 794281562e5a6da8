// Package etcdtest runs a real etcd server for a test (Debian's etcd-server
// package puts it in /usr/bin/etcd; without it the test is skipped). It
// listens on free loopback ports, one server per test, and is killed when
// the test ends.
package etcdtest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Patience is the longest etcd is awaited.
const Patience = 60 * time.Second

// Server is a running etcd.
type Server struct {
	t       *testing.T
	bin     string
	dataDir string
	logPath string
	URL     string // client URL, for cluster-etcd-endpoints
	peer    string // peer URL

	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts an etcd for the test, or skips the test when
// there is no etcd binary. It is killed when the test ends.
func Start(t *testing.T) *Server {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd not installed: sudo apt-get install -y etcd-server")
	}
	s := &Server{t: t, bin: bin, dataDir: t.TempDir(), logPath: filepath.Join(t.TempDir(), "etcd.log")}
	t.Cleanup(s.Kill)
	// A free port can be taken between our probe and etcd's bind: try
	// again with others.
	for attempt := 1; ; attempt++ {
		s.URL = "http://" + FreeAddr(t)
		s.peer = "http://" + FreeAddr(t)
		s.start()
		if s.waitReady() {
			return s
		}
		s.Kill()
		if attempt == 3 {
			t.Fatalf("etcd did not start; its log:\n%s", s.logTail())
		}
		s.dataDir = t.TempDir()
	}
}

// start runs etcd on s's ports and data directory.
func (s *Server) start() {
	s.t.Helper()
	args := []string{
		"--name", "test",
		"--data-dir", s.dataDir,
		"--listen-client-urls", s.URL,
		"--advertise-client-urls", s.URL,
		"--listen-peer-urls", s.peer,
		"--initial-advertise-peer-urls", s.peer,
		"--initial-cluster", "test=" + s.peer,
	}
	if help, _ := exec.Command(s.bin, "--help").CombinedOutput(); strings.Contains(string(help), "--unsafe-no-fsync") {
		args = append(args, "--unsafe-no-fsync")
	}
	cmd := exec.Command(s.bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") { // etcd reads its flags from ETCD_* too
			cmd.Env = append(cmd.Env, kv)
		}
	}
	switch runtime.GOARCH {
	case "amd64", "arm64", "ppc64le", "s390x":
	default:
		cmd.Env = append(cmd.Env, "ETCD_UNSUPPORTED_ARCH="+runtime.GOARCH)
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start etcd: %v", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { _ = cmd.Wait(); close(exited) }(s.exited)
}

// waitReady waits until etcd answers a read; false if it exited first.
func (s *Server) waitReady() bool {
	c := s.NewClient()
	defer c.Close()
	deadline := time.Now().Add(Patience)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return false
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Get(ctx, "ready")
		cancel()
		if err == nil {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("etcd did not answer within %v; its log:\n%s", Patience, s.logTail())
	return false
}

// Kill kills etcd at once (SIGKILL: no goodbye to anyone) and waits for it.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart starts etcd again on the same ports and data directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
	if !s.waitReady() {
		s.t.Fatalf("etcd did not restart; its log:\n%s", s.logTail())
	}
}

// NewClient is a plain client for the test's own reads and writes.
func (s *Server) NewClient() *clientv3.Client {
	s.t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints: []string{s.URL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// FreeAddr is a loopback address nothing listens on, for now.
func FreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
