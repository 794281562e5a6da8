package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/godisque/godisque/internal/etcdtest"
)

// startWithPprof runs a node with --pprof addr and waits for its PONG.
func startWithPprof(t *testing.T, addr string) *server {
	t.Helper()
	s := newServer(t, rand.New(rand.NewPCG(seed(t), 11)), "no")
	c := s.client()
	defer c.Close()
	args := []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--dir", s.dir, "--pprof", addr}
	s.launch("pprof", args, 20*time.Second, func() error { return c.Ping(context.Background()).Err() })
	return s
}

// pprofCmdline is what the profiler at addr says the command line is.
func pprofCmdline(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/pprof/cmdline: %s %q", resp.Status, body)
	}
	return string(body)
}

// --pprof serves Go's profiler on the address given.
func TestPprofDirectiveServesTheProfiler(t *testing.T) {
	addr := etcdtest.FreeAddr(t)
	startWithPprof(t, addr)
	if got := pprofCmdline(t, addr); !strings.Contains(got, "--pprof") {
		t.Fatalf("the profiler's command line is %q", got)
	}
}

// GODISQUE_PPROF wins over the directive: the profiler is served there.
func TestPprofEnvironmentWins(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	env := etcdtest.FreeAddr(t)
	servePprof(zap.NewNop(), taken.Addr().String(), env)
	if got := pprofCmdline(t, env); got == "" {
		t.Fatal("empty command line")
	}
}

// A pprof address already taken is reported, and the node serves on.
func TestPprofAddressTakenIsLoggedNotFatal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := startWithPprof(t, ln.Addr().String())
	if out := s.out.String(); !strings.Contains(out, "cannot serve pprof; the node runs without it") ||
		!strings.Contains(out, ln.Addr().String()) {
		t.Fatalf("no error logged for the taken address:\n%s", tail(out, 20))
	}
	if !s.running() {
		t.Fatal("the node stopped")
	}
}

// A malformed pprof address stops the server at start-up with the config
// error, as any bad directive does.
func TestPprofBadAddressRefusesToStart(t *testing.T) {
	out, err := exec.Command(binary(t), "--port", "0", "--dir", t.TempDir(), "--pprof", "6060").CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), `pprof address "6060" must be host:port`) {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
}
