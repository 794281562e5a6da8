package chaos

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func enq(v string, out Outcome) Op { return Op{Kind: Enqueue, Value: v, Outcome: out} }
func deq(v string, out Outcome) Op { return Op{Kind: Dequeue, Value: v, Outcome: out} }

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		h          History
		opts       CheckOptions
		valid      bool
		lost       []string
		unexpected []string
		recovered  []string
		dups       map[string]int
	}{
		{name: "every acknowledged job dequeued once",
			h:     History{enq("a", OK), enq("b", OK), deq("a", OK), deq("b", OK)},
			valid: true},
		{name: "an acknowledged job never dequeued is lost",
			h:     History{enq("a", OK), enq("b", OK), deq("a", OK)},
			valid: false, lost: []string{"b"}},
		{name: "a loss is allowed when every copy was destroyed",
			h:     History{enq("a", OK), enq("b", OK), deq("a", OK)},
			opts:  CheckOptions{Replicate: 2, MemoryLost: 2},
			valid: true, lost: []string{"b"}},
		{name: "fewer nodes lost than copies: a loss fails the run",
			h:     History{enq("a", OK)},
			opts:  CheckOptions{Replicate: 3, MemoryLost: 2},
			valid: false, lost: []string{"a"}},
		{name: "duplicates are counted, not failures",
			h:     History{enq("a", OK), deq("a", OK), deq("a", OK), deq("a", OK)},
			valid: true, dups: map[string]int{"a": 3}},
		{name: "a value nobody enqueued is unexpected",
			h:     History{enq("a", OK), deq("a", OK), deq("zz", OK)},
			valid: false, unexpected: []string{"zz"}},
		{name: "an unknown enqueue that was dequeued is recovered",
			h:     History{enq("a", Unknown), deq("a", OK)},
			valid: true, recovered: []string{"a"}},
		{name: "an unknown or failed enqueue never dequeued is not lost",
			h:     History{enq("a", Unknown), enq("b", Fail)},
			valid: true},
		{name: "a failed enqueue that still happened is recovered",
			h:     History{enq("a", Fail), deq("a", OK)},
			valid: true, recovered: []string{"a"}},
		{name: "a dequeue whose reply never came proves nothing",
			h:     History{enq("a", OK), deq("a", Unknown), deq("a", Fail)},
			valid: false, lost: []string{"a"}},
		{name: "a retried enqueue counts by its best outcome",
			h:     History{enq("a", Unknown), enq("a", OK)},
			valid: false, lost: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.h, tt.opts)
			if r.Valid != tt.valid {
				t.Errorf("Valid = %v, want %v\n%s", r.Valid, tt.valid, r)
			}
			eq := func(what string, got, want []string) {
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			eq("Lost", r.Lost, tt.lost)
			eq("Unexpected", r.Unexpected, tt.unexpected)
			eq("Recovered", r.Recovered, tt.recovered)
			if len(r.Duplicated) != len(tt.dups) {
				t.Errorf("Duplicated = %v, want %v", r.Duplicated, tt.dups)
			}
			for v, n := range tt.dups {
				if r.Duplicated[v] != n {
					t.Errorf("Duplicated[%s] = %d, want %d", v, r.Duplicated[v], n)
				}
			}
		})
	}
}

func TestCheckCountsAndRates(t *testing.T) {
	h := History{enq("a", OK), enq("b", OK), enq("c", Fail), enq("d", Unknown),
		deq("a", OK), deq("a", OK), deq("b", OK), deq("", OK) /* an empty GETJOB */}
	r := Check(h, CheckOptions{Replicate: 3})
	if r.Enqueues != 4 || r.EnqueuesOK != 2 || r.EnqueuesFailed != 1 || r.EnqueuesUnknown != 1 {
		t.Fatalf("enqueue counts = %+v", r)
	}
	if r.Dequeued != 2 || r.Deliveries != 3 {
		t.Fatalf("dequeued %d values in %d deliveries, want 2 in 3", r.Dequeued, r.Deliveries)
	}
	if got := r.DuplicateRate(); got != 0.5 {
		t.Fatalf("DuplicateRate = %v, want 0.5", got)
	}
	if (Report{}).DuplicateRate() != 0 {
		t.Fatal("DuplicateRate of nothing should be 0")
	}
}

func TestCheckLatency(t *testing.T) {
	var h History
	for i := 1; i <= 1000; i++ {
		h = append(h, Op{Kind: Enqueue, Value: string(rune(i)), Outcome: OK,
			Start: time.Second, End: time.Second + time.Duration(i)*time.Millisecond})
	}
	h = append(h, Op{Kind: Enqueue, Value: "slow-but-failed", Outcome: Fail, End: time.Hour})
	p := Check(h, CheckOptions{}).Latency[Enqueue]
	if p.Count != 1000 || p.P50 != 500*time.Millisecond || p.P90 != 900*time.Millisecond ||
		p.P99 != 990*time.Millisecond || p.P999 != 999*time.Millisecond || p.Max != time.Second {
		t.Fatalf("percentiles = %+v (failed ops must not count)", p)
	}
	if _, ok := Check(h, CheckOptions{}).Latency[Dequeue]; ok {
		t.Fatal("latency reported for a kind with no completed ops")
	}
}

func TestReportString(t *testing.T) {
	h := History{enq("a", OK), enq("b", OK), deq("a", OK), deq("a", OK)}
	s := Check(h, CheckOptions{Replicate: 3}).String()
	for _, want := range []string{"verdict: INVALID", "lost: 1", "duplicated: 1 (100.00% of dequeued values)",
		"lost values: b", "latency enqueue"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	if s := Check(History{enq("a", OK), deq("a", OK)}, CheckOptions{}).String(); !strings.HasPrefix(s, "verdict: VALID") {
		t.Errorf("report = %q", s)
	}
}

func TestHistoryJSONL(t *testing.T) {
	h := History{
		{Client: 1, Kind: Enqueue, Value: "v1", JobID: "D-1", Node: "127.0.0.1:7711",
			Start: time.Millisecond, End: 2 * time.Millisecond, Outcome: OK},
		{Client: 2, Kind: Dequeue, Value: "v1", Start: 3, End: 4, Outcome: Unknown, Error: "EOF"},
		{Client: 2, Kind: Ack, JobID: "D-1", Outcome: Fail, Error: "ERR x"},
	}
	var buf bytes.Buffer
	if err := h.WriteJSONL(&buf); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Fatalf("%d lines, want 3:\n%s", n, buf.String())
	}
	got, err := ReadHistory(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(h) {
		t.Fatalf("read %d ops, want %d", len(got), len(h))
	}
	for i := range h {
		if got[i] != h[i] {
			t.Fatalf("op %d = %+v, want %+v", i, got[i], h[i])
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"{\"kind\":\"enqueue\",\"outcome\":\"ok\"}\nnot json\n", "line 2"},
		{"{\"kind\":\"teleport\",\"outcome\":\"ok\"}\n", "unknown kind"},
		{"{\"kind\":\"ack\",\"outcome\":\"maybe\"}\n", "unknown outcome"},
	} {
		if _, err := ReadHistory(strings.NewReader(bad.in)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ReadHistory(%q) error = %v, want %q", bad.in, err, bad.want)
		}
	}
}

// kill is a Nemesis op: the nodes killed at `at`, their memory lost or not.
func kill(at time.Duration, memoryLost bool, nodes ...string) Op {
	return Op{Client: -1, Kind: Nemesis, Fault: Kill, Node: strings.Join(nodes, ","), Start: at, End: at + time.Second,
		Outcome: OK, MemoryLost: memoryLost}
}

func enqAt(v string, at time.Duration, repl int) Op {
	return Op{Kind: Enqueue, Value: v, Start: at, End: at + time.Millisecond, Outcome: OK, Replicate: repl}
}

func TestCheckExcusesOnlyLossesOfAsManyNodesAsCopies(t *testing.T) {
	s := time.Second
	tests := []struct {
		name    string
		h       History
		valid   bool
		excused []string
	}{
		{name: "REPLICATE 3, two nodes lost after the ADDJOB: a loss fails the run",
			h:     History{kill(5*s, true, "a"), enqAt("v", 10*s, 3), kill(11*s, true, "b"), kill(12*s, true, "c")},
			valid: false},
		{name: "REPLICATE 3, three distinct nodes lost after the ADDJOB: excused",
			h:     History{enqAt("v", 10*s, 3), kill(11*s, true, "a"), kill(12*s, true, "b", "c")},
			valid: true, excused: []string{"v"}},
		{name: "the same node killed three times counts once",
			h:     History{enqAt("v", 10*s, 3), kill(11*s, true, "a"), kill(12*s, true, "a"), kill(13*s, true, "a")},
			valid: false},
		{name: "kills before the ADDJOB destroyed no copy of it",
			h:     History{kill(1*s, true, "a"), kill(2*s, true, "b"), kill(3*s, true, "c"), enqAt("v", 10*s, 3)},
			valid: false},
		{name: "a kill during the ADDJOB counts",
			h: History{kill(10*s, true, "a"), kill(11*s, true, "b"),
				{Kind: Enqueue, Value: "v", Start: 10*s - time.Millisecond, End: 10*s + time.Millisecond, Outcome: OK, Replicate: 2}},
			valid: true, excused: []string{"v"}},
		{name: "kills with an append-only file lose no memory",
			h:     History{enqAt("v", 10*s, 2), kill(11*s, false, "a"), kill(12*s, false, "b")},
			valid: false},
		{name: "a kill that failed lost nothing",
			h: History{enqAt("v", 10*s, 1),
				{Kind: Nemesis, Fault: Kill, Node: "a", Start: 11 * s, End: 12 * s, Outcome: Fail, MemoryLost: true}},
			valid: false},
		{name: "each job by its own REPLICATE",
			h:     History{enqAt("one", 10*s, 1), enqAt("three", 10*s, 3), kill(11*s, true, "a")},
			valid: false, excused: []string{"one"}},
		{name: "the schedule is not what happened",
			h: History{enqAt("v", 10*s, 1),
				{Kind: Schedule, Fault: Kill, Node: "a", Start: 11 * s, End: 12 * s, Outcome: OK, MemoryLost: true}},
			valid: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.h, CheckOptions{})
			if r.Valid != tt.valid {
				t.Errorf("Valid = %v, want %v\n%s", r.Valid, tt.valid, r)
			}
			if strings.Join(r.Excused, ",") != strings.Join(tt.excused, ",") {
				t.Errorf("Excused = %v, want %v", r.Excused, tt.excused)
			}
			if len(r.Lost) == 0 {
				t.Errorf("every case loses a job: Lost is empty")
			}
		})
	}
}

func TestCheckCountsEveryOperationAndFault(t *testing.T) {
	h := History{
		{Kind: Schedule, Fault: Kill, Start: time.Second, End: 2 * time.Second, Outcome: OK},
		enq("a", OK), enq("b", Fail),
		{Kind: Dequeue, Value: "a", Outcome: OK, Start: 0, End: 3 * time.Millisecond},
		{Kind: Dequeue, Outcome: OK, Start: 0, End: time.Second}, // empty, waited its TIMEOUT
		deq("", Unknown),
		{Kind: Ack, Value: "a", Outcome: OK}, {Kind: Ack, Value: "a", Outcome: Fail},
		kill(time.Second, true, "n1", "n2"), kill(2*time.Second, true, "n2"), kill(3*time.Second, false, "n3"),
		{Kind: Nemesis, Fault: Pause, Node: "n4", Outcome: OK},
	}
	r := Check(h, CheckOptions{})
	if got := r.Ops[Dequeue]; got != (Tally{OK: 2, Unknown: 1}) || r.EmptyDequeues != 1 {
		t.Errorf("dequeues = %+v, %d empty", got, r.EmptyDequeues)
	}
	if got := r.Ops[Ack]; got != (Tally{OK: 1, Failed: 1}) || got.Total() != 2 {
		t.Errorf("acks = %+v", got)
	}
	if got := r.Ops[Enqueue]; got != (Tally{OK: 1, Failed: 1}) {
		t.Errorf("enqueues = %+v", got)
	}
	if _, ok := r.Ops[Schedule]; ok {
		t.Error("schedule entries counted as operations")
	}
	if r.Faults != 4 || r.MemoryLost != 2 {
		t.Errorf("faults %d, memory lost %d; want 4 and 2 (n1, n2)", r.Faults, r.MemoryLost)
	}
	if p := r.Latency[Dequeue]; p.Count != 1 || p.Max != 3*time.Millisecond {
		t.Errorf("dequeue latency %+v: an empty GETJOB must not count", p)
	}
	s := r.String()
	for _, want := range []string{"dequeues: 3 (ok 2 of which 1 empty, failed 0, unknown 1)",
		"acks: 2 (ok 1, failed 1, unknown 0)", "faults: 4; nodes that lost their memory: 2"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
	excused := Check(History{enqAt("v", time.Second, 1), kill(2*time.Second, true, "a")}, CheckOptions{}).String()
	if !strings.Contains(excused, "lost: 1 (1 excused") || !strings.HasPrefix(excused, "verdict: VALID") {
		t.Errorf("an excused loss reads:\n%s", excused)
	}
}

func TestHistoryJSONLKeepsNemeses(t *testing.T) {
	h := History{
		Fault{Kind: Partition, Shape: Halves, Blocks: PlanPartition(Halves, []int{0, 1, 2}), Start: time.Second, End: 2 * time.Second}.Op(),
		enqAt("v", time.Second, 3),
		kill(3*time.Second, true, "127.0.0.1:1", "127.0.0.1:2"),
	}
	var buf bytes.Buffer
	if err := h.WriteJSONL(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := ReadHistory(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h {
		if got[i] != h[i] {
			t.Fatalf("op %d = %+v, want %+v", i, got[i], h[i])
		}
	}
	if n := got[2].Nodes(); len(n) != 2 || n[1] != "127.0.0.1:2" {
		t.Fatalf("Nodes() = %v", n)
	}
	if (Op{}).Nodes() != nil {
		t.Fatal("an op with no node has nodes")
	}
}
