package main

// Crash tests with real processes (SPEC.md §15, DESIGN.md "Persistence"):
// a disque-server binary with appendonly yes takes a load of ADDJOB,
// GETJOB and ACKJOB, is killed with SIGKILL at a random moment, and is
// started again on the same directory and port. Whatever was answered must
// have survived, whatever was acknowledged must not come back, and an
// at-most-once job handed to a consumer must never be handed out again.
//
//	GODISQUE_CRASH_ROUNDS=50   more rounds (default 8)
//	GODISQUE_CRASH_SEED=123    replay a run (the seed is logged)
//	GODISQUE_CRASH_RACE=1      build the server with -race

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godisque/godisque/actors/aof"
)

var (
	buildOnce sync.Once
	buildDir  string
	serverBin string
	buildErr  error
)

// quiet drops go-redis's own log lines (dial failures while a server is
// down are expected here).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds cmd/disque-server once, from the module root.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "godisque-crash-"); buildErr != nil {
			return
		}
		serverBin = filepath.Join(buildDir, "disque-server")
		args := []string{"build", "-o", serverBin}
		if os.Getenv("GODISQUE_CRASH_RACE") != "" {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/disque-server")...)
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return serverBin
}

// ------------------------------- The process ---------------------------------

// lockedBuffer collects a server's output across its lives.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a server program run by a test, one process at a time, with its
// output kept across its lives. The crash tests' server and the cluster
// tests' nodes are procs.
type proc struct {
	t      *testing.T
	out    *lockedBuffer
	cmd    *exec.Cmd
	exited chan struct{}
}

func newProc(t *testing.T) *proc { return &proc{t: t, out: &lockedBuffer{}} }

// reapOnCleanup kills the process still running when the test ends, and
// logs the last lines of its output if the test failed.
func (p *proc) reapOnCleanup(name string, lines int) {
	p.t.Cleanup(func() {
		if p.running() {
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if p.t.Failed() {
			p.t.Logf("%s output:\n%s", name, tail(p.out.String(), lines))
		}
	})
}

func (p *proc) running() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// launch runs the binary with args and waits, up to patience, until ping
// succeeds; what names the process in a failure.
func (p *proc) launch(what string, args []string, patience time.Duration, ping func() error) {
	p.t.Helper()
	p.cmd = exec.Command(binary(p.t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan struct{})
	cmd, exited := p.cmd, p.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(patience)
	for {
		err := ping()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: no PONG within %v: %v", what, patience, err)
		}
		select {
		case <-exited:
			p.t.Fatalf("%s: the server exited at start-up (%v)", what, cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// kill is SIGKILL: no shutdown code runs.
func (p *proc) kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatal(err)
	}
	<-p.exited
}

// server is one node's directory and port, and its current process.
type server struct {
	*proc
	dir   string
	port  int
	fsync string
	lives int
}

func newServer(t *testing.T, rng *rand.Rand, fsync string) *server {
	s := &server{proc: newProc(t), dir: t.TempDir(), port: freePortPair(t, rng, map[int]bool{}), fsync: fsync}
	s.reapOnCleanup("server", 60)
	return s
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func (s *server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// start runs the binary and waits until it answers PING.
func (s *server) start() {
	s.t.Helper()
	s.lives++
	fmt.Fprintf(s.out, "----- life %d -----\n", s.lives)
	c := s.client()
	defer c.Close()
	s.launch(fmt.Sprintf("life %d", s.lives), []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--appendonly", "yes", "--appendfsync", s.fsync},
		20*time.Second, func() error { return c.Ping(context.Background()).Err() })
}

// term is a clean stop.
func (s *server) term() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		s.t.Fatal("no exit within 20 s of SIGTERM")
	}
	if !s.cmd.ProcessState.Success() {
		s.t.Errorf("exit after SIGTERM: %v", s.cmd.ProcessState)
	}
}

func (s *server) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.addr(), Protocol: 2, MaxRetries: -1,
		DialTimeout: 2 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second})
}

// ------------------------------- The ledger ----------------------------------

type kind int

const (
	atLeastOnce kind = iota
	atMostOnce       // RETRY 0 REPLICATE 1
	delayed          // DELAY 1
)

// ledger is what clients were told, across all the lives of a node.
type ledger struct {
	mu        sync.Mutex
	jobs      map[string]kind   // ADDJOB answered
	bodies    map[string]string // their bodies
	acked     map[string]bool   // ACKJOB answered
	ackUnsure map[string]bool   // ACKJOB sent, no answer
	amoGiven  map[string]bool   // at-most-once jobs GETJOB handed out
	alGiven   map[string]bool   // at-least-once jobs GETJOB handed out
	problems  []string
	adds      int
}

func newLedger() *ledger {
	return &ledger{jobs: map[string]kind{}, bodies: map[string]string{}, acked: map[string]bool{},
		ackUnsure: map[string]bool{}, amoGiven: map[string]bool{}, alGiven: map[string]bool{}}
}

func (l *ledger) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

const crashQueue = "crashq"

// produce adds jobs until the server goes away.
func (l *ledger) produce(ctx context.Context, c *redis.Client, name string) {
	for i := 0; ctx.Err() == nil; i++ {
		body := fmt.Sprintf("%s-%d", name, i)
		if i%11 == 0 {
			// Some writes span pages: a SIGKILL can tear them.
			body += strings.Repeat(".", 16<<10)
		}
		args := []any{"ADDJOB", crashQueue, body, 0}
		k := atLeastOnce
		switch {
		case i%5 == 0:
			k, args = atMostOnce, append(args, "RETRY", 0, "REPLICATE", 1)
		case i%7 == 0:
			k, args = delayed, append(args, "DELAY", 1)
		}
		id, err := c.Do(ctx, args...).Text()
		if err != nil {
			return
		}
		l.mu.Lock()
		l.jobs[id], l.bodies[id] = k, body
		l.adds++
		l.mu.Unlock()
	}
}

// consume takes jobs and acknowledges some, until the server goes away.
func (l *ledger) consume(ctx context.Context, c *redis.Client, rng *rand.Rand) {
	for ctx.Err() == nil {
		v, err := c.Do(ctx, "GETJOB", "NOHANG", "COUNT", 10, "FROM", crashQueue).Result()
		if errors.Is(err, redis.Nil) {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		if err != nil {
			return
		}
		var ack []any
		l.mu.Lock()
		for _, it := range v.([]any) {
			id := it.([]any)[1].(string)
			if l.acked[id] {
				l.problems = append(l.problems, "acknowledged job delivered again: "+id)
			}
			if l.amoGiven[id] {
				l.problems = append(l.problems, "RETRY 0 job delivered twice: "+id)
			}
			if k, ok := l.jobs[id]; ok && k == atMostOnce {
				l.amoGiven[id] = true
			} else if ok {
				l.alGiven[id] = true
			}
			if rng.IntN(2) == 0 {
				ack = append(ack, id)
				l.ackUnsure[id] = true
			}
		}
		l.mu.Unlock()
		if len(ack) == 0 {
			continue
		}
		if err := c.Do(ctx, append([]any{"ACKJOB"}, ack...)...).Err(); err != nil {
			return
		}
		l.mu.Lock()
		for _, id := range ack {
			delete(l.ackUnsure, id.(string))
			l.acked[id.(string)] = true
		}
		l.mu.Unlock()
	}
}

// rewrite asks for BGREWRITEAOF every few tens of milliseconds, so that
// some kills land in the middle of a rewrite.
func rewrite(ctx context.Context, c *redis.Client, rng *rand.Rand, started *int) {
	for ctx.Err() == nil {
		time.Sleep(time.Duration(10+rng.IntN(50)) * time.Millisecond)
		if err := c.Do(ctx, "BGREWRITEAOF").Err(); err == nil {
			*started++
		} else if !strings.Contains(err.Error(), "already in progress") {
			return
		}
	}
}

// load runs two producers and a consumer (and with rewrites a rewriter)
// against s until stop() returns, then waits for them: afterwards the
// ledger holds every answer received.
func (l *ledger) load(s *server, rng *rand.Rand, round int, rewrites *int, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := s.client()
			defer c.Close()
			l.produce(ctx, c, fmt.Sprintf("r%d-p%d", round, g))
		}()
	}
	crng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := s.client()
		defer c.Close()
		l.consume(ctx, c, crng)
	}()
	if rewrites != nil {
		rrng := rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := s.client()
			defer c.Close()
			rewrite(ctx, c, rrng, rewrites)
		}()
	}
	stop() // the server dies first: every answer read so far is recorded
	cancel()
	wg.Wait()
}

// check compares a restarted node with the ledger.
func (l *ledger) check(t *testing.T, s *server, round int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.problems {
		t.Errorf("round %d: %s", round, p)
	}
	l.problems = nil

	c := s.client()
	defer c.Close()
	ctx := context.Background()
	ids := make([]string, 0, len(l.jobs))
	for id := range l.jobs {
		ids = append(ids, id)
	}
	pipe := c.Pipeline()
	cmds := make([]*redis.Cmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.Do(ctx, "SHOW", id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("round %d: SHOW pipeline: %v", round, err)
	}
	lost, back, requeued := 0, 0, 0
	for i, id := range ids {
		v, err := cmds[i].Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			t.Fatalf("round %d: SHOW %s: %v", round, id, err)
		}
		switch {
		case l.ackUnsure[id]:
			// ACKJOB sent, its answer lost in the crash: either is right.
		case l.acked[id]:
			if v != nil {
				back++
				if back <= 5 {
					t.Errorf("round %d: acknowledged job %s came back", round, id)
				}
			}
		case v == nil:
			lost++
			if lost <= 5 {
				t.Errorf("round %d: answered job %s (kind %d) lost", round, id, l.jobs[id])
			}
		default:
			m := showMap(v)
			if m["body"] != l.bodies[id] {
				t.Errorf("round %d: job %s body %q, want %q", round, id, m["body"], l.bodies[id])
			}
			if l.amoGiven[id] && (m["state"] != "active" || m["next-requeue-within"] != nil) {
				requeued++
				if requeued <= 5 {
					t.Errorf("round %d: delivered RETRY 0 job %s is %v with requeue %v: it may be delivered twice",
						round, id, m["state"], m["next-requeue-within"])
				}
			}
			// A delivered at-least-once job requeues after its retry (300 s
			// by default, beyond this test), not at the restart.
			if w, _ := m["next-requeue-within"].(int64); l.alGiven[id] && (m["state"] != "active" || w <= 0) {
				requeued++
				if requeued <= 5 {
					t.Errorf("round %d: delivered job %s is %v with requeue %v after the restart, want active, > 0",
						round, id, m["state"], m["next-requeue-within"])
				}
			}
		}
	}
	for _, bad := range []string{"WARNING: DATA RACE", "panic:"} {
		if strings.Contains(s.out.String(), bad) {
			t.Fatalf("round %d: %q in the server's output", round, bad)
		}
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("round %d: a stale rewrite file is left after start-up: %s", round, e.Name())
		}
	}
	if lost+back+requeued > 0 {
		t.Fatalf("round %d: %d answered jobs lost, %d acknowledged jobs back, %d delivered jobs requeueable (of %d jobs, %d acked)",
			round, lost, back, requeued, len(l.jobs), len(l.acked))
	}

	// And it serves.
	id, err := c.Do(ctx, "ADDJOB", "probe", fmt.Sprintf("probe-%d", round), 0).Text()
	if err != nil {
		t.Fatalf("round %d: ADDJOB after restart: %v", round, err)
	}
	v, err := c.Do(ctx, "GETJOB", "NOHANG", "FROM", "probe").Result()
	if err != nil || v.([]any)[0].([]any)[1] != id {
		t.Fatalf("round %d: GETJOB after restart: %v %v", round, v, err)
	}
	if err := c.Do(ctx, "ACKJOB", id).Err(); err != nil {
		t.Fatalf("round %d: ACKJOB after restart: %v", round, err)
	}
}

func showMap(v any) map[string]any {
	a := v.([]any)
	m := make(map[string]any, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		m[fmt.Sprint(a[i])] = a[i+1]
	}
	return m
}

// --------------------------------- The tests ---------------------------------

func seed(t *testing.T) uint64 {
	if v := os.Getenv("GODISQUE_CRASH_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("GODISQUE_CRASH_SEED=%q", v)
		}
		return s
	}
	return uint64(time.Now().UnixNano())
}

func rounds(t *testing.T) int {
	if v := os.Getenv("GODISQUE_CRASH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("GODISQUE_CRASH_ROUNDS=%q", v)
		}
		return n
	}
	return 8
}

// budget bounds the default (CI) run; an explicit round count has none.
func budget(d time.Duration) time.Duration {
	if os.Getenv("GODISQUE_CRASH_ROUNDS") != "" {
		return time.Duration(1<<63 - 1)
	}
	return d
}

// crashLoop runs rounds of load + SIGKILL + restart on one node; every
// other round a rewriter runs BGREWRITEAOF again and again meanwhile. It
// returns the running node and its ledger.
func crashLoop(t *testing.T, fsync string, n int, budget time.Duration) (*server, *ledger) {
	sd := seed(t)
	t.Logf("seed %d (GODISQUE_CRASH_SEED=%d to replay), %d rounds", sd, sd, n)
	rng := rand.New(rand.NewPCG(sd, sd^0x9e3779b97f4a7c15))
	s := newServer(t, rng, fsync)
	l := newLedger()
	s.start()
	begin := time.Now()
	for round := 1; round <= n; round++ {
		if round > 2 && time.Since(begin) > budget {
			t.Logf("time budget %v spent after %d rounds", budget, round-1)
			break
		}
		after := time.Duration(50+rng.IntN(351)) * time.Millisecond
		var rewrites *int
		if round%2 == 0 {
			rewrites = new(int)
		}
		l.load(s, rng, round, rewrites, func() {
			time.Sleep(after)
			s.kill()
		})
		s.start()
		l.check(t, s, round)
		rw := ""
		if rewrites != nil {
			rw = fmt.Sprintf(" (%d BGREWRITEAOF)", *rewrites)
		}
		t.Logf("round %d: killed after %v%s; %d jobs answered, %d acknowledged, delivered %d RETRY 0 and %d others",
			round, after, rw, len(l.jobs), len(l.acked), len(l.amoGiven), len(l.alGiven))
	}
	if l.adds == 0 {
		t.Fatal("no ADDJOB was ever answered")
	}
	if c := strings.Count(s.out.String(), "torn record"); c > 0 {
		t.Logf("%d of %d start-ups cut a torn tail", c, s.lives)
	}
	return s, l
}

// TestCrashKill9Always: appendfsync always, SIGKILL at random moments;
// then a clean stop (SIGTERM) loses nothing either.
func TestCrashKill9Always(t *testing.T) {
	s, l := crashLoop(t, "always", rounds(t), budget(30*time.Second))
	s.term()
	s.start()
	l.check(t, s, -1)
}

// TestCrashKill9EverySec: with everysec a record reaches the kernel before
// its reply, so a crash of the process alone (not of the machine) loses
// nothing either. Then SHUTDOWN REWRITE-AOF stops the process with a
// compact file that restores the same jobs.
func TestCrashKill9EverySec(t *testing.T) {
	n := 3
	if rounds(t) > 8 {
		n = rounds(t) / 2
	}
	s, l := crashLoop(t, "everysec", n, budget(15*time.Second))

	c := s.client()
	ctx := context.Background()
	var live []any
	cursor := "0"
	for {
		v, err := c.Do(ctx, "JSCAN", cursor, "COUNT", 1000, "STATE", "active", "STATE", "queued").Result()
		if err != nil {
			t.Fatal(err)
		}
		a := v.([]any)
		live = append(live, a[1].([]any)...)
		if cursor = a[0].(string); cursor == "0" {
			break
		}
	}
	if err := c.Do(ctx, "SHUTDOWN", "REWRITE-AOF").Err(); err == nil {
		t.Error("SHUTDOWN REWRITE-AOF answered instead of closing the connection")
	}
	c.Close()
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20 s of SHUTDOWN REWRITE-AOF")
	}
	if !s.cmd.ProcessState.Success() {
		t.Errorf("exit after SHUTDOWN REWRITE-AOF: %v", s.cmd.ProcessState)
	}
	res, err := aof.Load(filepath.Join(s.dir, "disque.aof"), aof.LoadOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != res.Jobs || res.Jobs != int64(len(live)) {
		t.Errorf("after SHUTDOWN REWRITE-AOF the file has %d records, %d LOADJOB; %d jobs were live",
			res.Records, res.Jobs, len(live))
	}
	s.start()
	l.check(t, s, -1)
}
