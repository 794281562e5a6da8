package gateway_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godisque/godisque/actors"
	"github.com/godisque/godisque/config"
	"github.com/godisque/godisque/gateway"
)

// showCtime is SHOW's ctime of a job: nanoseconds of the node's clock.
func showCtime(t *testing.T, tn *testNode, id string) time.Time {
	t.Helper()
	v, err := tn.do("SHOW", id)
	if err != nil {
		t.Fatalf("SHOW %s: %v", id, err)
	}
	f := v.([]any)
	for i := 0; i+1 < len(f); i += 2 {
		if f[i] == "ctime" {
			return time.Unix(0, f[i+1].(int64))
		}
	}
	t.Fatalf("SHOW %s has no ctime: %v", id, f)
	return time.Time{}
}

func TestDebugClockSkewMovesTheNodesClock(t *testing.T) {
	tn := startNode(t)
	if v, err := tn.do("DEBUG", "CLOCK-SKEW"); err != nil || v != int64(0) {
		t.Fatalf("DEBUG CLOCK-SKEW of a new node = %v, %v; want 0", v, err)
	}
	if v, err := tn.do("DEBUG", "CLOCK-SKEW", "3600000"); err != nil || v != "OK" {
		t.Fatalf("DEBUG CLOCK-SKEW 3600000 = %v, %v", v, err)
	}
	if v, _ := tn.do("debug", "clock-skew"); v != int64(3_600_000) {
		t.Fatalf("the skew reads back as %v", v)
	}
	// A job made now is stamped an hour ahead (loose bounds: the machine
	// is shared).
	id, err := tn.do("ADDJOB", "q", "body", 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(showCtime(t, tn, id.(string))); d < 59*time.Minute || d > 61*time.Minute {
		t.Fatalf("a job made on a clock 1 h ahead has ctime %v from now", d)
	}
	// Back behind: job ctimes stay monotonic on a node (SPEC.md §5.1 step
	// 9), so the next job is stamped just after the first one.
	if _, err := tn.do("DEBUG", "CLOCK-SKEW", "-3600000"); err != nil {
		t.Fatal(err)
	}
	first := showCtime(t, tn, id.(string))
	id, _ = tn.do("ADDJOB", "q", "body2", 0)
	if c := showCtime(t, tn, id.(string)); !c.After(first) || c.Sub(first) > time.Second {
		t.Fatalf("after the clock went back 2 h, a new job's ctime is %v after the previous one", c.Sub(first))
	}
	// On a fresh node, a clock behind stamps jobs behind.
	behind := startNode(t)
	if _, err := behind.do("DEBUG", "CLOCK-SKEW", "-3600000"); err != nil {
		t.Fatal(err)
	}
	id2, _ := behind.do("ADDJOB", "q", "body", 0)
	if d := time.Until(showCtime(t, behind, id2.(string))); d > -59*time.Minute || d < -61*time.Minute {
		t.Fatalf("a job made on a clock 1 h behind has ctime %v from now", d)
	}
	if _, err := tn.do("DEBUG", "CLOCK-SKEW", "0"); err != nil {
		t.Fatal(err)
	}
	if v, _ := tn.do("DEBUG", "CLOCK-SKEW"); v != int64(0) {
		t.Fatalf("after DEBUG CLOCK-SKEW 0 the skew is %v", v)
	}
}

func TestDebugClockSkewErrors(t *testing.T) {
	tn := startNode(t)
	for _, tt := range []struct {
		args []any
		want string
	}{
		{[]any{"DEBUG", "CLOCK-SKEW", "soon"}, string(gateway.ErrSkewRange)},
		{[]any{"DEBUG", "CLOCK-SKEW", "1.5"}, string(gateway.ErrSkewRange)},
		{[]any{"DEBUG", "CLOCK-SKEW", "86400001"}, string(gateway.ErrSkewRange)},
		{[]any{"DEBUG", "CLOCK-SKEW", "-86400001"}, string(gateway.ErrSkewRange)},
		{[]any{"DEBUG", "CLOCK-SKEW", "1", "2"},
			"ERR Unknown DEBUG subcommand or wrong number of arguments for 'CLOCK-SKEW'"},
	} {
		if _, err := tn.do(tt.args...); err == nil || err.Error() != tt.want {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
	// A bad command changed nothing.
	if v, _ := tn.do("DEBUG", "CLOCK-SKEW"); v != int64(0) {
		t.Fatalf("skew after bad commands = %v", v)
	}
	// A node whose embedder gave it a clock cannot be skewed.
	n := startLinkNode(t, false)
	if _, err := n.rdb.Do(n.ctx, "DEBUG", "CLOCK-SKEW", "5").Result(); err == nil || err.Error() != string(gateway.ErrNoSkew) {
		t.Fatalf("DEBUG CLOCK-SKEW without a Skewer: %v, want %q", err, gateway.ErrNoSkew)
	}
}

// ------------------------------ A broken node ---------------------------------

func TestParseBreakage(t *testing.T) {
	for _, s := range []string{"", "ack-before-replication"} {
		if b, err := gateway.ParseBreakage(s); err != nil || string(b) != s {
			t.Errorf("ParseBreakage(%q) = %q, %v", s, b, err)
		}
	}
	if _, err := gateway.ParseBreakage("lose-everything"); err == nil || !strings.Contains(err.Error(), "ack-before-replication") {
		t.Errorf("an unknown breakage: %v", err)
	}
}

// startGateway serves a lone node's actors with the given gateway options.
func startGateway(t *testing.T, opts gateway.Options) *redis.Client {
	t.Helper()
	an, err := actors.Start(actors.Options{NodeID: "0123456789abcdef0123456789abcdef01234567", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	opts.Node, opts.Settings = an, config.NewStore(config.Default(), "")
	srv := gateway.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), Protocol: 2, MaxRetries: -1})
	t.Cleanup(func() {
		rdb.Close()
		_ = srv.Close()
		<-served
		an.Stop()
	})
	return rdb
}

func TestAckBeforeReplicationAnswersWithOneCopy(t *testing.T) {
	ctx := context.Background()
	// A correct lone node refuses REPLICATE 3: nobody to copy the job to.
	good := startGateway(t, gateway.Options{})
	if _, err := good.Do(ctx, "ADDJOB", "q", "x", 0, "REPLICATE", 3).Result(); err == nil || !strings.HasPrefix(err.Error(), "NOREPL") {
		t.Fatalf("a correct lone node: ADDJOB REPLICATE 3 = %v, want NOREPL", err)
	}
	// The broken one says yes, alone and pipelined, and keeps one copy.
	bad := startGateway(t, gateway.Options{Broken: gateway.AckBeforeReplication})
	id, err := bad.Do(ctx, "ADDJOB", "q", "x", 0, "REPLICATE", 3, "RETRY", 1).Text()
	if err != nil {
		t.Fatalf("a broken node: ADDJOB REPLICATE 3 = %v", err)
	}
	pipe := bad.Pipeline()
	a := pipe.Do(ctx, "ADDJOB", "q", "y", 0, "REPLICATE", 3)
	b := pipe.Do(ctx, "ADDJOB", "q", "z", 0, "REPLICATE", 2)
	if _, err := pipe.Exec(ctx); err != nil || a.Err() != nil || b.Err() != nil {
		t.Fatalf("pipelined ADDJOBs on a broken node: %v %v %v", err, a.Err(), b.Err())
	}
	v, err := bad.Do(ctx, "SHOW", id).Slice()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(v); i += 2 {
		if v[i] == "repl" && v[i+1] != int64(1) {
			t.Fatalf("the broken node's job has repl %v, want 1", v[i+1])
		}
	}
	if n, _ := bad.Do(ctx, "QLEN", "q").Int(); n != 3 {
		t.Fatalf("QLEN = %d, want the 3 jobs answered", n)
	}
}
