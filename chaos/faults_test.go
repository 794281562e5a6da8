package chaos

import (
	"testing"
	"time"
)

func TestInjectorDesiresTheUnionOfActiveFaults(t *testing.T) {
	c := &Cluster{}
	for i := range 5 {
		c.Procs = append(c.Procs, &Proc{Index: i})
	}
	n := NewInjector(c, NewRecorder(time.Now()), "")
	halves := Fault{Kind: Partition, Shape: Halves, Blocks: PlanPartition(Halves, []int{0, 1, 2, 3, 4})}
	isolate := Fault{Kind: Partition, Shape: Isolate, Blocks: PlanPartition(Isolate, []int{4, 0, 1, 2, 3})}
	n.active[0] = &activeFault{f: halves}
	n.active[1] = &activeFault{f: isolate}
	n.active[2] = &activeFault{f: Fault{Kind: Loss, Nodes: []int{0, 3}, P: 0.2}}
	n.active[3] = &activeFault{f: Fault{Kind: Loss, Nodes: []int{3}, P: 0.4}}
	n.active[4] = &activeFault{f: Fault{Kind: Delay, Nodes: []int{1}, Delay: 100 * time.Millisecond, Jitter: 10 * time.Millisecond}}
	n.active[5] = &activeFault{f: Fault{Kind: Skew, Nodes: []int{2}, Skew: -3 * time.Second}}
	n.active[6] = &activeFault{f: Fault{Kind: Dup, Nodes: []int{4}, P: 0.3}}

	blocked := func(s linkState) []int {
		var out []int
		for j := range 5 {
			if s.blocks[j] {
				out = append(out, j)
			}
		}
		return out
	}
	// Halves {0,1} | {2,3,4}, and 4 isolated.
	for i, want := range [][]int{{2, 3, 4}, {2, 3, 4}, {0, 1, 4}, {0, 1, 4}, {0, 1, 2, 3}} {
		if got := blocked(n.desired(i)); !sameSet(got, want) {
			t.Errorf("node %d blocks %v, want %v", i, got, want)
		}
	}
	if s := n.desired(3); s.drop != 0.4 || s.dup != 0 || s.delay != 0 || s.skew != 0 {
		t.Errorf("node 3: %+v; want the larger drop only", s)
	}
	if s := n.desired(0); s.drop != 0.2 {
		t.Errorf("node 0 drops %v, want 0.2", s.drop)
	}
	if s := n.desired(1); s.delay != 100*time.Millisecond || s.jitter != 10*time.Millisecond || s.drop != 0 {
		t.Errorf("node 1: %+v", s)
	}
	if s := n.desired(2); s.skew != -3*time.Second {
		t.Errorf("node 2 skew %v", s.skew)
	}
	if s := n.desired(4); s.dup != 0.3 {
		t.Errorf("node 4 dup %v", s.dup)
	}
	// Healing the isolation leaves the halves.
	delete(n.active, 1)
	if got := blocked(n.desired(4)); !sameSet(got, []int{0, 1}) {
		t.Errorf("after the isolation healed, node 4 blocks %v", got)
	}
}
