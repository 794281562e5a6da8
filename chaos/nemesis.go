package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// -------------------------------- The nemeses ---------------------------------
//
// A nemesis is a kind of fault: kill -9 a node and restart it later on the
// same directory, pause it (SIGSTOP, then SIGCONT), partition the cluster
// (through every node's Link: each node blocks the IDs of the nodes on the
// other side), lose, delay or duplicate the messages some nodes send, or
// skew the clock of a node. Faults are drawn from the seed before the run
// starts, as a Schedule: the same seed, nemeses, cluster size and durations
// give the same schedule, so a run that found something can be run again
// with the same faults at the same offsets (the operations of the clients,
// which race with each other and with the cluster, differ).
//
// The schedule alternates a quiet gap and a fault slot, each drawn around
// the interval: in every slot one nemesis of the list is on (with "all",
// sometimes two of different kinds at once) and is healed at the end of the
// slot. The last slot ends before the workload does; the run then heals
// everything anyway.

// The nemesis kinds.
const (
	Kill      = "kill"
	Pause     = "pause"
	Partition = "partition"
	Loss      = "loss"
	Delay     = "delay"
	Dup       = "dup"
	Skew      = "skew"
)

// Kinds is every nemesis, the meaning of "all".
var Kinds = []string{Partition, Kill, Pause, Loss, Delay, Dup, Skew}

// ParseNemeses reads a comma-separated list of nemeses ("all" is every
// one; "none" or "" is none), without repeats, in Kinds' order.
func ParseNemeses(s string) ([]string, error) {
	seen := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(strings.ToLower(name))
		switch {
		case name == "" || name == "none":
		case name == "all":
			for _, k := range Kinds {
				seen[k] = true
			}
		case slices.Contains(Kinds, name):
			seen[name] = true
		default:
			return nil, fmt.Errorf("chaos: unknown nemesis %q (known: %s, all)", name, strings.Join(Kinds, ", "))
		}
	}
	var out []string
	for _, k := range Kinds {
		if seen[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// Fault is one planned fault. Nodes are indices into the cluster, 0-based
// (named n1, n2... in words).
type Fault struct {
	Kind       string
	Start, End time.Duration // offsets from the start of the workload

	// Nodes are the nodes hit: killed, paused, skewed, or whose sending
	// loses, delays or duplicates messages. A partition hits them all.
	Nodes []int
	// Shape and Blocks are a partition's: Blocks[i] are the nodes node i
	// cannot send to (always symmetric).
	Shape  string
	Blocks [][]int
	// P is the probability of loss or duplication of each message.
	P float64
	// Delay and Jitter hold each message Delay ± Jitter.
	Delay, Jitter time.Duration
	// Skew is the clock offset given to the nodes.
	Skew time.Duration
}

// Describe is the fault in words, with nodes named n1, n2...
func (f Fault) Describe() string {
	nodes := nodeNames(f.Nodes)
	switch f.Kind {
	case Kill:
		return "kill -9 " + nodes
	case Pause:
		return "SIGSTOP " + nodes
	case Partition:
		return "partition " + f.Shape + ": " + describePartition(f.Shape, f.Blocks)
	case Loss:
		return fmt.Sprintf("drop %.0f%% of what %s send", 100*f.P, nodes)
	case Dup:
		return fmt.Sprintf("duplicate %.0f%% of what %s send", 100*f.P, nodes)
	case Delay:
		return fmt.Sprintf("delay what %s send by %v ± %v", nodes, f.Delay, f.Jitter)
	case Skew:
		return fmt.Sprintf("clock of %s %+.1fs", nodes, f.Skew.Seconds())
	}
	return f.Kind
}

// Op is the fault as a Schedule op of the history.
func (f Fault) Op() Op {
	return Op{Client: -1, Kind: Schedule, Fault: f.Kind, Detail: f.Describe(), Start: f.Start, End: f.End, Outcome: OK}
}

func nodeName(i int) string { return fmt.Sprintf("n%d", i+1) }

func nodeNames(ns []int) string {
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = nodeName(n)
	}
	return strings.Join(names, " ")
}

// PlanOptions are what a schedule is drawn from.
type PlanOptions struct {
	Seed    uint64
	Nemeses []string
	Nodes   int
	// Time is how long the workload runs; faults end before it does.
	Time time.Duration
	// Interval is the mean length of a fault, and of the quiet gap before
	// it; 0 derives it from Time (a tenth, between 2 and 10 seconds).
	Interval time.Duration
}

// DefaultInterval is the interval PlanOptions derives from a run's length.
func DefaultInterval(run time.Duration) time.Duration {
	return min(max(run/10, 2*time.Second), 10*time.Second)
}

// Plan draws the schedule of a run. It depends only on its options.
func Plan(o PlanOptions) []Fault {
	if len(o.Nemeses) == 0 || o.Nodes < 1 || o.Time <= 0 {
		return nil
	}
	iv := o.Interval
	if iv <= 0 {
		iv = DefaultInterval(o.Time)
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x6a09e667f3bcc909))
	// around draws uniformly in [iv/2, 3iv/2), to the millisecond.
	around := func() time.Duration {
		return (iv/2 + time.Duration(rng.Int64N(int64(iv)))).Truncate(time.Millisecond)
	}
	var out []Fault
	t := around() / 2 // a short quiet start: the workload warms up
	for {
		length := around()
		if t+length > o.Time-iv/4 {
			break
		}
		kinds := []string{o.Nemeses[rng.IntN(len(o.Nemeses))]}
		if len(o.Nemeses) > 2 && rng.IntN(3) == 0 {
			// Sometimes two at once, of different kinds.
			if k := o.Nemeses[rng.IntN(len(o.Nemeses))]; k != kinds[0] {
				kinds = append(kinds, k)
			}
		}
		busy := map[int]bool{} // a node is killed or paused by one fault at a time
		for _, k := range kinds {
			out = append(out, draw(rng, k, o.Nodes, t, t+length, busy))
		}
		t += length + around()
	}
	return out
}

// draw makes one fault of kind k on n nodes.
func draw(rng *rand.Rand, k string, n int, start, end time.Duration, busy map[int]bool) Fault {
	f := Fault{Kind: k, Start: start, End: end}
	switch k {
	case Kill, Pause:
		// A minority, so that a majority goes on working: one node, or
		// up to (n-1)/2 at times.
		free := make([]int, 0, n)
		for i := range n {
			if !busy[i] {
				free = append(free, i)
			}
		}
		count := 1
		if m := (n - 1) / 2; m > 1 && rng.IntN(3) == 0 {
			count = 1 + rng.IntN(m)
		}
		f.Nodes = pick(rng, free, count)
		for _, i := range f.Nodes {
			busy[i] = true
		}
	case Partition:
		f.Shape, f.Blocks = drawPartition(rng, n)
		f.Nodes = allNodes(n)
	case Loss, Dup:
		f.Nodes = pick(rng, allNodes(n), 1+rng.IntN(n))
		f.P = float64(10+rng.IntN(41)) / 100 // 10% to 50%
	case Delay:
		f.Nodes = pick(rng, allNodes(n), 1+rng.IntN(n))
		f.Delay = time.Duration(50+rng.IntN(451)) * time.Millisecond // 50 to 500 ms
		f.Jitter = time.Duration(rng.Int64N(int64(f.Delay)/2 + 1)).Truncate(time.Millisecond)
	case Skew:
		f.Nodes = pick(rng, allNodes(n), 1+rng.IntN(max(1, n/2)))
		f.Skew = time.Duration(1000+rng.IntN(19_001)) * time.Millisecond // 1 to 20 s
		if rng.IntN(2) == 0 {
			f.Skew = -f.Skew
		}
	}
	return f
}

func allNodes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// pick draws count distinct elements of from (all when fewer), sorted.
func pick(rng *rand.Rand, from []int, count int) []int {
	c := slices.Clone(from)
	rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	c = c[:min(count, len(c))]
	slices.Sort(c)
	return c
}

// ------------------------------- Partitions -----------------------------------
//
// A partition is a symmetric relation "cannot send to": Blocks[i] lists
// the nodes node i blocks, and j is in Blocks[i] exactly when i is in
// Blocks[j]. The shapes are Jepsen's:
//
//   - halves: the nodes shuffled and cut in two, the smaller half first;
//   - isolate: one node alone against the rest;
//   - ring: every node sees a majority (itself and its nearest neighbours
//     on a shuffled ring), and no two nodes see the same majority;
//   - bridge: two halves that see only each other, and one node in the
//     middle that sees everybody.

// Partition shapes.
const (
	Halves  = "halves"
	Isolate = "isolate"
	Ring    = "ring"
	Bridge  = "bridge"
)

// Shapes is every partition shape.
var Shapes = []string{Halves, Isolate, Ring, Bridge}

// drawPartition picks a shape that partitions n nodes and plans it.
func drawPartition(rng *rand.Rand, n int) (string, [][]int) {
	shapes := []string{Halves, Isolate}
	if n >= 3 {
		shapes = append(shapes, Bridge)
	}
	if ringCuts(n) {
		shapes = append(shapes, Ring)
	}
	shape := shapes[rng.IntN(len(shapes))]
	order := allNodes(n)
	rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	return shape, PlanPartition(shape, order)
}

// PlanPartition plans a partition of the nodes of order (a permutation of
// 0..n-1; its order decides who is where) in the given shape.
func PlanPartition(shape string, order []int) [][]int {
	n := len(order)
	sees := make([][]bool, n) // sees[i][j]: i may send to j
	for i := range sees {
		sees[i] = make([]bool, n)
		sees[i][i] = true
	}
	connect := func(a, b int) { sees[a][b], sees[b][a] = true, true }
	group := func(g []int) {
		for _, a := range g {
			for _, b := range g {
				connect(a, b)
			}
		}
	}
	switch shape {
	case Halves:
		group(order[:n/2])
		group(order[n/2:])
	case Isolate:
		if n > 0 {
			group(order[1:])
		}
	case Ring:
		d := ringReach(n)
		for p := range order {
			for k := 1; k <= d; k++ {
				connect(order[p], order[(p+k)%n])
			}
		}
	case Bridge:
		if n > 0 {
			mid := n / 2
			group(order[:mid+1])
			group(order[mid:])
		}
	default:
		panic("chaos: unknown partition shape " + shape)
	}
	blocks := make([][]int, n)
	for i := range n {
		blocks[i] = []int{}
		for j := range n {
			if !sees[i][j] {
				blocks[i] = append(blocks[i], j)
			}
		}
	}
	return blocks
}

// ringReach is how many neighbours on each side a node of a ring of n sees
// so that it sees a majority, itself included.
func ringReach(n int) int {
	majority := n/2 + 1
	return majority / 2 // 2d+1 >= majority
}

// ringCuts tells whether a ring of n nodes leaves some pair apart.
func ringCuts(n int) bool { return 2*ringReach(n)+1 < n }

// describePartition names the sides of a partition.
func describePartition(shape string, blocks [][]int) string {
	n := len(blocks)
	if shape == Ring {
		var parts []string
		for i := range n {
			var seen []int
			for j := range n {
				if j != i && !slices.Contains(blocks[i], j) {
					seen = append(seen, j)
				}
			}
			parts = append(parts, nodeName(i)+" sees "+nodeNames(seen))
		}
		return strings.Join(parts, "; ")
	}
	// Group nodes by what they see: the sides of halves and isolate; for
	// a bridge, the middle node sees everybody.
	var sides [][]int
	var keys []string
	for i := range n {
		key := fmt.Sprint(blocks[i])
		if k := slices.Index(keys, key); k >= 0 {
			sides[k] = append(sides[k], i)
			continue
		}
		keys = append(keys, key)
		sides = append(sides, []int{i})
	}
	if shape == Bridge && len(sides) == 3 {
		// The node that sees everybody goes between the two halves.
		for k := range sides {
			if keys[k] == "[]" {
				sides[1], sides[k] = sides[k], sides[1]
			}
		}
	}
	parts := make([]string, len(sides))
	for k, s := range sides {
		parts[k] = nodeNames(s)
	}
	return strings.Join(parts, " | ")
}
