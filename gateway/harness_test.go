package gateway_test

import (
	"bufio"
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	disque "github.com/godisque/godisque"
	"github.com/godisque/godisque/config"
)

// testNode is a real node on a free loopback port with a go-redis client.
type testNode struct {
	*disque.Node
	rdb *redis.Client
	ctx context.Context
}

// startNode starts a node for one test; mutate adjusts its configuration.
func startNode(t *testing.T, mutate ...func(*config.Config)) *testNode {
	t.Helper()
	cfg := config.Default()
	cfg.Dir = t.TempDir()
	for _, m := range mutate {
		m(cfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := disque.Start(context.Background(), disque.Config{Server: cfg, Listener: ln, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: n.Addr(), Protocol: 2, MaxRetries: -1})
	t.Cleanup(func() {
		rdb.Close()
		_ = n.Stop()
	})
	return &testNode{Node: n, rdb: rdb, ctx: context.Background()}
}

// do sends one command and returns its reply and error.
func (tn *testNode) do(args ...any) (any, error) {
	return tn.rdb.Do(tn.ctx, args...).Result()
}

// raw is a plain TCP connection for byte-exact replies.
type raw struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func (tn *testNode) raw(t *testing.T) *raw {
	t.Helper()
	c, err := net.Dial("tcp", tn.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, c: c, rd: bufio.NewReader(c)}
}

// send writes bytes as they are.
func (r *raw) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// read reads exactly n bytes of reply within a few seconds.
func (r *raw) read(n int) string {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, n)
	if _, err := ioReadFull(r.rd, buf); err != nil {
		r.t.Fatalf("read %d bytes: %v (got %q)", n, err, buf)
	}
	return string(buf)
}

// expect checks the next bytes of the reply.
func (r *raw) expect(want string) {
	r.t.Helper()
	if got := r.read(len(want)); got != want {
		r.t.Fatalf("reply = %q, want %q", got, want)
	}
}
