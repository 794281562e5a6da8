package bench

import (
	"context"
	"strings"
	"testing"
)

// Mem's in-process figures: one node, then three as a cluster whose jobs
// are added with REPLICATE 3, where every copy is counted.
func TestMemCountsEveryCopyOfAReplicatedJob(t *testing.T) {
	ctx := context.Background()
	const jobs = 3000
	lone, err := Mem(ctx, MemOptions{Jobs: jobs, BodySizes: []int{24}})
	if err != nil {
		t.Fatal(err)
	}
	repl, err := Mem(ctx, MemOptions{Jobs: jobs, BodySizes: []int{24}, Replicate: 3})
	if err != nil {
		t.Fatal(err)
	}
	l, r := lone[0], repl[0]
	if !l.HeapAfterGC || !r.HeapAfterGC || !strings.Contains(r.Target, "3 nodes") {
		t.Fatalf("results %+v / %+v", l, r)
	}
	// used_memory is the nodes' own accounting, summed: exact, unlike the
	// heap of a few thousand jobs. Three copies cost about three times one.
	if r.UsedMemoryPerJob < 2.5*l.UsedMemoryPerJob || r.UsedMemoryPerJob > 4*l.UsedMemoryPerJob {
		t.Errorf("used_memory per job: %.0f B with REPLICATE 3 on 3 nodes, %.0f B alone", r.UsedMemoryPerJob, l.UsedMemoryPerJob)
	}
	if !r.HeapReturned {
		t.Errorf("after the acks the cluster's heap did not come back: %d -> %d B", r.HeapBaseline, r.HeapAfterAck)
	}
	if _, err := Mem(ctx, MemOptions{Addr: "127.0.0.1:1", Jobs: 1, Replicate: 3}); err == nil ||
		!strings.Contains(err.Error(), "give no address") {
		t.Errorf("REPLICATE against an address: %v", err)
	}
}
