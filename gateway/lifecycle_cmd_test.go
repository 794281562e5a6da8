package gateway_test

// Black-box tests of the job lifecycle commands through a real client
// against a real node: ACKJOB FASTACK DELJOB NACK ENQUEUE DEQUEUE WORKING
// SHOW (SPEC.md §5.3–5.9, §6, §7), and retry, TTL and delay end to end on
// the real clock. Helpers (prefix jc) are in jobs_cmd_test.go.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Job IDs that fail the shape check of SPEC.md §3, and one that passes it
// without being known.
var (
	jcBadIDs = []string{
		"", "D-", "x", "D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a", // 39 bytes
		"D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a11", // 41 bytes
		"d-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1",  // lower-case d
		"DXdcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1",  // no '-' at 1
		"D-dcb833cfX8YL1NT17e9+wsA/09NqxscQI-05a1",  // no '-' at 10
		"D-dcb833cf-8YL1NT17e9+wsA/09NqxscQIX05a1",  // no '-' at 35
	}
	// Valid shape: only length and the four fixed characters are checked.
	jcUnknownID  = "D-dcb833cf-8YL1NT17e9+wsA/09NqxscQI-05a1"
	jcOddShapeID = "D-????????-########################-zzzz"
)

// jcIntLine reads an integer reply from a raw connection.
func jcIntLine(r *raw) int64 {
	r.t.Helper()
	line := jcLine(r)
	if !strings.HasPrefix(line, ":") {
		r.t.Fatalf("reply %q, want an integer", line)
	}
	n, err := strconv.ParseInt(line[1:], 10, 64)
	if err != nil {
		r.t.Fatalf("reply %q: %v", line, err)
	}
	return n
}

// jcFetch takes the one job of q (NOHANG) and checks it is id.
func jcFetch(t *testing.T, tn *testNode, q, id string) {
	t.Helper()
	got := jcGet(t, tn, "NOHANG", "FROM", q)
	if len(got) != 1 || got[0].id != id {
		t.Fatalf("GETJOB NOHANG FROM %s = %v, want %s", q, got, id)
	}
}

// jcIDListBadID checks that cmd refuses any bad ID among good ones and does
// nothing at all: good stays queued in q.
func jcIDListBadID(t *testing.T, tn *testNode, cmd, q, good string) {
	t.Helper()
	for _, bad := range jcBadIDs {
		jcErr(t, tn, jcErrBadID, cmd, bad)
		jcErr(t, tn, jcErrBadID, cmd, good, bad)
		jcErr(t, tn, jcErrBadID, cmd, bad, good)
		jcErr(t, tn, jcErrBadID, cmd, good, good, bad)
	}
	m := jcShowMust(t, tn, good)
	jcField(t, m, "state", "queued")
	jcField(t, m, "nacks", int64(0))
	jcField(t, m, "additional-deliveries", int64(0))
	if qlen := jcQlen(t, tn, q); qlen != 1 {
		t.Fatalf("%s with a bad ID changed QLEN to %d", cmd, qlen)
	}
	// Raw: the error type on the wire.
	r := tn.raw(t)
	r.send(cmd + " " + good + " x\r\n")
	r.expect("-" + jcErrBadID + "\r\n")
}

// ------------------------------------------------------------ ID checks -----

func TestLifecycleBadIDNothingDone(t *testing.T) {
	tn := startNode(t)
	for _, cmd := range []string{"ACKJOB", "FASTACK", "DELJOB", "NACK", "ENQUEUE", "DEQUEUE"} {
		q := "q-" + cmd
		id := jcAdd(t, tn, q, "b")
		jcIDListBadID(t, tn, cmd, q, id)
		// Zero IDs: nothing, :0.
		r := tn.raw(t)
		r.send(cmd + "\r\n")
		r.expect(":0\r\n")
		// Unknown IDs of a valid shape: counted 0.
		if n := jcInt(t, tn, cmd, jcUnknownID, jcOddShapeID); n != 0 {
			t.Fatalf("%s of unknown IDs = %d, want 0", cmd, n)
		}
	}
	for _, cmd := range []string{"WORKING", "SHOW"} {
		for _, bad := range jcBadIDs {
			jcErr(t, tn, jcErrBadID, cmd, bad)
		}
	}
	jcErr(t, tn, jcErrArityWorking, "WORKING")
	jcErr(t, tn, jcErrArityWorking, "WORKING", jcUnknownID, jcUnknownID)
	jcErr(t, tn, jcErrArityShow, "SHOW")
	jcErr(t, tn, jcErrArityShow, "SHOW", jcUnknownID, jcUnknownID)
	// IDs are case-sensitive: a known ID in another case is unknown.
	id := jcAdd(t, tn, "case", "b")
	if other := strings.ToLower(id[:2]) + id[2:]; other != id {
		jcErr(t, tn, jcErrBadID, "SHOW", other) // 'd-' fails the shape check
	}
	swapped := id[:11] + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, id[11:35]) + id[35:]
	if swapped != id {
		r := tn.raw(t)
		r.send("SHOW " + swapped + "\r\n")
		r.expect("$-1\r\n")
	}
}

// --------------------------------------------------------------- ACKJOB -----

func TestLifecycleAckJob(t *testing.T) {
	tn := startNode(t)
	a, b, c := jcAdd(t, tn, "q", "a"), jcAdd(t, tn, "q", "b"), jcAdd(t, tn, "q", "c")
	r := tn.raw(t)
	r.send("ACKJOB " + a + " " + b + "\r\n")
	r.expect(":2\r\n")
	if qlen := jcQlen(t, tn, "q"); qlen != 1 {
		t.Fatalf("QLEN after ACKJOB of 2 queued jobs = %d, want 1", qlen)
	}
	// On a node alone an acked job is gone at once.
	r.send("SHOW " + a + "\r\n")
	r.expect("$-1\r\n")
	r.send("SHOW " + b + "\r\n")
	r.expect("$-1\r\n")
	// Acking again, unknown IDs, zero IDs: 0.
	r.send("ACKJOB " + a + "\r\n")
	r.expect(":0\r\n")
	r.send("ACKJOB " + a + " " + b + " " + jcUnknownID + "\r\n")
	r.expect(":0\r\n")
	r.send("ACKJOB\r\n")
	r.expect(":0\r\n")
	// The same ID twice in one command counts once.
	r.send("ACKJOB " + c + " " + c + "\r\n")
	r.expect(":1\r\n")
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN = %d, want 0", qlen)
	}
	// A fetched (active) job and a delayed (active, never queued) job.
	f := jcAdd(t, tn, "q", "f")
	jcFetch(t, tn, "q", f)
	d := jcAdd(t, tn, "q", "d", "DELAY", 60)
	// Jobs of different queues in one command.
	x := jcAdd(t, tn, "other", "x")
	if n := jcInt(t, tn, "ACKJOB", f, d, x, jcUnknownID); n != 3 {
		t.Fatalf("ACKJOB active+delayed+other queue = %d, want 3", n)
	}
	for _, id := range []string{f, d, x} {
		if m := jcShow(t, tn, id); m != nil {
			t.Fatalf("SHOW %s after ACKJOB = %v, want nil", id, m)
		}
	}
	if n := jcInfoInt(t, tn, "jobs", "registered_jobs"); n != 0 {
		t.Fatalf("registered_jobs = %d after acking everything, want 0", n)
	}
	// An acked job is not delivered any more.
	if got := jcGet(t, tn, "NOHANG", "FROM", "q", "other"); got != nil {
		t.Fatalf("GETJOB after ACKJOB = %v", got)
	}
	// WORKING on an acked job: NOJOB (DESIGN.md decision; here the job is
	// also gone).
	jcErr(t, tn, jcErrNoJob, "WORKING", f)
}

// -------------------------------------------------------------- FASTACK -----

func TestLifecycleFastAck(t *testing.T) {
	tn := startNode(t)
	a, b := jcAdd(t, tn, "q", "a"), jcAdd(t, tn, "q", "b")
	f := jcAdd(t, tn, "q", "f")
	jcFetch(t, tn, "q", a) // a is active now
	d := jcAdd(t, tn, "q", "d", "DELAY", 60)
	_ = f
	r := tn.raw(t)
	r.send("FASTACK " + a + " " + b + " " + d + " " + jcUnknownID + "\r\n")
	r.expect(":3\r\n")
	for _, id := range []string{a, b, d} {
		r.send("SHOW " + id + "\r\n")
		r.expect("$-1\r\n")
	}
	if qlen := jcQlen(t, tn, "q"); qlen != 1 {
		t.Fatalf("QLEN = %d, want 1", qlen)
	}
	r.send("FASTACK " + a + "\r\n")
	r.expect(":0\r\n")
	r.send("FASTACK\r\n")
	r.expect(":0\r\n")
	r.send("FASTACK " + f + " " + f + "\r\n")
	r.expect(":1\r\n")
	if n := jcInfoInt(t, tn, "jobs", "registered_jobs"); n != 0 {
		t.Fatalf("registered_jobs = %d, want 0", n)
	}
}

// --------------------------------------------------------------- DELJOB -----

func TestLifecycleDelJob(t *testing.T) {
	tn := startNode(t)
	queued := jcAdd(t, tn, "q", "queued")
	active := jcAdd(t, tn, "q", "active")
	jcFetch(t, tn, "q", queued)
	queued, active = active, queued // the first is active now, the second queued
	delayed := jcAdd(t, tn, "q", "delayed", "DELAY", 60)
	once := jcAdd(t, tn, "q", "once", "RETRY", 0)
	if n := jcInfoInt(t, tn, "jobs", "registered_jobs"); n != 4 {
		t.Fatalf("registered_jobs = %d, want 4", n)
	}
	r := tn.raw(t)
	r.send("DELJOB " + queued + " " + active + " " + jcUnknownID + "\r\n")
	r.expect(":2\r\n")
	r.send("DELJOB " + delayed + " " + once + " " + once + "\r\n")
	r.expect(":2\r\n")
	for _, id := range []string{queued, active, delayed, once} {
		r.send("SHOW " + id + "\r\n")
		r.expect("$-1\r\n")
	}
	r.send("DELJOB " + queued + "\r\n")
	r.expect(":0\r\n")
	r.send("DELJOB\r\n")
	r.expect(":0\r\n")
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN = %d, want 0", qlen)
	}
	if n := jcInfoInt(t, tn, "jobs", "registered_jobs"); n != 0 {
		t.Fatalf("registered_jobs = %d, want 0", n)
	}
	if got := jcGet(t, tn, "NOHANG", "FROM", "q"); got != nil {
		t.Fatalf("GETJOB after DELJOB = %v", got)
	}
}

// ----------------------------------------------------------------- NACK -----

func TestLifecycleNack(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b")
	// A queued job is not NACKed.
	if n := jcInt(t, tn, "NACK", id); n != 0 {
		t.Fatalf("NACK of a queued job = %d, want 0", n)
	}
	jcField(t, jcShowMust(t, tn, id), "nacks", int64(0))
	jcFetch(t, tn, "q", id)
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN = %d, want 0", qlen)
	}
	r := tn.raw(t)
	r.send("NACK " + id + "\r\n")
	r.expect(":1\r\n")
	if qlen := jcQlen(t, tn, "q"); qlen != 1 {
		t.Fatalf("QLEN after NACK = %d, want 1", qlen)
	}
	m := jcShowMust(t, tn, id)
	jcField(t, m, "state", "queued")
	jcField(t, m, "nacks", int64(1))
	jcField(t, m, "additional-deliveries", int64(0))
	// Now queued: a second NACK does nothing.
	r.send("NACK " + id + "\r\n")
	r.expect(":0\r\n")
	jcField(t, jcShowMust(t, tn, id), "nacks", int64(1))
	// Fetch and NACK again: 2.
	jcFetch(t, tn, "q", id)
	if n := jcInt(t, tn, "NACK", id, id, jcUnknownID); n != 1 {
		t.Fatalf("NACK id id unknown = %d, want 1", n)
	}
	jcField(t, jcShowMust(t, tn, id), "nacks", int64(2))
	got := jcGet(t, tn, "NOHANG", "WITHCOUNTERS", "FROM", "q")
	if len(got) != 1 || got[0].id != id || fmt.Sprint(got[0].counters) != "[nacks 2 additional-deliveries 0]" {
		t.Fatalf("GETJOB WITHCOUNTERS = %#v", got)
	}
	// Several jobs of several queues at once.
	x := jcAdd(t, tn, "x", "x")
	jcFetch(t, tn, "x", x)
	if n := jcInt(t, tn, "NACK", id, x); n != 2 {
		t.Fatalf("NACK of two active jobs = %d, want 2", n)
	}
	// The NACKed job goes back in ctime order: ahead of a newer job.
	newer := jcAdd(t, tn, "x", "newer")
	got = jcGet(t, tn, "NOHANG", "COUNT", 2, "FROM", "x")
	if len(got) != 2 || got[0].id != x || got[1].id != newer {
		t.Fatalf("GETJOB after NACK = %v, want [x newer]", got)
	}
}

// TestLifecycleNackFirstQueueing: NACK always counts, even when it is the
// first time the job is queued on this node (SPEC.md §5.6), unlike ENQUEUE.
func TestLifecycleNackFirstQueueing(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b", "DELAY", 60)
	jcField(t, jcShowMust(t, tn, id), "state", "active")
	if n := jcInt(t, tn, "NACK", id); n != 1 {
		t.Fatalf("NACK of a delayed job = %d, want 1", n)
	}
	m := jcShowMust(t, tn, id)
	jcField(t, m, "state", "queued")
	jcField(t, m, "nacks", int64(1))
	jcField(t, m, "additional-deliveries", int64(0))
	got := jcGet(t, tn, "NOHANG", "WITHCOUNTERS", "FROM", "q")
	if len(got) != 1 || fmt.Sprint(got[0].counters) != "[nacks 1 additional-deliveries 0]" {
		t.Fatalf("GETJOB WITHCOUNTERS = %#v", got)
	}
	// ENQUEUE of a delayed job: queued, nothing counted.
	e := jcAdd(t, tn, "e", "b", "DELAY", 60)
	if n := jcInt(t, tn, "ENQUEUE", e); n != 1 {
		t.Fatalf("ENQUEUE of a delayed job = %d, want 1", n)
	}
	m = jcShowMust(t, tn, e)
	jcField(t, m, "state", "queued")
	jcField(t, m, "nacks", int64(0))
	jcField(t, m, "additional-deliveries", int64(0))
}

// -------------------------------------------------------------- ENQUEUE -----

func TestLifecycleEnqueue(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b")
	if n := jcInt(t, tn, "ENQUEUE", id); n != 0 {
		t.Fatalf("ENQUEUE of a queued job = %d, want 0", n)
	}
	jcFetch(t, tn, "q", id)
	r := tn.raw(t)
	r.send("ENQUEUE " + id + "\r\n")
	r.expect(":1\r\n")
	m := jcShowMust(t, tn, id)
	jcField(t, m, "state", "queued")
	jcField(t, m, "nacks", int64(0))
	jcField(t, m, "additional-deliveries", int64(1))
	if qlen := jcQlen(t, tn, "q"); qlen != 1 {
		t.Fatalf("QLEN after ENQUEUE = %d, want 1", qlen)
	}
	r.send("ENQUEUE " + id + "\r\n")
	r.expect(":0\r\n")
	got := jcGet(t, tn, "NOHANG", "WITHCOUNTERS", "FROM", "q")
	if len(got) != 1 || fmt.Sprint(got[0].counters) != "[nacks 0 additional-deliveries 1]" {
		t.Fatalf("GETJOB WITHCOUNTERS = %#v", got)
	}
	if n := jcInt(t, tn, "ENQUEUE", id, id); n != 1 {
		t.Fatalf("ENQUEUE id id = %d, want 1", n)
	}
	jcField(t, jcShowMust(t, tn, id), "additional-deliveries", int64(2))
}

// TestLifecycleRetryZeroNotRequeuable: an at-most-once job that was
// delivered cannot be queued again by NACK or ENQUEUE (SPEC.md §5.6, §18.7).
func TestLifecycleRetryZeroNotRequeuable(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b", "RETRY", 0)
	jcFetch(t, tn, "q", id)
	for _, cmd := range []string{"NACK", "ENQUEUE"} {
		if n := jcInt(t, tn, cmd, id); n != 0 {
			t.Fatalf("%s of a delivered RETRY 0 job = %d, want 0", cmd, n)
		}
	}
	m := jcShowMust(t, tn, id)
	jcField(t, m, "state", "active")
	jcField(t, m, "nacks", int64(0))
	jcField(t, m, "next-requeue-within", nil)
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN = %d, want 0", qlen)
	}
	// Queued once, then dequeued (qtime is 0 now): not requeueable either.
	id2 := jcAdd(t, tn, "q2", "b", "RETRY", 0)
	if n := jcInt(t, tn, "DEQUEUE", id2); n != 1 {
		t.Fatalf("DEQUEUE = %d", n)
	}
	for _, cmd := range []string{"ENQUEUE", "NACK"} {
		if n := jcInt(t, tn, cmd, id2); n != 0 {
			t.Fatalf("%s of a RETRY 0 job queued before = %d, want 0", cmd, n)
		}
	}
	// Delayed and never queued: ENQUEUE queues it once.
	id3 := jcAdd(t, tn, "q3", "b", "RETRY", 0, "DELAY", 60)
	if n := jcInt(t, tn, "ENQUEUE", id3); n != 1 {
		t.Fatalf("ENQUEUE of a delayed RETRY 0 job = %d, want 1", n)
	}
	jcFetch(t, tn, "q3", id3)
	if n := jcInt(t, tn, "ENQUEUE", id3); n != 0 {
		t.Fatalf("ENQUEUE of a delivered RETRY 0 job = %d, want 0", n)
	}
}

// -------------------------------------------------------------- DEQUEUE -----

func TestLifecycleDequeue(t *testing.T) {
	tn := startNode(t)
	a, b := jcAdd(t, tn, "q", "a"), jcAdd(t, tn, "q", "b")
	r := tn.raw(t)
	r.send("DEQUEUE " + a + "\r\n")
	r.expect(":1\r\n")
	m := jcShowMust(t, tn, a)
	jcField(t, m, "state", "active")
	if _, ok := m["next-requeue-within"].(int64); !ok {
		t.Fatalf("next-requeue-within after DEQUEUE = %#v, want the unchanged timer", m["next-requeue-within"])
	}
	if qlen := jcQlen(t, tn, "q"); qlen != 1 {
		t.Fatalf("QLEN after DEQUEUE = %d, want 1", qlen)
	}
	r.send("DEQUEUE " + a + "\r\n")
	r.expect(":0\r\n")
	r.send("DEQUEUE " + a + " " + b + " " + b + " " + jcUnknownID + "\r\n")
	r.expect(":1\r\n")
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN = %d, want 0", qlen)
	}
	if got := jcGet(t, tn, "NOHANG", "FROM", "q"); got != nil {
		t.Fatalf("GETJOB after DEQUEUE = %v", got)
	}
	// A dequeued job can be queued again; no counter moves for DEQUEUE.
	if n := jcInt(t, tn, "ENQUEUE", a); n != 1 {
		t.Fatalf("ENQUEUE after DEQUEUE = %d", n)
	}
	jcField(t, jcShowMust(t, tn, a), "nacks", int64(0))
	// A fetched job is not queued: DEQUEUE 0.
	jcFetch(t, tn, "q", a)
	if n := jcInt(t, tn, "DEQUEUE", a); n != 0 {
		t.Fatalf("DEQUEUE of a fetched job = %d, want 0", n)
	}
}

// -------------------------------------------------------------- WORKING -----

func TestLifecycleWorking(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b", "RETRY", 7)
	r := tn.raw(t)
	// On a queued job: answers the retry, takes it out of the queue.
	r.send("WORKING " + id + "\r\n")
	r.expect(":7\r\n")
	jcField(t, jcShowMust(t, tn, id), "state", "active")
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN after WORKING = %d, want 0", qlen)
	}
	// On an active job, repeatedly.
	for i := 0; i < 3; i++ {
		r.send("WORKING " + id + "\r\n")
		r.expect(":7\r\n")
	}
	if nr, ok := jcShowMust(t, tn, id)["next-requeue-within"].(int64); !ok || nr < 6000 || nr > 7250 {
		t.Fatalf("next-requeue-within after WORKING = %v, want about 7000", nr)
	}
	// Default retry.
	def := jcAdd(t, tn, "q", "b")
	jcFetch(t, tn, "q", def)
	if n := jcInt(t, tn, "WORKING", def); n != 300 {
		t.Fatalf("WORKING with the default retry = %d, want 300", n)
	}
	// RETRY 0: answers 0.
	once := jcAdd(t, tn, "q", "b", "RETRY", 0)
	jcFetch(t, tn, "q", once)
	if n := jcInt(t, tn, "WORKING", once); n != 0 {
		t.Fatalf("WORKING of a RETRY 0 job = %d, want 0", n)
	}
	// Unknown: NOJOB (error type on the wire).
	r.send("WORKING " + jcUnknownID + "\r\n")
	r.expect("-" + jcErrNoJob + "\r\n")
	// Acked: NOJOB (DESIGN.md decision).
	jcMust(t, tn, "ACKJOB", id)
	r.send("WORKING " + id + "\r\n")
	r.expect("-" + jcErrNoJob + "\r\n")
	// Deleted: NOJOB.
	jcMust(t, tn, "DELJOB", def)
	jcErr(t, tn, jcErrNoJob, "WORKING", def)
	r.send("WORKING nope\r\n")
	r.expect("-" + jcErrBadID + "\r\n")
}

// TestLifecycleWorkingPostpones: WORKING moves the next requeue to now +
// retry.
func TestLifecycleWorkingPostpones(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b", "RETRY", 60, "TTL", 3600)
	jcFetch(t, tn, "q", id)
	time.Sleep(1200 * time.Millisecond)
	before := jcShowMust(t, tn, id)["next-requeue-within"].(int64)
	if n := jcInt(t, tn, "WORKING", id); n != 60 {
		t.Fatalf("WORKING = %d, want 60", n)
	}
	after := jcShowMust(t, tn, id)["next-requeue-within"].(int64)
	if after <= before+500 {
		t.Fatalf("next-requeue-within %d -> %d after WORKING 1.2 s later, want it postponed", before, after)
	}
}

// TestLifecycleWorkingKeepsJob: a consumer that keeps calling WORKING keeps
// the job; when it stops, the job comes back.
func TestLifecycleWorkingKeepsJob(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	// RETRY 3, WORKING every 300 ms for 4 s: never requeued.
	k := jcAdd(t, tn, "k", "b", "RETRY", 3, "TTL", 600)
	jcFetch(t, tn, "k", k)
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if n := jcInt(t, tn, "WORKING", k); n != 3 {
			t.Fatalf("WORKING = %d, want 3", n)
		}
		if qlen := jcQlen(t, tn, "k"); qlen != 0 {
			t.Fatalf("job requeued although WORKING was sent every 300 ms (RETRY 3)")
		}
	}
	// Stop: it comes back.
	jcWait(t, 10*time.Second, "the job to be requeued after WORKING stopped", func() bool {
		return jcQlen(t, tn, "k") == 1
	})
	jcField(t, jcShowMust(t, tn, k), "additional-deliveries", int64(1))
}

func TestLifecycleWorkingTooLate(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b", "TTL", 2)
	if n := jcInt(t, tn, "WORKING", id); n != 1 {
		t.Fatalf("WORKING early = %d, want 1 (default retry for TTL 2)", n)
	}
	time.Sleep(1200 * time.Millisecond)
	r := tn.raw(t)
	r.send("WORKING " + id + "\r\n")
	r.expect("-" + jcErrTooLate + "\r\n")
}

// ----------------------------------------------------------------- SHOW -----

// jcShowPrefix checks the fixed head of a SHOW reply byte for byte, up to
// and including the name of the ttl field.
func jcShowPrefix(r *raw, id, q, state string, repl int) {
	r.t.Helper()
	r.expect("*30\r\n" + jcBulk("id") + jcBulk(id) + jcBulk("queue") + jcBulk(q) +
		jcBulk("state") + jcBulk(state) + jcBulk("repl") + fmt.Sprintf(":%d\r\n", repl) + jcBulk("ttl"))
}

func TestLifecycleShowRaw(t *testing.T) {
	tn := startNode(t)
	myid := jcMyID(t, tn)
	r := tn.raw(t)

	// A queued job with retry: every field, byte for byte where predictable.
	t0 := time.Now().UnixMilli()
	id := jcAdd(t, tn, "q", "the body", "RETRY", 7, "TTL", 100)
	t1 := time.Now().UnixMilli()
	r.send("SHOW " + id + "\r\n")
	jcShowPrefix(r, id, "q", "queued", 1)
	if ttl := jcIntLine(r); ttl < 95 || ttl > 100 {
		t.Fatalf("ttl = %d, want about 100", ttl)
	}
	r.expect(jcBulk("ctime"))
	if ct := jcIntLine(r); ct < t0*1_000_000 || ct >= (t1+1)*1_000_000 {
		t.Fatalf("ctime = %d, want ms*1e6 between %d and %d ms", ct, t0, t1)
	}
	r.expect(jcBulk("delay") + ":0\r\n" + jcBulk("retry") + ":7\r\n" + jcBulk("nacks") + ":0\r\n" +
		jcBulk("additional-deliveries") + ":0\r\n" +
		jcBulk("nodes-delivered") + "*1\r\n" + jcBulk(myid) +
		jcBulk("nodes-confirmed") + "*0\r\n" +
		jcBulk("next-requeue-within"))
	if nr := jcIntLine(r); nr < 5000 || nr > 7250 {
		t.Fatalf("next-requeue-within = %d, want about 7000", nr)
	}
	r.expect(jcBulk("next-awake-within"))
	if na := jcIntLine(r); na < 0 || na > 7250 {
		t.Fatalf("next-awake-within = %d, want at most the requeue time", na)
	}
	r.expect(jcBulk("body") + jcBulk("the body"))

	// A delivered RETRY 0 job: never requeued, next-requeue-within is $-1.
	once := jcAdd(t, tn, "q2", "", "RETRY", 0, "TTL", 50, "REPLICATE", 1)
	jcFetch(t, tn, "q2", once)
	r.send("SHOW " + once + "\r\n")
	jcShowPrefix(r, once, "q2", "active", 1)
	if ttl := jcIntLine(r); ttl < 45 || ttl > 50 {
		t.Fatalf("ttl = %d, want about 50", ttl)
	}
	r.expect(jcBulk("ctime"))
	jcIntLine(r)
	r.expect(jcBulk("delay") + ":0\r\n" + jcBulk("retry") + ":0\r\n" + jcBulk("nacks") + ":0\r\n" +
		jcBulk("additional-deliveries") + ":0\r\n" +
		jcBulk("nodes-delivered") + "*1\r\n" + jcBulk(myid) +
		jcBulk("nodes-confirmed") + "*0\r\n" +
		jcBulk("next-requeue-within") + "$-1\r\n" +
		jcBulk("next-awake-within"))
	if na := jcIntLine(r); na < 0 || na > 51000 {
		t.Fatalf("next-awake-within = %d, want at most the expiry", na)
	}
	r.expect(jcBulk("body") + "$0\r\n\r\n")

	// A delayed job.
	d := jcAdd(t, tn, "q3", "d", "DELAY", 30, "RETRY", 5)
	r.send("SHOW " + d + "\r\n")
	jcShowPrefix(r, d, "q3", "active", 1)
	jcIntLine(r)
	r.expect(jcBulk("ctime"))
	jcIntLine(r)
	r.expect(jcBulk("delay") + ":30\r\n" + jcBulk("retry") + ":5\r\n" + jcBulk("nacks") + ":0\r\n" +
		jcBulk("additional-deliveries") + ":0\r\n" +
		jcBulk("nodes-delivered") + "*1\r\n" + jcBulk(myid) +
		jcBulk("nodes-confirmed") + "*0\r\n" +
		jcBulk("next-requeue-within"))
	if nr := jcIntLine(r); nr < 25000 || nr > 30000 {
		t.Fatalf("next-requeue-within of a job delayed 30 s = %d", nr)
	}
	r.expect(jcBulk("next-awake-within"))
	jcIntLine(r)
	r.expect(jcBulk("body") + jcBulk("d"))

	// Unknown: null bulk (not a null multibulk).
	r.send("SHOW " + jcUnknownID + "\r\n")
	r.expect("$-1\r\n")
	r.send("SHOW " + jcOddShapeID + "\r\n")
	r.expect("$-1\r\n")
	r.send("SHOW nope\r\n")
	r.expect("-" + jcErrBadID + "\r\n")

	// ctimes of a node are unique and increasing.
	var last int64
	for i := 0; i < 20; i++ {
		ct := jcShowMust(t, tn, jcAdd(t, tn, "ct", "x"))["ctime"].(int64)
		if ct <= last {
			t.Fatalf("ctime %d not greater than the previous %d", ct, last)
		}
		last = ct
	}
}

// ------------------------------------------------ Retry, TTL, delay: e2e -----

func TestLifecycleRetryRequeues(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b", "RETRY", 1, "TTL", 60)
	jcFetch(t, tn, "q", id)
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN after GETJOB = %d", qlen)
	}
	jcWait(t, 8*time.Second, "a fetched RETRY 1 job to be requeued", func() bool {
		return jcQlen(t, tn, "q") == 1
	})
	m := jcShowMust(t, tn, id)
	jcField(t, m, "state", "queued")
	jcField(t, m, "additional-deliveries", int64(1))
	jcField(t, m, "nacks", int64(0))
	got := jcGet(t, tn, "NOHANG", "WITHCOUNTERS", "FROM", "q")
	if len(got) != 1 || got[0].id != id || fmt.Sprint(got[0].counters) != "[nacks 0 additional-deliveries 1]" {
		t.Fatalf("GETJOB WITHCOUNTERS after requeue = %#v", got)
	}
	// A job DEQUEUEd keeps its timer and comes back too.
	dq := jcAdd(t, tn, "dq", "b", "RETRY", 1, "TTL", 60)
	if n := jcInt(t, tn, "DEQUEUE", dq); n != 1 {
		t.Fatalf("DEQUEUE = %d", n)
	}
	jcWait(t, 8*time.Second, "a DEQUEUEd RETRY 1 job to be requeued", func() bool {
		return jcQlen(t, tn, "dq") == 1
	})
	// An acked job never comes back.
	ack := jcAdd(t, tn, "ack", "b", "RETRY", 1, "TTL", 60)
	jcFetch(t, tn, "ack", ack)
	jcMust(t, tn, "ACKJOB", ack)
	time.Sleep(2 * time.Second)
	if qlen := jcQlen(t, tn, "ack"); qlen != 0 {
		t.Fatalf("acked RETRY 1 job requeued: QLEN %d", qlen)
	}
}

func TestLifecycleRetryZeroNeverBack(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b", "RETRY", 0, "TTL", 60)
	jcFetch(t, tn, "q", id)
	time.Sleep(2500 * time.Millisecond)
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("RETRY 0 job came back: QLEN %d", qlen)
	}
	m := jcShowMust(t, tn, id)
	jcField(t, m, "state", "active")
	jcField(t, m, "additional-deliveries", int64(0))
	jcField(t, m, "next-requeue-within", nil)
	if got := jcGet(t, tn, "NOHANG", "FROM", "q"); got != nil {
		t.Fatalf("GETJOB = %v", got)
	}
	// A RETRY 0 job that stays queued stays queued (nothing re-delivers it).
	q := jcAdd(t, tn, "q2", "b", "RETRY", 0, "TTL", 60)
	time.Sleep(1200 * time.Millisecond)
	if qlen := jcQlen(t, tn, "q2"); qlen != 1 {
		t.Fatalf("QLEN q2 = %d, want 1", qlen)
	}
	jcFetch(t, tn, "q2", q)
}

func TestLifecycleTTLExpires(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	queued := jcAdd(t, tn, "q", "b", "TTL", 1)
	active := jcAdd(t, tn, "q", "c", "TTL", 1)
	jcFetch(t, tn, "q", queued)
	queued, active = active, queued
	delayed := jcAdd(t, tn, "d", "d", "TTL", 2, "DELAY", 1, "RETRY", 0)
	keep := jcAdd(t, tn, "keep", "k", "TTL", 600)
	if n := jcInfoInt(t, tn, "jobs", "registered_jobs"); n != 4 {
		t.Fatalf("registered_jobs = %d, want 4", n)
	}
	for _, id := range []string{queued, active, delayed} {
		jcWait(t, 8*time.Second, "job "+id+" to expire", func() bool {
			return jcShow(t, tn, id) == nil
		})
	}
	r := tn.raw(t)
	r.send("SHOW " + queued + "\r\n")
	r.expect("$-1\r\n")
	if n := jcInfoInt(t, tn, "jobs", "registered_jobs"); n != 1 {
		t.Fatalf("registered_jobs after expiry = %d, want 1", n)
	}
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN after expiry = %d, want 0", qlen)
	}
	if got := jcGet(t, tn, "NOHANG", "FROM", "q", "d"); got != nil {
		t.Fatalf("GETJOB after expiry = %v", got)
	}
	jcErr(t, tn, jcErrNoJob, "WORKING", queued)
	if n := jcInt(t, tn, "ACKJOB", active); n != 0 {
		t.Fatalf("ACKJOB of an expired job = %d", n)
	}
	jcMust(t, tn, "DELJOB", keep)
	if n := jcInfoInt(t, tn, "jobs", "registered_jobs"); n != 0 {
		t.Fatalf("registered_jobs = %d, want 0", n)
	}
}

func TestLifecycleDelay(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	start := time.Now()
	id := jcAdd(t, tn, "q", "b", "DELAY", 1, "TTL", 60)
	if qlen := jcQlen(t, tn, "q"); qlen != 0 {
		t.Fatalf("QLEN right after a DELAY 1 job = %d, want 0", qlen)
	}
	if got := jcGet(t, tn, "NOHANG", "FROM", "q"); got != nil {
		t.Fatalf("GETJOB NOHANG right after a DELAY 1 job = %v", got)
	}
	jcField(t, jcShowMust(t, tn, id), "state", "active")
	jcWait(t, 8*time.Second, "the DELAY 1 job to be queued", func() bool {
		return jcQlen(t, tn, "q") == 1
	})
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("DELAY 1 job queued after %v", d)
	}
	m := jcShowMust(t, tn, id)
	jcField(t, m, "state", "queued")
	jcField(t, m, "additional-deliveries", int64(0))
	jcFetch(t, tn, "q", id)

	// A blocked GETJOB gets a delayed job when it is queued.
	r := tn.raw(t)
	r.send("GETJOB TIMEOUT 20000 FROM wait\r\n")
	jcWaitBlocked(t, tn, "wait", 1)
	start = time.Now()
	w := jcAdd(t, tn, "wait", "later", "DELAY", 1)
	r.expect("*1\r\n" + jcTriple("wait", w, "later"))
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("blocked GETJOB got a DELAY 1 job after %v", d)
	}
}

// ------------------------------------------------------------- Counters -----

func TestLifecycleCounters(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b")
	counters := func() string {
		t.Helper()
		got := jcGet(t, tn, "NOHANG", "WITHCOUNTERS", "FROM", "q")
		if len(got) != 1 || got[0].id != id {
			t.Fatalf("GETJOB WITHCOUNTERS = %#v", got)
		}
		return fmt.Sprint(got[0].counters)
	}
	if c := counters(); c != "[nacks 0 additional-deliveries 0]" {
		t.Fatalf("first delivery counters %s", c)
	}
	jcMust(t, tn, "NACK", id)
	if c := counters(); c != "[nacks 1 additional-deliveries 0]" {
		t.Fatalf("after NACK: %s", c)
	}
	jcMust(t, tn, "ENQUEUE", id)
	if c := counters(); c != "[nacks 1 additional-deliveries 1]" {
		t.Fatalf("after ENQUEUE: %s", c)
	}
	jcMust(t, tn, "NACK", id)
	jcMust(t, tn, "NACK", id) // already queued: not counted
	if c := counters(); c != "[nacks 2 additional-deliveries 1]" {
		t.Fatalf("after NACK NACK: %s", c)
	}
	jcMust(t, tn, "ENQUEUE", id)
	jcMust(t, tn, "DEQUEUE", id)
	jcMust(t, tn, "ENQUEUE", id) // queued again: counts again
	if c := counters(); c != "[nacks 2 additional-deliveries 3]" {
		t.Fatalf("after ENQUEUE DEQUEUE ENQUEUE: %s", c)
	}
	m := jcShowMust(t, tn, id)
	jcField(t, m, "nacks", int64(2))
	jcField(t, m, "additional-deliveries", int64(3))
}

// TestLifecycleDelayPausedIn: a delayed job with retry > 0 whose queue is
// paused in input is not queued when its time comes (it is postponed by
// another retry period); a retry-0 one is queued anyway (SPEC.md §5.15, §7).
func TestLifecycleDelayPausedIn(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	postponed := jcAdd(t, tn, "q", "p", "DELAY", 1, "RETRY", 2, "TTL", 60)
	once := jcAdd(t, tn, "q", "o", "DELAY", 1, "RETRY", 0, "TTL", 60)
	if v := jcMust(t, tn, "PAUSE", "q", "in"); v != "in" {
		t.Fatalf("PAUSE q in = %#v", v)
	}
	jcWait(t, 8*time.Second, "the delayed RETRY 0 job to be queued", func() bool {
		return jcQlen(t, tn, "q") >= 1
	})
	jcField(t, jcShowMust(t, tn, once), "state", "queued")
	jcField(t, jcShowMust(t, tn, postponed), "state", "active")
	jcMust(t, tn, "PAUSE", "q", "none")
	jcWait(t, 10*time.Second, "the postponed job to be queued after the pause", func() bool {
		return jcQlen(t, tn, "q") == 2
	})
	jcField(t, jcShowMust(t, tn, postponed), "state", "queued")
}

// TestLifecycleRequeueWakesBlocked: NACK, ENQUEUE and the retry timer queue
// the job like ADDJOB does, so a client blocked on the queue gets it, with
// its counters.
func TestLifecycleRequeueWakesBlocked(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	withCounters := func(q, id string, nacks, adds int) string {
		return "*1\r\n*7\r\n" + jcBulk(q) + jcBulk(id) + jcBulk("b") +
			jcBulk("nacks") + fmt.Sprintf(":%d\r\n", nacks) +
			jcBulk("additional-deliveries") + fmt.Sprintf(":%d\r\n", adds)
	}
	id := jcAdd(t, tn, "q", "b", "RETRY", 60, "TTL", 600)
	jcFetch(t, tn, "q", id)
	r := tn.raw(t)
	// NACK.
	r.send("GETJOB WITHCOUNTERS FROM q\r\n")
	jcWaitBlocked(t, tn, "q", 1)
	if n := jcInt(t, tn, "NACK", id); n != 1 {
		t.Fatalf("NACK = %d", n)
	}
	r.expect(withCounters("q", id, 1, 0))
	// ENQUEUE.
	r.send("GETJOB WITHCOUNTERS FROM q\r\n")
	jcWaitBlocked(t, tn, "q", 1)
	if n := jcInt(t, tn, "ENQUEUE", id); n != 1 {
		t.Fatalf("ENQUEUE = %d", n)
	}
	r.expect(withCounters("q", id, 1, 1))
	// The retry timer (1 s).
	tid := jcAdd(t, tn, "t", "b", "RETRY", 1, "TTL", 60)
	jcFetch(t, tn, "t", tid)
	r.send("GETJOB WITHCOUNTERS FROM t\r\n")
	r.expect(withCounters("t", tid, 0, 1))
}

// TestLifecycleDeliveryKeepsRequeueTime: a job requeues retry seconds after
// it was last queued, not after it was delivered (SPEC.md §5.2).
func TestLifecycleDeliveryKeepsRequeueTime(t *testing.T) {
	t.Parallel()
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b", "RETRY", 4, "TTL", 60)
	time.Sleep(1200 * time.Millisecond)
	jcFetch(t, tn, "q", id)
	nr, ok := jcShowMust(t, tn, id)["next-requeue-within"].(int64)
	if !ok || nr > 3400 {
		t.Fatalf("next-requeue-within after a delivery 1.2 s after queueing = %#v, want at most ~3050 (not reset)", nr)
	}
}

// TestLifecycleGetJobPausedIn: paused in input still serves GETJOB.
func TestLifecycleGetJobPausedIn(t *testing.T) {
	tn := startNode(t)
	id := jcAdd(t, tn, "q", "b")
	jcMust(t, tn, "PAUSE", "q", "in")
	jcFetch(t, tn, "q", id)
	// NACK and ENQUEUE of a job of a paused-in queue still queue it (only
	// ADDJOB, REPLJOB and the bus ENQUEUE are refused, SPEC.md §5.15).
	if n := jcInt(t, tn, "NACK", id); n != 1 {
		t.Fatalf("NACK on a paused-in queue = %d, want 1", n)
	}
	jcFetch(t, tn, "q", id)
}
