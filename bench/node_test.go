package bench

import (
	"context"
	"net"
	"testing"

	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/bench/redconlpush"
	"github.com/godisque/godisque/config"
)

// startNode starts an in-memory godisque node on a free loopback port.
func startNode(t *testing.T) string {
	t.Helper()
	cfg := config.Default()
	cfg.Dir = t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := disque.Start(context.Background(), disque.Config{Server: cfg, Listener: ln, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop() })
	return n.Addr()
}

// startCeiling starts the redcon LPUSH server on a free loopback port.
func startCeiling(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := redconlpush.Start(ln)
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr()
}

func dial(t *testing.T, addr string) *Conn {
	t.Helper()
	c, err := Dial(addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
