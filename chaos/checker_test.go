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
