package gateway_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A pipeline mixing batchable commands (ADDJOB, GETJOB NOHANG on one
// queue) with others, bad arguments and several queues gets every reply in
// order, exactly as if the commands had run one by one.
func TestPipelineBatchesKeepOrder(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	var b strings.Builder
	for _, cmd := range [][]string{
		{"ADDJOB", "p1", "a", "0"},
		{"ADDJOB", "p2", "b", "0"},
		{"GETJOB", "NOHANG", "FROM", "p1"},
		{"ADDJOB", "p1", "c", "0"},
		{"ADDJOB", "p1", "bad", "0", "REPLICATE", "0"}, // ends the run: an error in order
		{"GETJOB", "NOHANG", "FROM", "p2"},
		{"PING"},
		{"GETJOB", "NOHANG", "WITHCOUNTERS", "FROM", "p1"},
		{"GETJOB", "NOHANG", "FROM", "p1"}, // empty now: null multibulk
		{"ADDJOB", "p1", "d", "0"},
		{"QLEN", "p1"},
	} {
		b.WriteString(xmbulk(cmd...))
	}
	r.send(b.String())
	ids := map[string]string{}
	id := func(body string) {
		v := r.xread()
		if v.kind != '+' || len(v.str) != 40 {
			t.Fatalf("ADDJOB %s = %+v, want a job ID status", body, v)
		}
		ids[body] = v.str
	}
	job := func(queue, body string, counters bool) {
		v := r.xread()
		n := 3
		if counters {
			n = 7
		}
		if v.kind != '*' || len(v.arr) != 1 || len(v.arr[0].arr) != n ||
			v.arr[0].arr[0].str != queue || v.arr[0].arr[1].str != ids[body] || v.arr[0].arr[2].str != body {
			t.Fatalf("GETJOB = %+v, want %s/%s (%d elements)", v, queue, body, n)
		}
	}
	id("a")
	id("b")
	job("p1", "a", false)
	id("c")
	if v := r.xread(); v.kind != '-' || v.str != "ERR REPLICATE must be between 1 and 65535" {
		t.Fatalf("bad ADDJOB = %+v", v)
	}
	job("p2", "b", false)
	if v := r.xread(); v.kind != '+' || v.str != "PONG" {
		t.Fatalf("PING = %+v", v)
	}
	job("p1", "c", true)
	if v := r.xread(); v.kind != '*' || !v.null {
		t.Fatalf("GETJOB on an empty queue = %+v, want *-1", v)
	}
	id("d")
	if v := r.xread(); v.kind != ':' || v.num != 1 {
		t.Fatalf("QLEN = %+v, want 1", v)
	}
}

// A long pipeline of ADDJOBs (several batches) then GETJOBs: every job is
// added once and delivered once, in FIFO order.
func TestPipelineLongRunFIFO(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	const n = 1500
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(xmbulk("ADDJOB", "long", fmt.Sprint(i), "0"))
	}
	for i := 0; i < n; i++ {
		b.WriteString(xmbulk("GETJOB", "NOHANG", "FROM", "long"))
	}
	r.send(b.String())
	for i := 0; i < n; i++ {
		if v := r.xread(); v.kind != '+' {
			t.Fatalf("ADDJOB %d = %+v", i, v)
		}
	}
	for i := 0; i < n; i++ {
		v := r.xread()
		if v.kind != '*' || len(v.arr) != 1 || v.arr[0].arr[2].str != fmt.Sprint(i) {
			t.Fatalf("GETJOB %d = %+v, want body %d", i, v, i)
		}
	}
	if v := r.xcmd("QLEN", "long"); v.num != 0 {
		t.Fatalf("QLEN = %d after taking everything", v.num)
	}
	// Batched commands are counted one by one.
	if got, _ := strconv.Atoi(xinfo(t, tn, "total_commands_processed")); got < 2*n {
		t.Fatalf("total_commands_processed = %d, want >= %d", got, 2*n)
	}
}

// A pipeline of ADDJOBs round-robin over many queues, then GETJOBs
// round-robin over them: each reply answers its own command, and each
// queue gives its jobs back in the order they were added.
func TestPipelineManyQueuesKeepEachOrder(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	const queues, per = 40, 12
	var b strings.Builder
	for i := 0; i < queues*per; i++ {
		b.WriteString(xmbulk("ADDJOB", fmt.Sprint("fan", i%queues), fmt.Sprint(i), "0"))
	}
	for i := 0; i < queues*per; i++ {
		b.WriteString(xmbulk("GETJOB", "NOHANG", "FROM", fmt.Sprint("fan", i%queues)))
	}
	r.send(b.String())
	ids := make([]string, queues*per)
	for i := range ids {
		v := r.xread()
		if v.kind != '+' || len(v.str) != 40 {
			t.Fatalf("ADDJOB %d = %+v", i, v)
		}
		ids[i] = v.str
	}
	for i := range ids {
		v := r.xread()
		if v.kind != '*' || len(v.arr) != 1 || v.arr[0].arr[0].str != fmt.Sprint("fan", i%queues) ||
			v.arr[0].arr[1].str != ids[i] || v.arr[0].arr[2].str != fmt.Sprint(i) {
			t.Fatalf("GETJOB %d = %+v, want job %d of fan%d", i, v, i, i%queues)
		}
	}
}

// A pipeline of ACKJOBs (the consumer side of a lifecycle) mixing known
// jobs, unknown and malformed IDs, a job acked twice and an ACKJOB of
// several IDs answers each in order, and acks what it says it acked.
func TestPipelineAcksAnswerEachInOrder(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	var ids []string
	for i := 0; i < 6; i++ {
		v := r.xcmd("ADDJOB", fmt.Sprint("acks", i%2), fmt.Sprint(i), "0")
		if v.kind != '+' {
			t.Fatalf("ADDJOB = %+v", v)
		}
		ids = append(ids, v.str)
	}
	unknown := "D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1"
	var b strings.Builder
	for _, cmd := range [][]string{
		{"ACKJOB", ids[0]},
		{"ACKJOB", ids[1]},
		{"ACKJOB", ids[0]}, // acked and gone already
		{"ACKJOB", unknown},
		{"ACKJOB", "not-an-id"},
		{"ACKJOB", ids[2], ids[3]},
		{"ACKJOB", ids[4]},
		{"QLEN", "acks0"},
	} {
		b.WriteString(xmbulk(cmd...))
	}
	r.send(b.String())
	readCounts(t, r, 1, 1, 0, 0, -1, 2, 1, 0)
	if v := r.xcmd("QLEN", "acks1"); v.num != 1 {
		t.Fatalf("QLEN acks1 = %d, want 1 (only job 5 left)", v.num)
	}
	if v := r.xcmd("SHOW", ids[5]); v.kind != '*' || v.null {
		t.Fatalf("SHOW of the job not acked = %+v", v)
	}
	for i, id := range ids[:5] {
		if v := r.xcmd("SHOW", id); !v.null {
			t.Fatalf("SHOW of acked job %d = %+v, want it gone", i, v)
		}
	}
}

// A consumer's pipeline of blocking GETJOBs on one queue: the jobs there
// are handed out in order, the GETJOBs behind them wait and time out, each
// answered in order.
func TestPipelineBlockingGetjobsTakeWhatIsThere(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	ids := addJobs(r, "bq", 3)
	var b strings.Builder
	for i := 0; i < 5; i++ {
		b.WriteString(xmbulk("GETJOB", "TIMEOUT", "50", "FROM", "bq"))
	}
	r.send(b.String())
	for i := 0; i < 5; i++ {
		v := r.xread()
		if i < 3 {
			if v.kind != '*' || len(v.arr) != 1 || v.arr[0].arr[1].str != ids[i] {
				t.Fatalf("GETJOB %d = %+v, want job %s", i, v, ids[i])
			}
		} else if v.kind != '*' || !v.null {
			t.Fatalf("GETJOB %d = %+v, want a timeout (null)", i, v)
		}
	}
	if v := r.xcmd("QLEN", "bq"); v.num != 0 {
		t.Fatalf("QLEN = %d", v.num)
	}
}

// The first of two pipelined blocking GETJOBs on an empty queue waits and
// gets the job another client adds; the second times out.
func TestPipelineBlockingGetjobWaitsForAJob(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send(xmbulk("GETJOB", "TIMEOUT", "5000", "FROM", "wq") + xmbulk("GETJOB", "TIMEOUT", "50", "FROM", "wq"))
	other := tn.raw(t)
	deadline := time.Now().Add(5 * time.Second)
	for xinfo(t, tn, "blocked_clients") != "1" {
		if time.Now().After(deadline) {
			t.Fatal("the first GETJOB did not block")
		}
		time.Sleep(5 * time.Millisecond)
	}
	id := other.xcmd("ADDJOB", "wq", "late", "0").str
	if v := r.xread(); v.kind != '*' || len(v.arr) != 1 || v.arr[0].arr[1].str != id {
		t.Fatalf("the waiting GETJOB = %+v, want %s", v, id)
	}
	if v := r.xread(); v.kind != '*' || !v.null {
		t.Fatalf("the second GETJOB = %+v, want a timeout", v)
	}
}

// Commands behind a blocking GETJOB run after it returns, never with it:
// an ADDJOB behind a GETJOB that times out adds its job once, and only
// then (the GETJOB does not get it).
func TestPipelineCommandsBehindABlockingGetjobWait(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	r.send(xmbulk("GETJOB", "TIMEOUT", "50", "FROM", "aq") + xmbulk("ADDJOB", "aq", "after", "0") +
		xmbulk("GETJOB", "TIMEOUT", "50", "FROM", "aq") + xmbulk("GETJOB", "NOHANG", "FROM", "other"))
	if v := r.xread(); v.kind != '*' || !v.null {
		t.Fatalf("GETJOB = %+v, want a timeout", v)
	}
	id := r.xread()
	if id.kind != '+' {
		t.Fatalf("ADDJOB = %+v", id)
	}
	if v := r.xread(); v.kind != '*' || len(v.arr) != 1 || v.arr[0].arr[1].str != id.str {
		t.Fatalf("the GETJOB behind the ADDJOB = %+v, want %s", v, id.str)
	}
	if v := r.xread(); v.kind != '*' || !v.null {
		t.Fatalf("GETJOB NOHANG on another queue = %+v", v)
	}
	if v := r.xcmd("QLEN", "aq"); v.num != 0 {
		t.Fatalf("QLEN = %d: the ADDJOB ran twice", v.num)
	}
}

// FASTACKs batch as ACKJOBs do: each answered in order, each job gone.
func TestPipelineFastacksAnswerEachInOrder(t *testing.T) {
	tn := startNode(t)
	r := tn.raw(t)
	ids := addJobs(r, "fq", 3)
	var b strings.Builder
	for _, id := range []string{ids[0], ids[1], ids[0], "D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1", "bad"} {
		b.WriteString(xmbulk("FASTACK", id))
	}
	r.send(b.String())
	readCounts(t, r, 1, 1, 0, 0, -1)
	if v := r.xcmd("QLEN", "fq"); v.num != 1 {
		t.Fatalf("QLEN = %d, want 1", v.num)
	}
	for i, id := range ids {
		if v := r.xcmd("SHOW", id); v.null != (i < 2) {
			t.Fatalf("SHOW of job %d = %+v: want it gone only if fast-acked", i, v)
		}
	}
}

// readCounts reads one integer reply per want, in order; a want of -1 is
// the bad job ID error instead.
func readCounts(t *testing.T, r *raw, want ...int64) {
	t.Helper()
	for i, w := range want {
		v := r.xread()
		if w < 0 {
			if v.kind != '-' || v.str != "BADID Invalid Job ID format." {
				t.Fatalf("reply %d = %+v, want the bad ID error", i, v)
			}
		} else if v.kind != ':' || v.num != w {
			t.Fatalf("reply %d = %+v, want :%d", i, v, w)
		}
	}
}

// addJobs adds n jobs to queue, with bodies "0", "1", ..., and returns
// their IDs.
func addJobs(r *raw, queue string, n int) []string {
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, r.xcmd("ADDJOB", queue, fmt.Sprint(i), "0").str)
	}
	return ids
}
