package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/godisque/godisque/internal/clustertest"
)

// result is the first run of scenario against label at pipeline depth p,
// or nil.
func (rep *SuiteReport) result(scenario, label string, p int) *Result {
	for _, r := range rep.Results {
		if r.Scenario == scenario && r.Label == label && r.Pipeline == p {
			return r
		}
	}
	return nil
}

// The suite's cluster part against three in-process godisque nodes: it
// waits for the mesh, runs ADDJOB REPLICATE 3 over the nodes and the
// federated lifecycle, and judges the replicated rate against the lone
// node's ADDJOB of the same run.
func TestSuiteClusterScenarios(t *testing.T) {
	c := clustertest.Start(t, 3)
	addrs := []string{c.Addr(0), c.Addr(1), c.Addr(2)}

	if err := waitMesh(context.Background(), addrs); err != nil {
		t.Fatalf("waitMesh on a formed cluster: %v", err)
	}
	base := tinyOptions(ScenarioReplicated, addrs[0])
	base.Count = 200
	rep, err := RunSuite(context.Background(), SuiteOptions{
		Disque: c.Addr(0), Cluster: addrs, Base: base, Pipelines: []int{1}, Rounds: 3,
	})
	if err != nil {
		t.Fatalf("RunSuite: %v", err)
	}
	repl := rep.result(ScenarioReplicated, "cluster", 1)
	if repl == nil {
		t.Fatalf("no replicated result among %d", len(rep.Results))
	}
	checkResult(t, repl, 200, "ADDJOB")
	if fed := rep.result(ScenarioFederated, "cluster", 1); fed == nil || fed.Ops != 200 || fed.Errors != 0 {
		t.Fatalf("federated: %+v", fed)
	}
	var cmp *Comparison
	for _, cc := range rep.Comparisons {
		if strings.HasPrefix(cc.Name, "ADDJOB REPLICATE") {
			cmp = cc
		}
	}
	if cmp == nil || cmp.Met == nil {
		t.Fatalf("no judged replicated comparison in %+v", rep.Comparisons)
	}
	// The baseline is the suite's own lone-node ADDJOB, the median of its
	// rounds, not a cluster node's.
	var lone []*Result
	for _, r := range rep.Results {
		if r.Scenario == ScenarioAddJob && r.Label == "godisque" {
			lone = append(lone, r)
		}
	}
	if single := median(lone); len(lone) != 3 || cmp.Redis != single || rep.ours(ScenarioAddJob, 1) != single {
		t.Fatalf("baseline %+v, want the median of the lone node's %d ADDJOB runs", cmp.Redis, len(lone))
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "skipped") {
			t.Fatalf("cluster scenarios reported skipped: %q", n)
		}
	}
}

// A cluster whose nodes do not know each other is refused, by name, once
// the wait runs out.
func TestWaitMeshGivesUp(t *testing.T) {
	c := clustertest.Start(t, 2, clustertest.WithoutMesh())
	defer func(d time.Duration) { meshWait = d }(meshWait)
	meshWait = 300 * time.Millisecond
	err := waitMesh(context.Background(), []string{c.Addr(0), c.Addr(1)})
	if err == nil || !strings.Contains(err.Error(), c.Addr(0)) || !strings.Contains(err.Error(), "does not reach the 1 other") {
		t.Fatalf("waitMesh on two strangers: %v", err)
	}
}

// median picks the run with the median rate (the lower middle of an even
// count); settle keeps it and the range of the per-round ratios.
func TestSuiteMedianAndSpread(t *testing.T) {
	at := func(ops int64) *Result { return &Result{Ops: ops, Elapsed: time.Second, Latency: NewHistogram()} }
	if median(nil) != nil {
		t.Fatal("median of nothing")
	}
	a, b, c, d := at(10), at(40), at(20), at(30)
	if got := median([]*Result{a, b, c}); got != c {
		t.Fatalf("median of 10, 40, 20 = %v", got.Ops)
	}
	if got := median([]*Result{a, b, c, d}); got != c {
		t.Fatalf("median of 10, 40, 20, 30 = %v", got.Ops)
	}

	cmp := &Comparison{}
	cmp.settle([]*Result{at(50), at(60), at(40)}, []*Result{at(100), at(100), at(100)}, []*Result{at(200)})
	if cmp.Ours.Ops != 50 || cmp.Redis.Ops != 100 || cmp.Ceiling.Ops != 200 || cmp.Rounds != 3 {
		t.Fatalf("medians %d %d %d, rounds %d", cmp.Ours.Ops, cmp.Redis.Ops, cmp.Ceiling.Ops, cmp.Rounds)
	}
	if cmp.RatioMin != 0.4 || cmp.RatioMax != 0.6 || cmp.CeilingMin != 0.2 || cmp.CeilingMax != 0.3 {
		t.Fatalf("spread %v-%v, ceiling %v-%v", cmp.RatioMin, cmp.RatioMax, cmp.CeilingMin, cmp.CeilingMax)
	}
	one := &Comparison{}
	one.settle([]*Result{at(50)}, []*Result{at(100)}, nil)
	if one.Rounds != 0 || one.RatioMin != 0 || one.Ceiling != nil {
		t.Fatalf("a single round has no spread: %+v", one)
	}
	var out strings.Builder
	if err := WriteSuite(&out, &SuiteReport{Comparisons: []*Comparison{cmp}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0.50 (0.40-0.60)") || !strings.Contains(out.String(), "0.25 (0.20-0.30)") {
		t.Fatalf("table without the spread:\n%s", out.String())
	}
}

// The table and the JSON give the ceiling's p99 beside Redis'.
func TestSuiteReportsTheCeilingsP99(t *testing.T) {
	run := func(ops int64, p99 time.Duration) *Result {
		r := &Result{Ops: ops, Elapsed: time.Second, Latency: NewHistogram()}
		for i := 0; i < 100; i++ {
			r.Latency.RecordDuration(p99)
		}
		return r
	}
	cmp := &Comparison{Name: "ADDJOB vs LPUSH", Pipeline: 1}
	cmp.settle([]*Result{run(50, 4*time.Millisecond)}, []*Result{run(100, 2*time.Millisecond)},
		[]*Result{run(90, 3*time.Millisecond)})
	rep := &SuiteReport{Comparisons: []*Comparison{cmp}}
	var out strings.Builder
	if err := WriteSuite(&out, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.Contains(lines[0], "p99 redcon") || !strings.Contains(lines[1], FormatLatency(3_000_000)) {
		t.Fatalf("no ceiling p99 column:\n%s", out.String())
	}
	j := rep.JSON()[0]
	if j.CeilingP99 < 2900 || j.CeilingP99 > 3100 || j.RedisP99 < 1900 || j.RedisP99 > 2100 {
		t.Fatalf("JSON p99s: ceiling %v us, redis %v us", j.CeilingP99, j.RedisP99)
	}
}
