package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

func tinyOptions(scenario, addr string) Options {
	o := DefaultOptions()
	o.Scenario, o.Addrs, o.Label = scenario, []string{addr}, "test"
	o.Connections, o.Count, o.ServerPID = 4, 400, -1
	o.SampleEvery = 5 * time.Millisecond
	return o
}

// checkResult asserts what every run must produce.
func checkResult(t *testing.T, r *Result, ops int64, commands ...string) {
	t.Helper()
	if r.Ops != ops {
		t.Errorf("%s: %d ops, want %d", r.Scenario, r.Ops, ops)
	}
	if r.Errors != 0 {
		t.Errorf("%s: %d errors, the first %q", r.Scenario, r.Errors, r.FirstError)
	}
	if r.Elapsed <= 0 || r.OpsPerSec() <= 0 {
		t.Errorf("%s: elapsed %v, %v ops/s", r.Scenario, r.Elapsed, r.OpsPerSec())
	}
	if r.Latency.Count() < uint64(ops) || r.Latency.Max() == 0 || r.Latency.Percentile(50) == 0 {
		t.Errorf("%s: latencies not recorded: count %d, max %d", r.Scenario, r.Latency.Count(), r.Latency.Max())
	}
	if r.Commands < ops {
		t.Errorf("%s: %d commands for %d ops", r.Scenario, r.Commands, ops)
	}
	for _, name := range commands {
		if h := r.PerCommand[name]; h == nil || h.Count() == 0 {
			t.Errorf("%s: no latencies for %s (have %v)", r.Scenario, name, sortedKeys(r.PerCommand))
		}
	}
	if len(r.PerCommand) != len(commands) {
		t.Errorf("%s: per-command latencies for %v, want %v", r.Scenario, sortedKeys(r.PerCommand), commands)
	}
}

func TestRunDisqueScenarios(t *testing.T) {
	addr := startNode(t)
	ctx := context.Background()
	qlen := func(q string) int64 {
		r, err := dial(t, addr).Do("QLEN", q)
		if err != nil {
			t.Fatal(err)
		}
		return r.Int
	}
	for _, pipeline := range []int{1, 8} {
		o := tinyOptions(ScenarioAddJob, addr)
		o.Pipeline, o.Flush, o.Queues = pipeline, true, 2
		r, err := Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, r, 400, "ADDJOB")
		if n := qlen("bench:addjob:0") + qlen("bench:addjob:1"); n != 400 {
			t.Errorf("P%d: %d jobs queued after 400 ADDJOBs", pipeline, n)
		}

		o.Scenario = ScenarioGetJob
		r, err = Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, r, 400, "GETJOB")
		if r.Empty != 0 {
			t.Errorf("P%d getjob: %d empty replies from filled queues", pipeline, r.Empty)
		}

		o.Scenario = ScenarioLifecycle
		r, err = Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		// Consumers cannot choose how many jobs they get: batches in flight
		// when the count is reached finish, so a lifecycle may ack a few
		// more jobs than asked, never fewer.
		if r.Ops < 400 || r.Ops >= 400+int64(pipeline*o.Connections) {
			t.Errorf("P%d lifecycle: %d jobs, want 400 or a batch more", pipeline, r.Ops)
		}
		checkResult(t, r, r.Ops, "ADDJOB", "GETJOB", "ACKJOB")
		if h := r.PerCommand["ACKJOB"]; h.Count() < uint64(r.Ops) {
			t.Errorf("P%d lifecycle: %d ACKJOBs for %d jobs", pipeline, h.Count(), r.Ops)
		}
	}
}

func TestRunWarmupAndDuration(t *testing.T) {
	addr := startNode(t)
	o := tinyOptions(ScenarioGetJob, addr)
	o.Warmup, o.Flush = 50*time.Millisecond, true
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The warm-up took jobs; they were put back, so the measured 400 found
	// a job every time.
	checkResult(t, r, 400, "GETJOB")
	if r.Empty != 0 {
		t.Errorf("%d empty replies: the warm-up's jobs were not replaced", r.Empty)
	}

	o = tinyOptions(ScenarioAddJob, addr)
	o.Count, o.Duration = 0, 150*time.Millisecond
	r, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Bounded by its duration, not by a count: it ran about 150 ms (timers
	// may fire a hair early; a loaded machine may run it long).
	if r.Ops == 0 || r.Elapsed < 100*time.Millisecond || r.Elapsed > 30*time.Second {
		t.Errorf("duration run: %d ops in %v", r.Ops, r.Elapsed)
	}
	if len(r.Series) < 2 {
		t.Errorf("duration run: %d throughput samples, want several", len(r.Series))
	}
}

func TestRunTimedTakeRunsDry(t *testing.T) {
	o := tinyOptions(ScenarioGetJob, startNode(t))
	o.Count, o.Duration, o.Prefill, o.Flush = 0, 5*time.Second, 300, true
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Replies in flight when the first empty one stops the run are not counted.
	if !r.Dry || r.Ops > 300 || r.Ops < 300-int64(o.Connections) || r.Empty == 0 || r.Elapsed >= 5*time.Second {
		t.Errorf("dry run: dry %v, %d ops, %d empty, %v", r.Dry, r.Ops, r.Empty, r.Elapsed)
	}
}

func TestRunCeilingScenarios(t *testing.T) {
	addr := startCeiling(t)
	ctx := context.Background()
	o := tinyOptions(ScenarioLPush, addr)
	o.Flush, o.Pipeline = true, 4
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, r, 400, "LPUSH")
	o.Scenario = ScenarioRPop
	if r, err = Run(ctx, o); err != nil {
		t.Fatal(err)
	}
	checkResult(t, r, 400, "RPOP")
}

func TestRunServerCPU(t *testing.T) {
	// The in-process node's INFO reports this test process: its CPU is read.
	o := tinyOptions(ScenarioAddJob, startNode(t))
	o.ServerPID = 0
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.ServerPID == 0 {
		t.Error("the server's process was not found on loopback")
	}
}

func TestRunErrors(t *testing.T) {
	addr := startNode(t)
	for _, tc := range []struct {
		mut  func(*Options)
		want string
	}{
		{func(o *Options) { o.Scenario = "nope" }, "unknown scenario"},
		{func(o *Options) { o.Addrs = nil }, "no address"},
		{func(o *Options) { o.Count, o.Duration = 0, 0 }, "count of operations or a duration"},
		{func(o *Options) { o.Scenario = ScenarioFederated }, "at least 2 addresses"},
		{func(o *Options) { o.Scenario, o.Connections = ScenarioLifecycle, 1 }, "at least 2 connections"},
		{func(o *Options) { o.Addrs = []string{"127.0.0.1:1"} }, "refused"},
	} {
		o := tinyOptions(ScenarioAddJob, addr)
		tc.mut(&o)
		if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", err, tc.want)
		}
	}
	// Error replies are counted, not fatal: a replicated ADDJOB on a single
	// node cannot be replicated.
	o := tinyOptions(ScenarioReplicated, addr)
	o.Count = 20
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 20 || !strings.Contains(r.FirstError, "NOREPL") || r.Ops != 0 {
		t.Errorf("replicated on one node: %d errors (%q), %d ops", r.Errors, r.FirstError, r.Ops)
	}
}
