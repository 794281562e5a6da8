package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DEBUG RESTART and CRASH-AND-RECOVER replace the process with a new run of
// the same program (same PID, since it is an exec): the node comes back with
// its node ID from nodes.conf and its jobs from the append-only file. DEBUG
// SEGFAULT, ASSERT and OOM end the process at once.
func TestDebugRestartAndCrash(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 7))
	s := newServer(t, rng, "always")
	s.start()
	ctx := context.Background()
	c := s.client()
	defer c.Close()
	id, err := c.Do(ctx, "ADDJOB", "dq", "survivor", 0).Text()
	if err != nil {
		t.Fatal(err)
	}
	myid := c.Do(ctx, "CLUSTER", "MYID").Val()
	pid := infoField(t, c, "process_id")

	if err := c.Do(ctx, "DEBUG", "RESTART", "abc").Err(); err == nil || err.Error() != "ERR value is not an integer or out of range" {
		t.Fatalf("DEBUG RESTART abc: %v", err)
	}
	if v := c.Do(ctx, "DEBUG", "STRUCTSIZE").Val(); !strings.Contains(v.(string), "job:112") {
		t.Fatalf("DEBUG STRUCTSIZE = %q", v)
	}
	for _, sub := range []string{"RESTART", "CRASH-AND-RECOVER"} {
		// No reply: the connection closes when the process is replaced.
		if err := c.Do(ctx, "DEBUG", sub, 50).Err(); err == nil {
			t.Fatalf("DEBUG %s answered instead of restarting", sub)
		}
		waitPong(t, s)
		if got := infoField(t, c, "process_id"); got != pid {
			t.Fatalf("after DEBUG %s the process is %s, want the same (exec'd) %s", sub, got, pid)
		}
		if got := c.Do(ctx, "CLUSTER", "MYID").Val(); got != myid {
			t.Fatalf("after DEBUG %s the node ID is %v, want %s", sub, got, myid)
		}
		if v, err := c.Do(ctx, "SHOW", id).Slice(); err != nil || len(v) != 30 || v[29] != "survivor" {
			t.Fatalf("after DEBUG %s SHOW = %v %v, want the job back", sub, v, err)
		}
		if !s.running() {
			t.Fatalf("the process exited on DEBUG %s", sub)
		}
	}

	_ = c.Do(ctx, "DEBUG", "SEGFAULT").Err()
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the process is still running after DEBUG SEGFAULT")
	}
	if s.cmd.ProcessState.Success() {
		t.Fatalf("exit after DEBUG SEGFAULT = %v, want a failure", s.cmd.ProcessState)
	}
	if !strings.Contains(s.out.String(), "crashing on request") {
		t.Fatal("no log line for the crash")
	}
}

func infoField(t *testing.T, c *redis.Client, field string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := c.Info(context.Background(), "server").Result()
		if err == nil {
			for _, line := range strings.Split(info, "\r\n") {
				if v, ok := strings.CutPrefix(line, field+":"); ok {
					return v
				}
			}
			t.Fatalf("INFO has no %s", field)
		}
		if time.Now().After(deadline) {
			t.Fatalf("INFO: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitPong(t *testing.T, s *server) {
	t.Helper()
	c := s.client()
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("no PONG within 20 s of the restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
