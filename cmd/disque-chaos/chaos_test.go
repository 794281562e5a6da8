package main

// End-to-end runs of the chaos playground, as a user runs it: the two
// binaries are built (without -race, for speed: the servers are not what
// this test races), then `disque-chaos run` starts real disque-server
// processes and breaks them. Short runs (8 s of workload each, in
// parallel) of a partition, kills with an append-only file, and pauses
// must lose nothing; a cluster broken on purpose (ADDJOB answered before
// replication) killed without an append-only file must be caught losing
// jobs. Skipped with -short.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/godisque/godisque/chaos"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binaries builds disque-server and disque-chaos into one directory, once.
func binaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end chaos runs are skipped with -short")
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "godisque-chaos-"); buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", buildDir+string(os.PathSeparator), "./cmd/disque-server", "./cmd/disque-chaos")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// chaosRun runs `disque-chaos run args...` into a fresh directory and
// returns its exit status, its output, and the directory.
func chaosRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	bin := filepath.Join(binaries(t), "disque-chaos")
	out := t.TempDir()
	cmd := exec.Command(bin, append([]string{"run", "--out", out}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("disque-chaos %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
		}
	})
	return code, stdout.String(), out
}

// readRun reads back what a run wrote and checks it is all there.
func readRun(t *testing.T, dir string) chaos.History {
	t.Helper()
	for _, name := range []string{"summary.txt", "history.jsonl", "report.html", "nodes/n1/server.log"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("the run wrote no %s: %v", name, err)
		}
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !bytes.Contains(page, []byte("<svg")) {
		t.Errorf("report.html has no picture (%v)", err)
	}
	f, err := os.Open(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := chaos.ReadHistory(f)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// faultsOf are the history's ops of one kind (Schedule or Nemesis).
func faultsOf(h chaos.History, kind chaos.Kind) []chaos.Op {
	var out []chaos.Op
	for _, op := range h {
		if op.Kind == kind {
			out = append(out, op)
		}
	}
	return out
}

// common are the flags of the short runs: 3 nodes, 8 s, two faults.
var common = []string{"--nodes", "3", "--clients", "6", "--time", "8s", "--interval", "2s", "--seed", "3",
	"--drain-quiet", "10s", "--settle", "20s"}

// phases logs how long a run's phases took (from its summary).
func phases(t *testing.T, stdout string) {
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "phases:") {
			t.Log(l)
		}
	}
}

// TestChaosRuns runs the scenarios in parallel: four small clusters on the
// machine at once, about 20 s in all after the build.
func TestChaosRuns(t *testing.T) {
	t.Run("a broken cluster is caught losing jobs", testABrokenClusterIsCaughtLosingJobs)
	for _, sc := range []struct {
		name    string
		nemesis string
		args    []string
	}{
		{"partition", chaos.Partition, []string{"--replicate", "2"}},
		{"kill with an AOF", chaos.Kill, []string{"--replicate", "2", "--aof", "always"}},
		{"pause", chaos.Pause, []string{"--replicate", "2"}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, dir := chaosRun(t, append(append([]string{"--nemesis", sc.nemesis}, common...), sc.args...)...)
			phases(t, stdout)
			if code != exitValid {
				t.Fatalf("exit status %d, want %d (valid)", code, exitValid)
			}
			for _, want := range []string{"verdict: VALID", "\nlost: 0\n", "report: " + filepath.Join(dir, "report.html")} {
				if !strings.Contains(stdout, want) {
					t.Errorf("the summary lacks %q", want)
				}
			}
			h := readRun(t, dir)
			r := chaos.Check(h, chaos.CheckOptions{})
			if !r.Valid || len(r.Lost) != 0 || len(r.Unexpected) != 0 {
				t.Fatalf("the history, checked again: %s", r)
			}
			if r.EnqueuesOK < 50 || r.Dequeued < 50 {
				t.Errorf("too little work to prove anything: %d acknowledged enqueues, %d dequeued", r.EnqueuesOK, r.Dequeued)
			}
			// The faults the seed planned happened, and healed.
			applied := faultsOf(h, chaos.Nemesis)
			if len(applied) == 0 {
				t.Fatal("no fault was applied")
			}
			for _, op := range applied {
				if op.Fault != sc.nemesis || op.Outcome != chaos.OK || op.End <= op.Start {
					t.Errorf("fault %+v", op)
				}
				if op.MemoryLost {
					t.Errorf("a node lost its memory with an append-only file or without a kill: %+v", op)
				}
			}
			// The schedule in the history is the one `plan` draws for the seed.
			var plan bytes.Buffer
			if run([]string{"plan", "--nodes", "3", "--time", "8s", "--interval", "2s", "--seed", "3", "--nemesis", sc.nemesis},
				&plan, &plan) != exitValid {
				t.Fatal(plan.String())
			}
			sched := faultsOf(h, chaos.Schedule)
			if len(sched) != len(applied) {
				t.Errorf("%d faults planned, %d applied", len(sched), len(applied))
			}
			for _, op := range sched {
				if !strings.Contains(plan.String(), op.Detail) {
					t.Errorf("planned fault %q is not in the plan of seed 3:\n%s", op.Detail, plan.String())
				}
			}
		})
	}
}

func testABrokenClusterIsCaughtLosingJobs(t *testing.T) {
	t.Parallel()
	// Seed 1 kills n1 at 0.6 s and n3 at 4.8 s: two nodes lose their
	// memory, fewer than REPLICATE 3, so no loss is excused.
	code, stdout, dir := chaosRun(t, "--broken", "ack-before-replication", "--nemesis", "kill", "--nodes", "3",
		"--replicate", "3", "--clients", "6", "--time", "8s", "--interval", "2s", "--seed", "1",
		"--enqueue-share", "0.7", "--drain-quiet", "5s", "--settle", "20s")
	phases(t, stdout)
	if code != exitInvalid {
		t.Fatalf("exit status %d, want %d: the broken cluster was not caught", code, exitInvalid)
	}
	if !strings.Contains(stdout, "verdict: INVALID") || !strings.Contains(stdout, "GODISQUE_CHAOS_BROKEN=ack-before-replication") {
		t.Errorf("the summary does not say why")
	}
	h := readRun(t, dir)
	r := chaos.Check(h, chaos.CheckOptions{})
	if len(r.Lost) == 0 || len(r.Excused) != 0 || r.Valid {
		t.Fatalf("want lost jobs, none excused: %s", r)
	}
	if !strings.Contains(stdout, "lost "+r.Lost[0]+": job ") && !strings.Contains(stdout, ": job D-") {
		t.Errorf("the summary gives no evidence of a lost job")
	}
	if r.MemoryLost < 1 || r.MemoryLost >= 3 {
		t.Errorf("%d nodes lost their memory; the seed kills 1 or 2", r.MemoryLost)
	}
}

func TestPlanReplaysTheSameSchedule(t *testing.T) {
	plan := func(seed string) string {
		var out bytes.Buffer
		if code := run([]string{"plan", "--nemesis", "all", "--seed", seed}, &out, &out); code != exitValid {
			t.Fatalf("plan: %d %s", code, out.String())
		}
		return out.String()
	}
	a, b, c := plan("42"), plan("42"), plan("43")
	if a != b {
		t.Fatalf("seed 42 planned twice differently:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatal("seeds 42 and 43 planned the same")
	}
	if !strings.HasPrefix(a, "seed 42: 5 nodes, 1m0s, nemeses partition,kill,pause,loss,delay,dup,skew\n") ||
		strings.Count(a, "\n") < 3 {
		t.Fatalf("plan output:\n%s", a)
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, h chaos.History) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.WriteJSONL(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	good := write("good.jsonl", chaos.History{
		{Kind: chaos.Enqueue, Value: "a", Outcome: chaos.OK, Replicate: 2},
		{Kind: chaos.Dequeue, Value: "a", Outcome: chaos.OK},
	})
	bad := write("bad.jsonl", chaos.History{
		{Kind: chaos.Enqueue, Value: "a", JobID: "D-1", Outcome: chaos.OK, Replicate: 2},
	})
	var out bytes.Buffer
	if code := run([]string{"check", good}, &out, &out); code != exitValid || !strings.Contains(out.String(), "verdict: VALID") {
		t.Errorf("check of a good history: %d\n%s", code, out.String())
	}
	out.Reset()
	html, svg := filepath.Join(dir, "bad.html"), filepath.Join(dir, "bad.svg")
	if code := run([]string{"check", "--html", html, "--svg", svg, "--title", "T<1>", bad}, &out, &out); code != exitInvalid ||
		!strings.Contains(out.String(), "lost a: job D-1") {
		t.Errorf("check of a losing history: %d\n%s", code, out.String())
	}
	if page, err := os.ReadFile(html); err != nil || !bytes.Contains(page, []byte("<svg")) || !bytes.Contains(page, []byte("<title>T&lt;1&gt;</title>")) {
		t.Errorf("check --html wrote no report with its title: %v", err)
	}
	if pic, err := os.ReadFile(svg); err != nil || !bytes.HasPrefix(pic, []byte("<?xml")) {
		t.Errorf("check --svg wrote no picture: %v", err)
	}
	garbage := filepath.Join(dir, "garbage.jsonl")
	if err := os.WriteFile(garbage, []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", garbage}, {"check"}, {"check", filepath.Join(dir, "missing")}} {
		out.Reset()
		if code := run(args, &out, &out); code != exitHarness {
			t.Errorf("%v: exit %d, want %d", args, code, exitHarness)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "disque-server")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "Usage"},
		{[]string{"explode"}, `unknown command "explode"`},
		{[]string{"run", "--server", exe, "--nemesis", "meteor"}, `unknown nemesis "meteor"`},
		{[]string{"run", "--server", exe, "--aof", "sometimes"}, `--aof "sometimes"`},
		{[]string{"run", "--server", exe, "--replicate", "6"}, "--replicate must be between 1 and --nodes"},
		{[]string{"run", "--server", exe, "--retry", "1500ms"}, "--retry must be whole seconds"},
		{[]string{"run", "--server", filepath.Join(t.TempDir(), "nothing")}, "--server"},
		{[]string{"run", "--server", exe, "extra"}, `unexpected argument "extra"`},
		{[]string{"run", "--server", exe, "--time", "1s", "--quiet", "--out", t.TempDir()}, "starting n1"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr)
		if code != exitHarness || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), exitHarness, tt.want)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"help"}, &out, &out); code != exitValid || !strings.Contains(out.String(), "disque-chaos run") {
		t.Errorf("help: %d %q", code, out.String())
	}
}
