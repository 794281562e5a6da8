package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/godisque/godisque/internal/clustertest"
)

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
		Disque: c.Addr(0), Cluster: addrs, Base: base, Pipelines: []int{1},
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
	// The baseline is the suite's own lone-node ADDJOB, not a cluster node's.
	if single := rep.result(ScenarioAddJob, "godisque", 1); cmp.Redis != single || single == nil {
		t.Fatalf("baseline %+v, want the lone node's ADDJOB %+v", cmp.Redis, single)
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
