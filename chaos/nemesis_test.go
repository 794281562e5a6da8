package chaos

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseNemeses(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"partition,kill,pause", []string{Partition, Kill, Pause}},
		{"pause, KILL ,kill", []string{Kill, Pause}},
		{"all", Kinds},
		{"skew,all", Kinds},
		{"", nil},
		{"none", nil},
	} {
		got, err := ParseNemeses(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseNemeses(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseNemeses("kill,meteor"); err == nil || !strings.Contains(err.Error(), `"meteor"`) {
		t.Errorf("an unknown nemesis: %v", err)
	}
}

func TestPlanIsDrawnFromTheSeed(t *testing.T) {
	o := PlanOptions{Seed: 42, Nemeses: Kinds, Nodes: 5, Time: 60 * time.Second}
	a, b := Plan(o), Plan(o)
	if len(a) == 0 {
		t.Fatal("no faults in 60 s")
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the same seed drew two schedules:\n%v\n%v", a, b)
	}
	o.Seed = 43
	if c := Plan(o); reflect.DeepEqual(a, c) {
		t.Fatalf("seeds 42 and 43 drew the same schedule: %v", a)
	}
	if Plan(PlanOptions{Seed: 1, Nodes: 5, Time: time.Minute}) != nil {
		t.Error("no nemeses should plan no faults")
	}
}

func TestPlanStaysInsideTheRunAndKeepsAMajority(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 200; seed++ {
		for _, nodes := range []int{3, 5, 7} {
			o := PlanOptions{Seed: seed, Nemeses: Kinds, Nodes: nodes, Time: 30 * time.Second}
			faults := Plan(o)
			iv := DefaultInterval(o.Time)
			slotStart, slotEnd := time.Duration(-1), time.Duration(0)
			procs := map[time.Duration]map[int]bool{} // slot start -> nodes killed or paused
			for _, f := range faults {
				seen[f.Kind] = true
				if f.Start < 0 || f.End <= f.Start || f.End > o.Time {
					t.Fatalf("seed %d: fault %s at %v-%v outside a %v run", seed, f.Kind, f.Start, f.End, o.Time)
				}
				if d := f.End - f.Start; d < iv/2 || d >= 3*iv/2 {
					t.Fatalf("seed %d: fault %s lasts %v, interval %v", seed, f.Kind, d, iv)
				}
				if f.Start < slotEnd && (f.Start != slotStart || f.End != slotEnd) {
					t.Fatalf("seed %d: fault at %v overlaps the slot ending %v", seed, f.Start, slotEnd)
				}
				slotStart, slotEnd = f.Start, f.End
				for _, k := range f.Nodes {
					if k < 0 || k >= nodes {
						t.Fatalf("seed %d: fault %s hits node %d of %d", seed, f.Kind, k, nodes)
					}
				}
				if f.Kind == Kill || f.Kind == Pause {
					if len(f.Nodes) == 0 || len(f.Nodes) > (nodes-1)/2 && len(f.Nodes) > 1 {
						t.Fatalf("seed %d: %s of %d nodes of %d: a majority must stay up", seed, f.Kind, len(f.Nodes), nodes)
					}
					if procs[f.Start] == nil {
						procs[f.Start] = map[int]bool{}
					}
					for _, k := range f.Nodes {
						if procs[f.Start][k] {
							t.Fatalf("seed %d: node %d killed or paused twice in one slot", seed, k)
						}
						procs[f.Start][k] = true
					}
				}
				if f.Describe() == "" || f.Op().Kind != Schedule || f.Op().Detail != f.Describe() {
					t.Fatalf("seed %d: fault %+v describes itself badly", seed, f)
				}
			}
		}
	}
	for _, k := range Kinds {
		if !seen[k] {
			t.Errorf("200 seeds of \"all\" never drew a %s", k)
		}
	}
}

func TestPlanShortRunsGetFaults(t *testing.T) {
	// The short runs of make test: 8 s must hold at least one fault for
	// most seeds.
	none := 0
	for seed := uint64(1); seed <= 50; seed++ {
		if len(Plan(PlanOptions{Seed: seed, Nemeses: []string{Kill}, Nodes: 3, Time: 8 * time.Second})) == 0 {
			none++
		}
	}
	if none > 5 {
		t.Fatalf("%d seeds of 50 drew no fault in an 8 s run", none)
	}
}

// sees is the complement of a partition: whom node i can send to.
func sees(blocks [][]int, i int) []int {
	var out []int
	for j := range blocks {
		if !slices.Contains(blocks[i], j) {
			out = append(out, j)
		}
	}
	return out
}

func TestPlanPartitionBlocksEveryNodeCorrectly(t *testing.T) {
	for n := 2; n <= 8; n++ {
		order := allNodes(n)
		// A fixed, non-trivial order: reversed.
		slices.Reverse(order)
		for _, shape := range Shapes {
			if shape == Ring && !ringCuts(n) || shape == Bridge && n < 3 {
				continue
			}
			t.Run(fmt.Sprintf("%s of %d", shape, n), func(t *testing.T) {
				b := PlanPartition(shape, order)
				if len(b) != n {
					t.Fatalf("%d block lists for %d nodes", len(b), n)
				}
				cut := false
				for i := range n {
					if slices.Contains(b[i], i) {
						t.Fatalf("node %d blocks itself: %v", i, b)
					}
					for _, j := range b[i] {
						if !slices.Contains(b[j], i) {
							t.Fatalf("asymmetric: %d blocks %d, not the other way: %v", i, j, b)
						}
						cut = true
					}
				}
				if !cut {
					t.Fatalf("nothing is cut: %v", b)
				}
				majority := n/2 + 1
				switch shape {
				case Halves:
					// Two cliques of sizes n/2 and n-n/2, each blind to the other.
					small, big := order[:n/2], order[n/2:]
					for _, i := range small {
						if got := sees(b, i); !sameSet(got, small) {
							t.Fatalf("node %d of the small half sees %v, want %v", i, got, small)
						}
					}
					for _, i := range big {
						if got := sees(b, i); !sameSet(got, big) {
							t.Fatalf("node %d of the big half sees %v, want %v", i, got, big)
						}
					}
				case Isolate:
					alone := order[0]
					if got := sees(b, alone); !sameSet(got, []int{alone}) {
						t.Fatalf("the isolated node %d sees %v", alone, got)
					}
					for i := range n {
						if i != alone && len(b[i]) != 1 {
							t.Fatalf("node %d blocks %v, want only %d", i, b[i], alone)
						}
					}
				case Ring:
					views := map[string]bool{}
					for i := range n {
						s := sees(b, i)
						if len(s) < majority {
							t.Fatalf("node %d sees %v, not a majority of %d", i, s, n)
						}
						if views[fmt.Sprint(s)] {
							t.Fatalf("two nodes see the same majority %v", s)
						}
						views[fmt.Sprint(s)] = true
					}
				case Bridge:
					mid := order[n/2]
					if len(b[mid]) != 0 {
						t.Fatalf("the bridge %d blocks %v", mid, b[mid])
					}
					left, right := order[:n/2], order[n/2+1:]
					for _, i := range left {
						if !sameSet(b[i], right) {
							t.Fatalf("left node %d blocks %v, want %v", i, b[i], right)
						}
					}
					for _, i := range right {
						if !sameSet(b[i], left) {
							t.Fatalf("right node %d blocks %v, want %v", i, b[i], left)
						}
					}
				}
			})
		}
	}
}

func sameSet(a, b []int) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestDrawPartitionUsesEveryShape(t *testing.T) {
	shapes := map[string]bool{}
	for seed := uint64(1); seed <= 100; seed++ {
		for _, f := range Plan(PlanOptions{Seed: seed, Nemeses: []string{Partition}, Nodes: 5, Time: time.Minute}) {
			shapes[f.Shape] = true
			if len(f.Nodes) != 5 {
				t.Fatalf("a partition hits %v, want every node", f.Nodes)
			}
		}
	}
	for _, s := range Shapes {
		if !shapes[s] {
			t.Errorf("100 seeds never drew a %s partition", s)
		}
	}
	// Three nodes cannot make a ring that cuts anything: no ring there.
	for seed := uint64(1); seed <= 100; seed++ {
		for _, f := range Plan(PlanOptions{Seed: seed, Nemeses: []string{Partition}, Nodes: 3, Time: time.Minute}) {
			if f.Shape == Ring {
				t.Fatalf("seed %d drew a ring of 3 nodes", seed)
			}
		}
	}
}

func TestFaultDescribe(t *testing.T) {
	for _, tt := range []struct {
		f    Fault
		want string
	}{
		{Fault{Kind: Kill, Nodes: []int{0, 2}}, "kill -9 n1 n3"},
		{Fault{Kind: Pause, Nodes: []int{4}}, "SIGSTOP n5"},
		{Fault{Kind: Partition, Shape: Halves, Blocks: PlanPartition(Halves, []int{3, 1, 0, 2, 4})},
			"partition halves: n1 n3 n5 | n2 n4"},
		{Fault{Kind: Partition, Shape: Isolate, Blocks: PlanPartition(Isolate, []int{2, 0, 1})},
			"partition isolate: n1 n2 | n3"},
		{Fault{Kind: Partition, Shape: Bridge, Blocks: PlanPartition(Bridge, []int{0, 3, 2, 1, 4})},
			"partition bridge: n1 n4 | n3 | n2 n5"},
		{Fault{Kind: Partition, Shape: Ring, Blocks: PlanPartition(Ring, []int{0, 1, 2, 3, 4})},
			"partition ring: n1 sees n2 n5; n2 sees n1 n3; n3 sees n2 n4; n4 sees n3 n5; n5 sees n1 n4"},
		{Fault{Kind: Loss, Nodes: []int{1}, P: 0.25}, "drop 25% of what n2 send"},
		{Fault{Kind: Dup, Nodes: []int{0, 1}, P: 0.5}, "duplicate 50% of what n1 n2 send"},
		{Fault{Kind: Delay, Nodes: []int{2}, Delay: 200 * time.Millisecond, Jitter: 50 * time.Millisecond},
			"delay what n3 send by 200ms ± 50ms"},
		{Fault{Kind: Skew, Nodes: []int{3}, Skew: -12500 * time.Millisecond}, "clock of n4 -12.5s"},
	} {
		if got := tt.f.Describe(); got != tt.want {
			t.Errorf("Describe = %q, want %q", got, tt.want)
		}
	}
}
